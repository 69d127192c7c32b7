"""How the gateway's connections are served: Hypercorn's settings, and bounded buffers.

Every buffer a connection fills is bounded, so a client that sends without reading gets
backpressure (the server waits for it) or is closed, instead of taking the server's memory:

- Hypercorn hands each request or WebSocket at most ``APP_QUEUE`` received messages ahead
  of the app (``max_app_queue_size``), each at most ``websocket_max_message_size``;
- Quart's own WebSocket queue is unbounded; ``BoundedWebsocketConnection`` bounds it and,
  when a client sends more than the handler can answer (it is not reading the answers),
  closes the connection with 1008;
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
``install_http11_protocol`` makes Hypercorn answer such a connection in HTTP/1.1: an upgrade
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
WEBSOCKET_BACKLOG = 4 << 20  # characters of frames waiting for the /ws handler
DRAIN_MARGIN = 5.0  # seconds Hypercorn waits past the drain timeout, to send the last 503s


class _FrameQueue(asyncio.Queue):
    """An unbounded ``asyncio.Queue`` of frames that counts the characters it holds."""

    def _init(self, maxsize):
        super()._init(maxsize)
        self.size = 0

    def _put(self, item):
        self.size += len(item)
        super()._put(item)

    def _get(self):
        item = super()._get()
        self.size -= len(item)
        return item


OVERFLOW = "\0overflow"  # what the /ws handler receives once its backlog overflowed


class BoundedWebsocketConnection(ASGIWebsocketConnection):
    """Quart's WebSocket connection with a bounded backlog of received frames.

    Quart moves every frame from Hypercorn into a queue for the handler; unbounded, a client
    that sends without reading the replies (so the handler waits to send) grows it without
    end. Here the frames waiting may hold at most ``WEBSOCKET_BACKLOG`` characters (or one
    frame): beyond, the handler receives ``OVERFLOW`` after what is already queued (and
    closes with 1008), and later frames are dropped. Frames keep being taken from Hypercorn,
    so the disconnect that ends the connection always gets through."""

    def __init__(self, app, scope):
        super().__init__(app, scope)
        self.queue = _FrameQueue()
        self.overflowed = False

    async def handle_messages(self, receive):
        while True:
            event = await receive()
            if event["type"] == "websocket.disconnect":
                return
            if event["type"] != "websocket.receive" or self.overflowed:
                continue
            message = event.get("bytes") or event["text"]
            if self.queue.size + len(message) > WEBSOCKET_BACKLOG and not self.queue.empty():
                self.overflowed = True
                message = OVERFLOW
            self.queue.put_nowait(message)


def hypercorn_config(descriptor, *, drain_timeout, max_body_bytes, backlog):
    """Hypercorn's settings for serving on the listening socket ``descriptor``.

    Hypercorn listens again on the socket it is given, with ``backlog`` (its own default,
    100, dropped the SYN of the 101st of many clients connecting at once: it retried a
    second later)."""
    from hypercorn.config import Config

    config = Config()
    config.bind = [f"fd://{descriptor}"]
    config.graceful_timeout = float(drain_timeout) + DRAIN_MARGIN
    config.keep_alive_timeout = KEEP_ALIVE_TIMEOUT
    config.backlog = backlog
    config.max_app_queue_size = APP_QUEUE
    config.accesslog = None
    config.loglevel = "WARNING"
    # Oversized frames get an error frame from the app, so let them reach it.
    config.websocket_max_message_size = max(4 * max_body_bytes, 1 << 20)
    return config


def install_http11_protocol():
    """Replace Hypercorn's HTTP/1.1 protocol class, once per process, by ``HTTP11Only``:
    Hypercorn has no setting for either of its two changes."""
    import hypercorn.protocol as protocols

    if not getattr(protocols.H11Protocol, "refuses_h2c", False):
        protocols.H11Protocol = _http11_only(protocols.H11Protocol)


def _http11_only(base):
    from hypercorn.events import RawData
    from hypercorn.protocol.events import Response

    class HTTP11Only(base):
        """Hypercorn's HTTP/1.1 protocol, which refuses cleartext HTTP/2 (see the module
        docstring) and sends a reply of known length in one write, head with body.

        Hypercorn writes the head, then the body; sockets have no Nagle delay, so a client
        got two packets and woke twice for every JSON reply. A streamed reply (no
        ``content-length``) still sends its head at once."""

        refuses_h2c = True

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._send_now, self.send = self.send, self._send_joined
            self._hold_head = False
            self._head = None

        async def _check_protocol(self, event):
            return None  # no upgrade to h2c, no HTTP/2 preface: h11 answers as HTTP/1.1

        async def stream_send(self, event):
            self._hold_head = (isinstance(event, Response) and event.status_code >= 200
                               and any(name.lower() == b"content-length"
                                       for name, _ in event.headers))
            await super().stream_send(event)

        async def _send_joined(self, event):
            if self._hold_head and isinstance(event, RawData):
                self._hold_head, self._head = False, event.data
                return
            if self._head is not None:
                head, self._head = self._head, None
                if isinstance(event, RawData):
                    event = RawData(data=head + event.data)
                else:
                    await self._send_now(RawData(data=head))
            await self._send_now(event)

    return HTTP11Only
