"""How the gateway's connections are served: Hypercorn's settings, and bounded buffers.

Every buffer a connection fills is bounded, so a client that sends without reading gets
backpressure (the server stops reading its socket) instead of the server's memory:

- Hypercorn hands each request or WebSocket at most ``APP_QUEUE`` received messages ahead
  of the app (``max_app_queue_size``), each at most ``websocket_max_message_size``;
- Quart's own WebSocket queue is unbounded; ``BoundedWebsocketConnection`` bounds it;
- a reply's events wait in the agent's ``TurnStream``, which merges text deltas while its
  reader lags (so at most the reply's text waits there), and what is sent waits in the
  transport's write buffer (Hypercorn awaits ``drain()``).

**Cleartext HTTP/2 (h2c) is off.** Hypercorn upgrades any connection that asks (the
``Upgrade: h2c`` header, or the HTTP/2 preface sent "with prior knowledge") and has no
setting to refuse. Nothing Blufio serves needs it: SDKs and browsers speak HTTP/1.1 over
``http://`` (browsers never use h2c), reverse proxies speak HTTP/1.1 to their upstreams, and
HTTP/2 over TLS stays with the proxy that terminates TLS. What it would add is one TCP
connection carrying up to ``h2_max_concurrent_streams`` requests at once, each cancellable by
a stream reset (the "rapid reset" pattern), which is how one connection started 700 turns.
``refuse_cleartext_http2`` makes Hypercorn answer such a connection in HTTP/1.1: an upgrade
request is served as a plain HTTP/1.1 request (RFC 9110 lets a server ignore ``Upgrade``),
and the prior-knowledge preface gets a 400.

**Idle keep-alive connections** are closed after ``KEEP_ALIVE_TIMEOUT`` seconds. A server
that closes an idle connection first races a client that is just sending on it (the client
sees a reset, maybe after the turn started). Clients close their own idle connections sooner:
httpx and the Anthropic and OpenAI Python SDKs after 5 s, Node's undici (``fetch``) after 4 s,
aiohttp after 15 s, Go's ``net/http`` after 90 s; proxies in front (nginx, AWS ALB) after
60 s. 120 s outlasts all of them, so the client is the side that closes.
"""

import asyncio

from quart.asgi import ASGIWebsocketConnection

KEEP_ALIVE_TIMEOUT = 120.0  # seconds; see the module docstring
APP_QUEUE = 4  # messages received ahead of the app, per request or WebSocket
WEBSOCKET_QUEUE = 4  # frames Quart holds ahead of the /ws handler
DRAIN_MARGIN = 5.0  # seconds Hypercorn waits past the drain timeout, to send the last 503s


class BoundedWebsocketConnection(ASGIWebsocketConnection):
    """Quart's WebSocket connection with a bounded receive queue: when the handler does not
    keep up, Quart stops taking frames from Hypercorn, and Hypercorn stops reading."""

    def __init__(self, app, scope):
        super().__init__(app, scope)
        self.queue = asyncio.Queue(maxsize=WEBSOCKET_QUEUE)


def hypercorn_config(descriptor, *, drain_timeout, max_body_bytes):
    """Hypercorn's settings for serving on the listening socket ``descriptor``."""
    from hypercorn.config import Config

    config = Config()
    config.bind = [f"fd://{descriptor}"]
    config.graceful_timeout = float(drain_timeout) + DRAIN_MARGIN
    config.keep_alive_timeout = KEEP_ALIVE_TIMEOUT
    config.max_app_queue_size = APP_QUEUE
    config.accesslog = None
    config.loglevel = "WARNING"
    # Oversized frames get an error frame from the app, so let them reach it.
    config.websocket_max_message_size = max(4 * max_body_bytes, 1 << 20)
    return config


def refuse_cleartext_http2():
    """Make Hypercorn serve HTTP/1.1 only on plain connections (see the module docstring).

    Hypercorn offers no setting for it, so its HTTP/1.1 protocol class is replaced, once
    per process, by one that does not switch to HTTP/2."""
    import hypercorn.protocol as protocols
    from hypercorn.protocol.h11 import H11Protocol

    if getattr(protocols.H11Protocol, "refuses_h2c", False):
        return

    class HTTP11Only(H11Protocol):
        refuses_h2c = True

        async def _check_protocol(self, event):
            return None  # no upgrade to h2c, no HTTP/2 preface: h11 answers as HTTP/1.1

    protocols.H11Protocol = HTTP11Only
