"""``blufio serve`` as a user runs it: a real process, real signals, Anthropic's SDK."""

import signal
import sqlite3
import threading
import time

import anthropic
import httpx
import pytest

from tests.fakes.anthropic_server import FakeResponse, Stall, message_events

TOKEN = "serve-test-token"


def test_serve_answers_the_sdk_and_lists_the_session_then_exits_cleanly(serve):
    served = serve()
    sdk = anthropic.Anthropic(base_url=served.url, api_key=TOKEN, max_retries=0)
    reply = sdk.messages.create(model="m", max_tokens=20, messages=[{"role": "user", "content": "hi"}])
    assert reply.content[0].text == "echo: hi"
    with sdk.messages.stream(model="m", max_tokens=20,
                             messages=[{"role": "user", "content": "yo"}]) as stream:
        assert "".join(stream.text_stream) == "echo: yo"
    sessions = httpx.get(f"{served.url}/v1/sessions", headers={"x-api-key": TOKEN}).json()
    assert sessions["total"] == 2
    assert served.stop() == 0
    for plugin in ("gateway", "sqlite", "anthropic"):
        assert f"{plugin}: started" in served.stderr
    assert "telegram: disabled" in served.stderr
    assert TOKEN not in served.stderr and "sk-ant-x" not in served.stderr


def slow_stream_started(served, fake_anthropic, text):
    """Start a streamed turn whose reply ``text`` stalls for 1 s after its first delta;
    return ``(reader thread, received chunks)`` once that first delta has arrived."""
    parts = message_events([{"type": "text", "text": text}], chunk_size=6)
    fake_anthropic.add(FakeResponse(headers={"request-id": "req_up"},
                                    parts=[*parts[:4], Stall(1.0), *parts[4:]], stream=True))
    sdk = anthropic.Anthropic(base_url=served.url, api_key=TOKEN, max_retries=0)
    received, first_delta = [], threading.Event()

    def stream():
        with sdk.messages.stream(model="m", max_tokens=20,
                                 messages=[{"role": "user", "content": "slow"}]) as s:
            for chunk in s.text_stream:
                received.append(chunk)
                first_delta.set()

    reader = threading.Thread(target=stream)
    reader.start()
    assert first_delta.wait(10)
    return reader, received


def test_sigterm_during_a_stream_finishes_it_and_loses_nothing(serve, fake_anthropic, data_dir):
    served = serve()
    reader, received = slow_stream_started(served, fake_anthropic, "a reply that takes a while")
    started = time.monotonic()
    assert served.stop() == 0
    assert time.monotonic() - started < 30
    reader.join(10)
    assert "".join(received) == "a reply that takes a while"
    db = sqlite3.connect(data_dir / "blufio.db")
    assert db.execute("SELECT status FROM inbound").fetchall() == [("done",)]
    assert db.execute("SELECT count(*) FROM messages").fetchone()[0] == 2


def test_without_a_provider_key_serve_starts_and_turns_name_the_missing_key(serve, fake_anthropic):
    served = serve(ANTHROPIC_API_KEY=None)
    assert httpx.get(f"{served.url}/v1/health").status_code == 200
    sdk = anthropic.Anthropic(base_url=served.url, api_key=TOKEN, max_retries=0)
    with pytest.raises(anthropic.APIStatusError) as caught:
        sdk.messages.create(model="m", max_tokens=5, messages=[{"role": "user", "content": "hi"}])
    assert "ANTHROPIC_API_KEY" in caught.value.message
    assert caught.value.response.headers["x-should-retry"] == "false"
    assert fake_anthropic.message_requests == []
    assert served.stop() == 0
    assert "anthropic: not-configured" in served.stderr
    assert "anthropic: started" not in served.stderr  # it said why it is not ready, once


