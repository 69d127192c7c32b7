"""CORS as a browser enforces it (headless Chromium): a page served from an origin listed in
``[gateway] cors_origins`` can ``fetch()`` ``/v1/messages`` and open ``/ws``; a page from any
other origin can do neither. The two pages come from small HTTP servers on 127.0.0.1, each
on its own port (so each its own origin)."""

import functools
import http.server
import json
import threading

import pytest

from .browser import ARGS, CHROMIUM, chromium_or_skip
from .conftest import TOKEN, RunningGateway

pytestmark = pytest.mark.slow

PAGE = b"<!doctype html><title>a page of another site</title><p>elsewhere</p>"

# Run in the test page: POST /v1/messages with the token, as a browser app would.
FETCH = """async ([gateway, token]) => {
    try {
        const response = await fetch(gateway + '/v1/messages', {method: 'POST', headers: {
            'Authorization': 'Bearer ' + token, 'content-type': 'application/json'},
            body: JSON.stringify({model: 'any', max_tokens: 50,
                                  messages: [{role: 'user', content: 'from a page'}]})});
        const body = await response.json();
        return {status: response.status, text: body.content[0].text,
                session: response.headers.get('x-blufio-session')};
    } catch (error) { return {error: String(error)}; }
}"""

# Run in the test page: open /ws, send a message, wait for the reply or the refusal.
SOCKET = """([gateway, token]) => new Promise(resolve => {
    const socket = new WebSocket(gateway.replace('http', 'ws') + '/ws?token=' + token);
    socket.onopen = () => socket.send(JSON.stringify({type: 'message', content: 'over ws'}));
    socket.onmessage = event => {
        const frame = JSON.parse(event.data);
        if (frame.type === 'message') { resolve({text: frame.content[0].text}); socket.close(); }
    };
    socket.onclose = event => resolve({closed: event.code});
})"""


class _Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("content-type", "text/html")
        self.send_header("content-length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, *args):
        pass


@pytest.fixture
def site():
    """Start a one-page site on 127.0.0.1:<ephemeral>; return its origin."""
    servers = []

    def start():
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Page)
        threading.Thread(target=functools.partial(server.serve_forever, 0.05), daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def browser():
    sync_playwright = chromium_or_skip()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


def test_a_listed_origin_can_call_the_api_and_open_the_socket_and_no_other(
        gateway_env, monkeypatch, site, browser):
    listed, other = site(), site()
    monkeypatch.setenv("BLUFIO_GATEWAY__CORS_ORIGINS", json.dumps([listed]))
    gateway = RunningGateway().start()
    page = browser.new_page()
    try:
        page.goto(listed + "/")
        fetched = page.evaluate(FETCH, [gateway.url, TOKEN])
        socket = page.evaluate(SOCKET, [gateway.url, TOKEN])
        assert fetched["status"] == 200 and fetched["text"] == "echo: from a page"
        assert fetched["session"]  # an exposed header the page can read
        assert socket == {"text": "echo: over ws"}

        page.goto(other + "/")
        refused = page.evaluate(FETCH, [gateway.url, TOKEN])
        shut = page.evaluate(SOCKET, [gateway.url, TOKEN])
        assert "Failed to fetch" in refused["error"]  # the browser withholds the response
        assert shut == {"closed": 1006}  # the handshake was refused
        assert gateway.call(gateway.storage.count_sessions()) == 2  # the other page started none
    finally:
        page.close()
        gateway.stop()
