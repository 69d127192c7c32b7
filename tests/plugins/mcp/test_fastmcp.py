"""The client against a real MCP server (the official SDK's FastMCP), over stdio and over
Streamable HTTP with SSE answers and with JSON answers."""

import asyncio

import pytest

from blufio.plugins.mcp.client import PROTOCOL_VERSION
from blufio.plugins.mcp.errors import McpError, RequestTimeout
from blufio.plugins.mcp.results import render
from blufio.plugins.mcp.supervisor import READY, McpServer
from tests.plugins.mcp.conftest import fastmcp_stdio

pytestmark = pytest.mark.slow  # each test starts real MCP servers (seconds)


@pytest.fixture(params=["stdio", "http-sse", "http-json"])
async def server(request, http_server):
    """A started ``McpServer`` for FastMCP over each transport."""
    if request.param == "stdio":
        settings = fastmcp_stdio(timeout=10)
    else:
        flags = ("--json",) if request.param == "http-json" else ()
        settings = http_server(*flags).settings(timeout=10)
    started = McpServer(settings)
    await started.ready()
    yield started
    await started.aclose()


async def test_the_handshake_negotiates_the_current_revision(server):
    client = server.client
    assert server.state == READY
    assert client.protocol_version == PROTOCOL_VERSION
    assert client.server_info["name"] == "blufio-test"
    assert client.instructions == "A server for Blufio's tests."


async def test_its_tools_are_listed_with_their_schemas(server):
    tools = {tool["name"]: tool for tool in server.tools}
    assert {"add", "echo", "image", "fail", "sleep"} <= set(tools)
    assert tools["add"]["description"] == "Add two integers."
    assert tools["add"]["inputSchema"]["properties"].keys() == {"a", "b"}
    assert tools["add"]["inputSchema"]["required"] == ["a", "b"]


async def test_a_call_returns_text_and_structured_content(server):
    result = await server.call("add", {"a": 2, "b": 40})
    assert result["content"] == [{"type": "text", "text": "42"}]
    assert result["structuredContent"] == {"result": 42}
    assert render(result) == ([{"type": "text", "text": "42"}], False)


async def test_an_image_result_becomes_an_image_block(server):
    blocks, is_error = render(await server.call("image", {}))
    assert not is_error
    assert blocks[0]["type"] == "image" and blocks[0]["source"]["media_type"] == "image/png"


async def test_an_embedded_resource_becomes_its_text(server):
    blocks, _ = render(await server.call("document", {}))
    assert blocks[0] == {"type": "text", "text": "[resource memo://today]\nbuy milk"}


async def test_a_failing_tool_is_an_error_result_with_its_message(server):
    blocks, is_error = render(await server.call("fail", {"message": "the disk is full"}))
    assert is_error and "the disk is full" in blocks[0]["text"]


async def test_a_call_with_wrong_arguments_or_an_unknown_tool_fails_clearly(server):
    for tool, arguments in (("add", {"a": "two"}), ("nope", {})):
        try:
            result = await server.call(tool, arguments)
        except McpError as exc:  # a JSON-RPC error is as good as an error result
            assert tool in str(exc) or "nope" in str(exc) or "validation" in str(exc).lower()
        else:
            assert result["isError"] is True


async def test_a_slow_call_times_out_and_the_server_keeps_working(server):
    server.client.timeout = 0.3
    with pytest.raises(RequestTimeout, match="did not answer tools/call within 0.3s"):
        await server.call("sleep", {"seconds": 5})
    server.client.timeout = 10
    assert (await server.call("echo", {"text": "still here"}))["content"][0]["text"] == "still here"


async def test_calls_run_concurrently_over_one_session(server):
    results = await asyncio.gather(*(server.call("echo", {"text": str(i)}) for i in range(8)),
                                   server.call("sleep", {"seconds": 0.2}))
    assert [r["content"][0]["text"] for r in results[:8]] == [str(i) for i in range(8)]


async def test_a_changed_tool_list_is_fetched_again(server):
    changes = []
    server.on_change = changes.append
    await server.call("grow", {})
    for _ in range(200):
        if "extra" in [tool["name"] for tool in server.tools]:
            break
        await asyncio.sleep(0.02)
    assert "extra" in [tool["name"] for tool in server.tools]
    assert changes == [server]
    assert (await server.call("extra", {}))["content"][0]["text"] == "extra!"
