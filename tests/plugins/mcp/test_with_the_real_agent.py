"""MCP tools through the real agent: the fake Anthropic API asks for a tool, and its result
is in the next upstream request; failures are error results, never failed turns."""

import json
import os
import signal
import sys

import pytest

from blufio.agent.events import ToolResult, TurnComplete
from blufio.agent.runtime import open_runtime
from blufio.plugins.prometheus.observer import PrometheusObserver
from tests.fakes.anthropic_server import FakeResponse, message_events, text_reply, tool_use_reply
from tests.fakes.config import make_config
from blufio.plugins.mcp.supervisor import READY
from tests.plugins.mcp.conftest import FASTMCP, ROGUE, alive, wait_for

pytestmark = pytest.mark.slow  # each test starts real MCP servers (seconds)


@pytest.fixture
async def runtime(tmp_path, fake_anthropic, http_server):
    web = http_server()
    python = json.dumps(sys.executable)
    config = make_config(tmp_path, f"""
[anthropic]
base_url = "{fake_anthropic.base_url}"
[mcp.servers.files]
command = {python}
args = {json.dumps([FASTMCP, "stdio"])}
deny = ["getenv"]
[mcp.servers.hang]
command = {python}
args = {json.dumps([ROGUE, "hang"])}
timeout = 2
[mcp.servers.web]
url = "{web.url}"
[mcp.servers.broken]
command = {python}
args = {json.dumps([ROGUE, "exit"])}
""", environ={"ANTHROPIC_API_KEY": "sk-test", "BLUFIO_DATA_DIR": str(tmp_path / "data")})
    observer = PrometheusObserver(config)
    async with await open_runtime(config, observer=observer) as started:
        await started.adapters["mcp"].wait_started()
        started.observer = observer
        yield started


async def turn(runtime, text):
    session = await runtime.agent.new_session("test")
    return [event async for event in runtime.agent.submit(session.id, "test", text)]


def tool_results(request):
    return [block for block in request.json["messages"][-1]["content"]
            if block["type"] == "tool_result"]


async def test_the_model_is_offered_the_servers_tools_and_gets_a_result(runtime, fake_anthropic):
    fake_anthropic.add(tool_use_reply("files__add", {"a": 2, "b": 40}, tool_id="toolu_1"),
                       text_reply("It is 42."))
    events = await turn(runtime, "add 2 and 40")
    assert isinstance(events[-1], TurnComplete) and events[-1].text == "It is 42."
    first, second = fake_anthropic.message_requests
    offered = {tool["name"] for tool in first.json["tools"]}
    assert {"files__add", "files__image", "web__add", "web__echo", "current_time"} <= offered
    assert "files__getenv" not in offered  # denied
    result, = tool_results(second)
    assert (result["tool_use_id"], result["content"], "is_error" in result) == \
        ("toolu_1", "42", False)
    body, _ = runtime.observer.render()
    assert b'blufio_tool_calls_total{outcome="ok",server="files",tool="add"} 1.0' in body
    assert b'blufio_tool_latency_seconds_count{server="files",tool="add"} 1.0' in body


async def test_an_image_result_reaches_the_model_as_an_image_block(runtime, fake_anthropic):
    fake_anthropic.add(tool_use_reply("web__image", {}, tool_id="toolu_img"), text_reply("A dot."))
    events = await turn(runtime, "draw")
    assert [e.content for e in events if isinstance(e, ToolResult)] == ["[image]"]
    result, = tool_results(fake_anthropic.message_requests[1])
    assert result["content"][0]["type"] == "image"
    assert result["content"][0]["source"]["media_type"] == "image/png"


@pytest.mark.parametrize("name, arguments, expected", [
    ("files__fail", {"message": "disk full"}, "disk full"),
    ("hang__poke", {}, "did not answer tools/call within 2s"),
    ("files__getenv", {"name": "HOME"}, "there is no tool named 'files__getenv'"),  # denied
    ("broken__poke", {}, "there is no tool named 'broken__poke'"),  # its server never started
])
async def test_failures_are_error_results_and_the_turn_completes(runtime, fake_anthropic, name,
                                                                 arguments, expected):
    fake_anthropic.add(tool_use_reply(name, arguments), text_reply("Sorry."))
    events = await turn(runtime, "try it")
    assert isinstance(events[-1], TurnComplete) and events[-1].text == "Sorry."
    result, = tool_results(fake_anthropic.message_requests[1])
    assert result["is_error"] is True and expected in json.dumps(result["content"])


async def test_the_tools_of_one_round_run_concurrently(runtime, fake_anthropic):
    uses = [{"type": "tool_use", "id": f"toolu_{i}", "name": "files__meet", "input": {"party": 3}}
            for i in range(3)]
    fake_anthropic.add(FakeResponse(parts=message_events(uses, stop_reason="tool_use")),
                       text_reply("We met."))
    await turn(runtime, "meet")
    results = tool_results(fake_anthropic.message_requests[1])
    assert [(r["tool_use_id"], r["content"]) for r in results] == [
        ("toolu_0", "met"), ("toolu_1", "met"), ("toolu_2", "met")]


async def test_a_killed_server_is_restarted_by_the_next_call(runtime, fake_anthropic):
    files = runtime.adapters["mcp"].servers.get("files")
    pid = files.pid
    os.kill(pid, signal.SIGKILL)
    # Its death noticed first: a call written while it was still dying may have run, so it
    # is an error and never sent twice (see test_supervisor).
    await wait_for(lambda: not alive(pid) and (files.state != READY or files.pid != pid))
    fake_anthropic.add(tool_use_reply("files__echo", {"text": "back"}), text_reply("Back."))
    await turn(runtime, "are you there?")
    result, = tool_results(fake_anthropic.message_requests[1])
    assert result["content"] == "back" and "is_error" not in result
    assert files.pid not in (None, pid)


async def test_a_dead_server_makes_health_degraded(runtime):
    health = await runtime.adapters["mcp"].health_check()
    assert health["status"] == "degraded" and "broken" in health["detail"]
