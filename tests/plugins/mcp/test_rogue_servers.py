"""Servers that misbehave: each is a clear error or a log line, and nothing else suffers."""

import asyncio
import json
import logging
import resource

import pytest

from blufio.plugins.mcp.errors import ProtocolError, RequestTimeout, ServerUnavailable
from blufio.plugins.mcp.settings import ServerSettings
from blufio.plugins.mcp.supervisor import DOWN, READY, McpServer, ServerSet
from tests.plugins.mcp.conftest import rogue

pytestmark = pytest.mark.slow  # each test starts an MCP server as a process


@pytest.fixture
async def start():
    """``await start(settings, **options)``: a server, started (or failed), closed after."""
    servers = []

    async def run(settings, **options):
        server = McpServer(settings, backoff=(30.0, 30.0), **options)
        servers.append(server)
        task = server.start()
        await asyncio.shield(task)
        return server

    yield run
    for server in servers:
        await server.aclose()


async def test_lines_that_are_not_json_are_logged_and_skipped(start, caplog):
    server = await start(rogue("garbage"))
    assert (await server.call("poke", {"text": "a"}))["content"][0]["text"] == "poked a"
    assert "wrote a line that is not JSON-RPC (ignored)" in caplog.text


async def test_an_invalid_json_rpc_answer_fails_the_call_clearly(start):
    server = await start(rogue("invalid"))
    with pytest.raises(ProtocolError, match="sent an invalid JSON-RPC response"):
        await server.call("poke", {})


async def test_a_server_that_never_answers_is_down_after_its_timeout(start):
    server = await start(rogue("silent", timeout=0.5))
    assert server.state == DOWN
    assert server.error == ("MCP server 'rogue' did not answer initialize within 0.5s; the "
                            "request was cancelled")


async def test_a_call_that_never_ends_is_cancelled_on_the_server(start, tmp_path):
    logfile = tmp_path / "received.jsonl"
    server = await start(rogue("hang", logfile, timeout=0.5))
    with pytest.raises(RequestTimeout):
        await server.call("poke", {})
    for _ in range(100):
        received = [json.loads(line) for line in logfile.read_text().splitlines()]
        if received[-1].get("method") == "notifications/cancelled":
            break
        await asyncio.sleep(0.05)
    call = next(m for m in received if m.get("method") == "tools/call")
    assert received[-1]["params"] == {"requestId": call["id"], "reason": "timed out"}


async def test_a_flood_of_output_is_absorbed_and_its_stderr_logging_is_rate_limited(start,
                                                                                     caplog):
    caplog.set_level(logging.DEBUG, logger="blufio.mcp")
    server = await start(rogue("flood", timeout=30))
    assert (await server.call("poke", {"text": "x"}))["content"][0]["text"] == "poked x"
    stderr_lines = [r for r in caplog.records if "stderr: stderr flood" in r.getMessage()]
    assert 0 < len(stderr_lines) < 200  # 2,000 were written


async def test_a_server_that_exits_at_once_is_down_with_its_last_words(start):
    server = await start(rogue("exit"))
    assert server.state == DOWN
    assert server.error == ("MCP server 'rogue' exited with code 3 (its last words: boom: this "
                            "server cannot start)")
    with pytest.raises(ServerUnavailable, match="exited with code 3"):
        await server.call("poke", {})


@pytest.mark.slow  # waits out real time
async def test_a_50_mb_result_is_refused_without_being_held_and_the_server_goes_on(start):
    server = await start(rogue("huge", timeout=60), max_message_bytes=1024 * 1024)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    with pytest.raises(ProtocolError, match="larger than the 1 MB limit; it was discarded"):
        await server.call("poke", {})
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 30 * 1024
    assert server.state == READY
    assert (await server.client.ping()) is None


async def test_paged_tool_lists_are_followed_to_the_end(start):
    server = await start(rogue("paged"))
    assert [tool["name"] for tool in server.tools] == ["poke", "poke2", "poke3"]


async def test_an_unknown_protocol_revision_is_refused(start):
    server = await start(rogue("version"))
    assert server.state == DOWN
    assert "speaks MCP revision '1999-01-01'; Blufio speaks 2025-06-18" in server.error


async def test_the_server_s_ping_is_answered(start, tmp_path):
    server = await start(rogue("ping"))
    text = (await server.call("poke", {}))["content"][0]["text"]
    assert text == 'poked ping answered: {"id": "srv-1", "jsonrpc": "2.0", "result": {}}'


async def test_a_command_that_does_not_exist_is_one_line(start):
    server = await start(ServerSettings(name="gone", command="no-such-mcp-server-here"))
    assert server.error == "MCP server 'gone': command 'no-such-mcp-server-here' not found on PATH"


async def test_one_bad_server_does_not_hold_up_or_harm_the_others():
    servers = ServerSet({"slow": rogue("silent", name="slow", timeout=30),
                         "good": rogue("ok", name="good")}, backoff=(30.0, 30.0))
    try:
        servers.start_all()
        result = await servers.get("good").call("poke", {"text": "hi"})
        assert result["content"][0]["text"] == "poked hi"
        assert servers.get("slow").state == "starting"
    finally:
        await servers.aclose()
