"""MCP servers under ``blufio serve``: started with it, used in a turn through the gateway,
reported in ``/v1/health``, and gone, children and grandchildren, after SIGTERM."""

import json
import os
import sys
import time

import anthropic
import httpx
import pytest

from tests.fakes.anthropic_server import text_reply, tool_use_reply
from tests.plugins.mcp.conftest import FASTMCP, ROGUE, alive
from tests.served import Served, checkout_env

pytestmark = pytest.mark.slow  # each test starts serve and real MCP servers (seconds)

TOKEN = "serve-mcp-token"


def descendants(pid):
    """Every live process below ``pid``."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parents[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (FileNotFoundError, ProcessLookupError, IndexError):
                continue
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return {p for p in found if alive(p)}


def wait_for_health(url, predicate, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        health = httpx.get(f"{url}/v1/health").json()
        if predicate(health):
            return health
        time.sleep(0.1)
    raise AssertionError(f"health never matched: {health}")


@pytest.fixture
def served(repo_root, fake_anthropic, isolated_env, tmp_path):
    python = json.dumps(sys.executable)
    config = tmp_path / "blufio.toml"
    config.write_text(f"""\
[mcp.servers.files]
command = {python}
args = {json.dumps([FASTMCP, "stdio"])}

[mcp.servers.kids]
command = {python}
args = {json.dumps([ROGUE, "grandchild", str(tmp_path / "kids.jsonl")])}

[mcp.servers.broken]
command = "no-such-mcp-server-here"
""")
    started = Served(checkout_env(
        repo_root, BLUFIO_CONFIG=str(config), ANTHROPIC_BASE_URL=fake_anthropic.base_url,
        ANTHROPIC_API_KEY="sk-ant-x", BLUFIO_GATEWAY__BEARER_TOKEN=TOKEN,
        BLUFIO_PLUGINS__TELEGRAM="false"))
    yield started
    started.kill()


def test_a_turn_uses_an_mcp_tool_and_sigterm_leaves_no_process_behind(served, fake_anthropic,
                                                                        tmp_path):
    health = wait_for_health(served.url, lambda h: h["plugins"]["mcp"]["detail"].startswith(
        "2 of 3 MCP servers ready; down: "))
    assert health["status"] == "degraded" and health["plugins"]["mcp"]["status"] == "degraded"
    assert "command 'no-such-mcp-server-here' not found on PATH" in \
        health["plugins"]["mcp"]["detail"]

    fake_anthropic.add(tool_use_reply("files__add", {"a": 40, "b": 2}, tool_id="toolu_s"),
                       text_reply("The answer is 42."))
    sdk = anthropic.Anthropic(base_url=served.url, api_key=TOKEN, max_retries=0)
    reply = sdk.messages.create(model="m", max_tokens=50,
                                messages=[{"role": "user", "content": "40 + 2?"}])
    assert reply.content[0].text == "The answer is 42."
    result = fake_anthropic.message_requests[-1].json["messages"][-1]["content"][0]
    assert (result["type"], result["tool_use_id"], result["content"]) == \
        ("tool_result", "toolu_s", "42")

    children = descendants(served.process.pid)
    grandchild = json.loads((tmp_path / "kids.jsonl").read_text().splitlines()[0])["grandchild"]
    assert grandchild in children and len(children) >= 3
    assert served.stop() == 0
    time.sleep(0.2)
    assert [pid for pid in children if alive(pid)] == []
    assert "MCP server 'broken': command 'no-such-mcp-server-here' not found on PATH; " \
        "retrying in the background" in served.stderr
    assert "Traceback" not in served.stderr


def test_shell_starts_the_servers_and_its_first_turn_can_use_a_tool(blufio, fake_anthropic,
                                                                    tmp_path):
    config = tmp_path / "blufio.toml"
    config.write_text(f"[mcp.servers.files]\ncommand = {json.dumps(sys.executable)}\n"
                      f"args = {json.dumps([FASTMCP, 'stdio'])}\n")
    fake_anthropic.add(tool_use_reply("files__echo", {"text": "from the tool"}),
                       text_reply("Done."))
    result = blufio("-c", str(config), "shell", input="use the tool\n",
                    env={"ANTHROPIC_BASE_URL": fake_anthropic.base_url,
                         "ANTHROPIC_API_KEY": "sk-ant-x"})
    assert (result.returncode, result.stdout) == (0, "Done.\n"), result.stderr
    tool_result = fake_anthropic.message_requests[1].json["messages"][-1]["content"][0]
    assert tool_result["content"] == "from the tool"
