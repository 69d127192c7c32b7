"""Streamable HTTP specifics: sessions (kept, renewed when forgotten, ended), a server that
goes away and comes back, and HTTP errors that say what to check."""

import http.server
import threading
from typing import ClassVar

import pytest

from blufio.plugins.mcp.errors import ServerUnavailable
from blufio.plugins.mcp.settings import ServerSettings
from blufio.plugins.mcp.supervisor import DOWN, READY, McpServer

pytestmark = pytest.mark.slow  # each test starts real MCP servers (seconds)


async def echo(server, text):
    return (await server.call("echo", {"text": text}))["content"][0]["text"]


async def test_a_forgotten_session_is_renewed_and_the_call_goes_through(http_server):
    web = http_server()
    server = McpServer(web.settings())
    try:
        await server.ready()
        first = server.client.transport.session_id
        web.stop()
        http_server(port=web.port)  # a new process: it knows no session (404)
        assert await echo(server, "again") == "again"
        assert server.client.transport.session_id not in (None, first)
    finally:
        await server.aclose()


async def test_a_server_that_went_away_is_down_then_used_again_when_back(http_server):
    web = http_server()
    server = McpServer(web.settings(), backoff=(30.0, 30.0))
    try:
        assert (await server.ready()).transport.session_id
        web.stop()
        with pytest.raises(ServerUnavailable, match="cannot be reached at http://127.0.0.1"):
            await echo(server, "anyone?")
        assert server.state == DOWN
        http_server(port=web.port)
        assert await echo(server, "back") == "back"
        assert server.state == READY
    finally:
        await server.aclose()


class Refusing(http.server.BaseHTTPRequestHandler):
    """Answers every POST with 401 and a JSON-RPC error, recording the headers it got."""

    seen: ClassVar[list] = []

    def do_POST(self):
        self.seen.append(dict(self.headers))
        body = b'{"jsonrpc":"2.0","id":null,"error":{"code":-32001,"message":"bad token"}}'
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def refusing_url():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Refusing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/mcp"
    server.shutdown()
    server.server_close()


async def test_configured_headers_are_sent_and_a_401_says_to_check_them(refusing_url):
    Refusing.seen.clear()
    server = McpServer(ServerSettings(name="locked", url=refusing_url,
                                      headers={"Authorization": "Bearer t0ken"}),
                       backoff=(30.0, 30.0))
    try:
        with pytest.raises(ServerUnavailable) as caught:
            await server.ready()
        assert str(caught.value) == ("MCP server 'locked' answered HTTP 401 (check its headers: "
                                     "a token may be missing or wrong): bad token")
        sent = Refusing.seen[0]
        assert sent["Authorization"] == "Bearer t0ken"
        assert sent["Accept"] == "application/json, text/event-stream"
        assert "Mcp-Session-Id" not in sent
    finally:
        await server.aclose()

