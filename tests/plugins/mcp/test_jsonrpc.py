"""JSON-RPC 2.0 handling, without any transport: what is sent, what the callers get."""

import asyncio

import pytest

from blufio.plugins.mcp.errors import (ProtocolError, RemoteError, RequestTimeout,
                                       ServerUnavailable)
from blufio.plugins.mcp.jsonrpc import Connection, leading_id


class Wire:
    """A send callback that records messages; ``answer`` plays the peer."""

    def __init__(self):
        self.sent = []
        self.arrived = asyncio.Event()
        self.notifications = []
        self.connection = Connection(self.send, label="MCP server 'test'",
                                     on_notification=lambda m, p: self.notifications.append(m))

    async def send(self, message):
        self.sent.append(message)
        self.arrived.set()

    async def requested(self, count=1):
        """The ``count``-th request sent, once it has been sent."""
        while True:
            requests = [m for m in self.sent if "id" in m and "method" in m]
            if len(requests) >= count:
                return requests[count - 1]
            self.arrived.clear()
            await self.arrived.wait()


async def test_a_request_gets_the_result_of_the_response_with_its_id():
    wire = Wire()
    task = asyncio.create_task(wire.connection.request("tools/list", {"cursor": "a"}))
    request = await wire.requested()
    assert request == {"jsonrpc": "2.0", "id": request["id"], "method": "tools/list",
                       "params": {"cursor": "a"}}
    wire.connection.receive({"jsonrpc": "2.0", "id": request["id"], "result": {"tools": []}})
    assert await task == {"tools": []}


async def test_an_error_response_raises_remote_error_with_its_code():
    wire = Wire()
    task = asyncio.create_task(wire.connection.request("tools/call"))
    request = await wire.requested()
    wire.connection.receive({"jsonrpc": "2.0", "id": request["id"],
                             "error": {"code": -32602, "message": "Unknown tool: nope"}})
    with pytest.raises(RemoteError, match="Unknown tool: nope") as caught:
        await task
    assert caught.value.code == -32602


@pytest.mark.parametrize("response", [
    {"jsonrpc": "1.0", "result": {}},
    {"jsonrpc": "2.0"},
    {"jsonrpc": "2.0", "result": {}, "error": {"code": 1, "message": "both"}},
    {"jsonrpc": "2.0", "error": "not an object"},
])
async def test_an_invalid_response_fails_its_request_clearly(response):
    wire = Wire()
    task = asyncio.create_task(wire.connection.request("tools/call"))
    request = await wire.requested()
    wire.connection.receive({**response, "id": request["id"]})
    with pytest.raises(ProtocolError, match="test"):
        await task


async def test_a_timeout_cancels_the_request_on_the_server():
    wire = Wire()
    with pytest.raises(RequestTimeout, match="did not answer tools/call within 0.05s"):
        await wire.connection.request("tools/call", timeout=0.05)
    await asyncio.sleep(0)
    request, cancel = wire.sent
    assert cancel == {"jsonrpc": "2.0", "method": "notifications/cancelled",
                      "params": {"requestId": request["id"], "reason": "timed out"}}
    wire.connection.receive({"jsonrpc": "2.0", "id": request["id"], "result": {}})  # late: dropped


async def test_a_cancelled_caller_cancels_the_request_but_never_initialize():
    wire = Wire()
    for method in ("tools/call", "initialize"):
        task = asyncio.create_task(wire.connection.request(method))
        await wire.requested(len([m for m in wire.sent if "id" in m]) + 1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    await asyncio.sleep(0)
    cancels = [m for m in wire.sent if m["method"] == "notifications/cancelled"]
    assert [c["params"]["requestId"] for c in cancels] == [wire.sent[0]["id"]]


async def test_the_peer_s_ping_is_answered_and_other_requests_are_refused():
    wire = Wire()
    wire.connection.receive({"jsonrpc": "2.0", "id": "s1", "method": "ping"})
    wire.connection.receive({"jsonrpc": "2.0", "id": 7, "method": "sampling/createMessage"})
    await asyncio.sleep(0)
    assert {"jsonrpc": "2.0", "id": "s1", "result": {}} in wire.sent
    refusal = next(m for m in wire.sent if m["id"] == 7)
    assert refusal["error"]["code"] == -32601


async def test_notifications_reach_the_callback_and_junk_is_ignored():
    wire = Wire()
    for junk in (3, "text", None, {"jsonrpc": "2.0"}, {"id": 99, "result": {}}):
        wire.connection.receive(junk)
    wire.connection.receive([{"jsonrpc": "2.0", "method": "notifications/tools/list_changed"},
                             {"jsonrpc": "2.0", "method": "notifications/unknown"}])
    assert wire.notifications == ["notifications/tools/list_changed", "notifications/unknown"]
    assert wire.sent == []


async def test_closing_fails_pending_and_later_requests_with_the_reason():
    wire = Wire()
    task = asyncio.create_task(wire.connection.request("tools/call"))
    await wire.requested()
    wire.connection.close(ServerUnavailable("MCP server 'test' exited with code 1"))
    with pytest.raises(ServerUnavailable, match="exited with code 1"):
        await task
    with pytest.raises(ServerUnavailable, match="exited with code 1"):
        await wire.connection.request("ping")


async def test_an_oversized_answer_fails_only_the_request_it_answers():
    wire = Wire()
    first = asyncio.create_task(wire.connection.request("tools/call"))
    second = asyncio.create_task(wire.connection.request("tools/call"))
    request = await wire.requested(2)
    wire.connection.oversized(b'{"jsonrpc":"2.0","id":%d,"result":{"content":[' % request["id"],
                              8 * 1024 * 1024)
    with pytest.raises(ProtocolError, match="larger than the 8 MB limit"):
        await second
    assert not first.done()
    first.cancel()


def test_the_id_of_an_oversized_message_is_read_only_at_the_top_level():
    assert leading_id(b'{"jsonrpc":"2.0","id":12,"result":{"x"') == 12
    assert leading_id(b' {"id": "abc", "result"') == "abc"
    assert leading_id(b'{"jsonrpc":"2.0","result":{"id":3}') is None
    assert leading_id(b'garbage') is None
