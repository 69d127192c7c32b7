"""``blufio shell`` as a user runs it: a subprocess, piped stdin, the fake Messages API."""

import os
import signal
import sqlite3
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT
from tests.fakes.anthropic_server import (FakeAnthropic, http_error, stalled, text_reply,
                                          tool_use_reply, wait_for)


@pytest.fixture
def fake():
    with FakeAnthropic(api_key="sk-test") as server:
        yield server


@pytest.fixture
def env(fake):
    return {"ANTHROPIC_BASE_URL": fake.base_url, "ANTHROPIC_API_KEY": "sk-test"}


def db(data_dir):
    conn = sqlite3.connect(os.path.join(str(data_dir), "blufio.db"))
    conn.row_factory = sqlite3.Row
    return conn


def test_piped_line_prints_the_reply_and_the_ledger_has_a_row(blufio, fake, env, data_dir):
    fake.add(text_reply("Hello, human."))
    result = blufio("shell", input="hi\n", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Hello, human.\n"
    assert result.stderr == ""
    with db(data_dir) as conn:
        assert conn.execute("SELECT count(*) FROM cost_ledger").fetchone()[0] == 1
        assert [r["role"] for r in conn.execute("SELECT role FROM messages ORDER BY id")] == \
            ["user", "assistant"]


def test_each_line_is_one_message_in_one_session(blufio, fake, env):
    result = blufio("shell", input="one\n\ntwo\n", env=env)
    assert result.stdout == "echo: one\necho: two\n"
    assert [m["role"] for m in fake.message_requests[-1].json["messages"]] == \
        ["user", "assistant", "user"]


def test_a_tool_turn_runs_the_tool_and_prints_the_final_answer(blufio, fake, env, data_dir):
    fake.add(tool_use_reply("current_time", {"timezone": "UTC"}, text="Let me check."),
             text_reply("It is tea time."))
    result = blufio("shell", input="what time is it?\n", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Let me check.\n\nIt is tea time.\n"
    tool_result = fake.message_requests[1].json["messages"][-1]["content"][0]
    assert tool_result["type"] == "tool_result" and tool_result["content"].startswith("UTC: ")
    with db(data_dir) as conn:
        assert conn.execute("SELECT count(*) FROM cost_ledger").fetchone()[0] == 2


def test_overloaded_twice_then_success_gives_one_reply(blufio, fake, env):
    fake.add(http_error(529, retry_after_ms=20), http_error(529, retry_after=0),
             text_reply("made it"))
    result = blufio("shell", input="hi\n", env=env)
    assert (result.returncode, result.stdout, result.stderr) == (0, "made it\n", "")
    assert len(fake.message_requests) == 3


def test_upstream_always_failing_is_one_error_line_and_exit_1(blufio, fake, env):
    fake.default = http_error(500, "api_error", "Internal server error")
    result = blufio("shell", input="hi\n", env=env)
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("blufio: error: ") and "Internal server error" in lines[0]
    assert "Traceback" not in result.stderr


def test_spent_budget_refuses_without_a_provider_call(blufio, fake, env):
    assert blufio("shell", input="spend\n", env=env).returncode == 0
    calls = len(fake.message_requests)
    result = blufio("shell", input="more\n",
                    env={**env, "BLUFIO_COST__DAILY_BUDGET_USD": "0.0001"})
    assert result.returncode == 1 and result.stdout == ""
    assert "daily budget" in result.stderr and len(result.stderr.splitlines()) == 1
    assert len(fake.message_requests) == calls


def test_no_api_key_names_the_three_ways(blufio, fake):
    result = blufio("shell", input="hi\n", env={"ANTHROPIC_BASE_URL": fake.base_url})
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1
    for way in ("ANTHROPIC_API_KEY", "blufio config set-secret anthropic.api_key", "[anthropic]"):
        assert way in result.stderr
    assert fake.message_requests == []


def test_wrong_key_shows_the_upstream_message(blufio, fake, env):
    result = blufio("shell", input="hi\n", env={**env, "ANTHROPIC_API_KEY": "sk-nope"})
    assert result.returncode == 1
    assert "invalid x-api-key" in result.stderr and "sk-nope" not in result.stderr
    assert len(fake.message_requests) == 1


def test_session_resumes_with_its_history(blufio, fake, env, data_dir):
    blufio("shell", input="first\n", env=env)
    with db(data_dir) as conn:
        session_id = conn.execute("SELECT id FROM sessions").fetchone()[0]
    result = blufio("shell", "--session", session_id, input="second\n", env=env)
    assert result.stdout == "echo: second\n"
    sent = fake.message_requests[-1].json["messages"]
    assert [m["content"][0]["text"] for m in sent] == ["first", "echo: first", "second"]


def test_unknown_session_is_one_error_line(blufio, env):
    result = blufio("shell", "--session", "nope", input="hi\n", env=env)
    assert result.returncode == 1 and "no session with id nope" in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_slash_commands_in_a_script(blufio, fake, env):
    result = blufio("shell", input="hello\n/cost\n/new\n/sessions\n/bogus\n/quit\nignored\n",
                    env=env)
    assert result.returncode == 0
    assert result.stdout == "echo: hello\n"  # only replies on stdout
    assert "today $" in result.stderr and "new session" in result.stderr
    assert "unknown command /bogus" in result.stderr
    assert len(fake.message_requests) == 1


@pytest.mark.slow  # waits out real time
def test_kill_9_mid_turn_then_restart_answers_once(fake, env, data_dir):
    fake.add(stalled("Partial", seconds=60))
    environ = dict(os.environ, **env, PYTHONPATH=REPO_ROOT)
    command = [sys.executable, "-m", "blufio", "shell"]
    first = subprocess.Popen(command, env=environ, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first.stdin.write("remember me\n")
    first.stdin.flush()
    assert wait_for(lambda: len(fake.message_requests) == 1, timeout=20)
    os.kill(first.pid, signal.SIGKILL)
    first.communicate(timeout=10)

    second = subprocess.run(command, env=environ, input="", capture_output=True, text=True,
                            timeout=60)
    assert second.returncode == 0, second.stderr
    assert second.stdout == "echo: remember me\n"
    third = subprocess.run(command, env=environ, input="", capture_output=True, text=True,
                           timeout=60)
    assert third.stdout == ""
    assert len(fake.message_requests) == 2
    with db(data_dir) as conn:
        rows = [(r["role"], r["content"]) for r in
                conn.execute("SELECT role, content FROM messages ORDER BY id")]
        assert [role for role, _ in rows] == ["user", "assistant"]
        assert "Partial" not in rows[1][1]
        assert conn.execute("SELECT status FROM inbound").fetchall()[0][0] == "done"


def test_cli_usage_lists_shell(blufio):
    assert "blufio [options] shell [--session ID]" in blufio("--help").stdout


def test_remember_saves_a_memory_that_recall_and_the_next_session_find(blufio, fake, env):
    result = blufio("shell", input="/remember my locker code is 4471\n/remember\n"
                    "/recall locker\n/recall\n/recall zebra\n", env=env)
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()  # piped: command output goes to stderr
    assert lines[0] == "saved mem_1"
    assert lines[1].startswith("not saved: a memory needs some text")
    assert lines[2].startswith("mem_1 [") and lines[2].endswith(
        "saved memory] my locker code is 4471")
    assert lines[3:] == ["usage: /recall QUERY", "nothing found for 'zebra'"]

    blufio("shell", input="what is my locker code?\n", env=env)
    system = [b["text"] for b in fake.message_requests[-1].json["system"]]
    assert any("saved memory] my locker code is 4471" in text for text in system)