def test_serve_with_no_channel_enabled_is_a_config_error(blufio):
    result = blufio("serve", env={"BLUFIO_PLUGINS__GATEWAY": "false",
                                  "BLUFIO_PLUGINS__TELEGRAM": "false"})
    assert result.returncode == 2
    assert "no channel is enabled" in result.stderr and "Traceback" not in result.stderr


def test_with_no_channel_and_no_telegram_token_serve_asks_for_the_token(blufio):
    result = blufio("serve", env={"BLUFIO_PLUGINS__GATEWAY": "false"})
    assert result.returncode == 2
    assert "telegram.bot_token is not set" in result.stderr
    assert "plugin install" not in result.stderr


def test_sigterm_leaves_no_task_pending_in_asyncio_debug_mode(serve, fake_anthropic):
    served = serve(PYTHONASYNCIODEBUG="1", PYTHONDEVMODE="1")
    sdk = anthropic.Anthropic(base_url=served.url, api_key=TOKEN, max_retries=0)
    assert sdk.messages.create(model="m", max_tokens=20,
                               messages=[{"role": "user", "content": "hi"}]).content
    assert served.stop() == 0
    for symptom in ("Task was destroyed but it is pending", "was never awaited",
                    "Unclosed", "unclosed"):
        assert symptom not in served.stderr, served.stderr


def test_a_second_serve_on_the_same_data_directory_refuses_naming_the_first(
        serve, blufio, fake_anthropic, data_dir):
    served = serve()
    second = blufio("serve", env={"ANTHROPIC_BASE_URL": fake_anthropic.base_url,
                                  "ANTHROPIC_API_KEY": "sk-ant-x", "BLUFIO_GATEWAY__PORT": "0",
                                  "BLUFIO_GATEWAY__BEARER_TOKEN": TOKEN,
                                  "BLUFIO_PLUGINS__TELEGRAM": "false"}, timeout=30)
    assert second.returncode == 1
    assert second.stderr.count("\n") == 1, second.stderr
    assert f"pid {served.process.pid}" in second.stderr and str(data_dir) in second.stderr
    assert second.stdout == ""  # it never listened
    # a shell beside the running serve keeps working
    shell = blufio("shell", input="beside\n", env={"ANTHROPIC_BASE_URL": fake_anthropic.base_url,
                                                   "ANTHROPIC_API_KEY": "sk-ant-x"})
    assert shell.returncode == 0 and shell.stdout == "echo: beside\n", shell.stderr
    assert served.stop() == 0
    again = serve()  # the lock is released with the process that held it
    assert again.stop() == 0


def test_sighup_drains_then_runs_again_in_the_same_process(serve, fake_anthropic, data_dir):
    served = serve()
    reader, received = slow_stream_started(served, fake_anthropic, "finished across the reload")
    served.process.send_signal(signal.SIGHUP)
    reader.join(30)
    assert "".join(received) == "finished across the reload"
    again = served.next_url()  # the same process, run again, announces itself again
    assert served.process.poll() is None
    reply = anthropic.Anthropic(base_url=again, api_key=TOKEN, max_retries=0).messages.create(
        model="m", max_tokens=20, messages=[{"role": "user", "content": "after"}])
    assert reply.content[0].text == "echo: after"
    assert served.stop() == 0
    assert "reloading: draining" in served.stderr
    assert served.stderr.count("gateway: started") == 2
    db = sqlite3.connect(data_dir / "blufio.db")
    assert db.execute("SELECT status FROM inbound").fetchall() == [("done",), ("done",)]


def test_serve_warns_once_when_the_provider_is_reached_over_plain_http_elsewhere(serve):
    served = serve(ANTHROPIC_BASE_URL="http://user:hunter2@192.0.2.10:8080")
    assert served.stop() == 0
    warnings = [line for line in served.stderr.splitlines() if "plain http://" in line]
    assert len(warnings) == 1 and "anthropic.base_url reaches 192.0.2.10" in warnings[0]
    assert "hunter2" not in served.stderr
