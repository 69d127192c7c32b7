"""The ``/ws`` protocol: JSON text frames both ways, several conversations per socket.

Client → server::

    {"type": "message", "content": "hi" | [blocks], "session_id"?: "...", "id"?: "..."}
    {"type": "cancel", "session_id": "...", "id"?: "..."}   stop the session's turn(s) in flight
    {"type": "resume", "session_id": "...", "id"?: "..."}   show the session's turn in flight
    {"type": "watch", "session_id": "...", "id"?: "..."}    show the session's scheduled runs
    {"type": "ping", "id"?: "..."}

Server → client, every frame naming its ``session_id`` and echoing the client's ``id``::

    {"type": "session", ...}                       a new session was started for the message
    {"type": "typing", ...}                        the agent is working on it
    {"type": "delta", "text": "...", ...}          more of the reply, as it is produced
    {"type": "tool", "name": "...", ...}           the agent is running a tool
    {"type": "tool_result", "name", "is_error"}    that tool finished
    {"type": "message", "content": [...], "usage": {...}, "cost_usd": 0.0012,
     "stop_reason": "...", ...}                    the turn is over and stored
    {"type": "turn", "text": "...", "tools": [...]}  answer to resume: the turn so far
    {"type": "idle", ...}                          answer to resume: no turn in flight
    {"type": "error", "error": {"type", "message"}, ...}
    {"type": "watching", ...}                      the answer to "watch"
    {"type": "pong", ...}

A turn outlives its socket: if the connection drops, the agent finishes and stores the reply,
and a new socket that sends ``resume`` sees the rest of it. ``cancel`` ends the session's
turns in flight: each completes with a ``message`` frame whose ``stop_reason`` is
``"cancelled"``, the user's message and the text so far stored (a turn already being stored
finishes normally; a ``cancel`` with nothing in flight gets a 404 error frame).

A socket *watches* every session it sends a message in, and those it names in a ``watch``
frame: turns in them that nobody on the socket asked for (a schedule's runs, and notices
about them) are shown to it live, as the same frames without an ``id`` and with
``"origin": "schedule"``.

A bad frame (not JSON, too large, unknown type, unknown session, content that ``POST
/v1/messages`` would refuse) is answered with an error frame; the connection stays open.
A client that sends more than the server can answer while it does not read the replies is
closed with 1008; when the server shuts down, every connection is closed with 1001. Each
message runs as its own task (in one of ``[gateway] max_concurrent_turns`` slots, else a 429
error frame), so replies to different sessions interleave.
"""

import asyncio
import json

from blufio.plugins.gateway.errors import GatewayError, error_body, unexpected
from blufio.plugins.gateway.limits import decode_json
from blufio.plugins.gateway.messages import parse_content
from blufio.plugins.gateway.relay import TurnRelay, frame_of
from blufio.plugins.gateway.transport import OVERFLOW

CHANNEL = "gateway"


async def serve_socket(gateway, socket):
    """Read frames from ``socket`` until it closes, answering each message in a task.

    Frames go out through this socket's own queue and writer, so a slow or dead socket
    never holds up a turn that other sockets watch."""
    socket = getattr(socket, "_get_current_object", lambda: socket)()  # Quart's proxy
    outbox = asyncio.Queue()
    watching = set()  # the relays this socket watches

    def send(frame, ref=None, session_id=None):
        if session_id is not None:
            frame["session_id"] = session_id
        if ref is not None:
            frame["id"] = ref
        outbox.put_nowait(frame)

    async def write():
        try:
            while True:
                await socket.send(json.dumps(await outbox.get()))
        except Exception:  # the connection is gone; the reader's finally cleans up
            return

    writer = gateway.relays.tasks.spawn(write(), name="gateway /ws writer")
    try:
        while True:
            raw = await _receive(socket, gateway.closing)
            if raw is None:  # the server is shutting down
                await socket.close(1001, "the server is shutting down")
                return
            if raw is OVERFLOW:
                await socket.close(1008, "too many frames unanswered: read the replies "
                                         "before sending more")
                return
            try:
                frame = _parse_frame(raw, gateway.max_body_bytes)
                await _dispatch(gateway, frame, send, watching)
            except GatewayError as error:
                send(error_body(error), _ref(raw))
    finally:
        # The socket is gone; its turns carry on, are stored, and can be resumed.
        for relay in watching:
            relay.unwatch(send)
        gateway.watchers.remove(send)
        writer.cancel()


async def _receive(socket, closing):
    """The next frame, or None once ``closing`` is set."""
    receiving = asyncio.ensure_future(socket.receive())
    stopping = asyncio.ensure_future(closing.wait())
    try:
        await asyncio.wait({receiving, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
        if not receiving.done():
            receiving.cancel()
    return receiving.result() if receiving.done() and not receiving.cancelled() else None


async def _dispatch(gateway, frame, send, watching):
    kind, ref = frame["type"], frame.get("id")
    if kind == "ping":
        send({"type": "pong"}, ref)
    elif kind == "message":
        gateway.relays.tasks.spawn(_converse(gateway, frame, ref, send, watching),
                                   name="gateway /ws turn")
    elif kind == "watch":
        await _watch(gateway, frame, ref, send)
    elif kind in ("cancel", "resume"):
        session_id = frame.get("session_id")
        if not isinstance(session_id, str) or not session_id:
            raise GatewayError(400, f"session_id: field required: the session to {kind}")
        relays = gateway.relays.of(session_id)
        if kind == "resume":
            for relay in relays:
                watching.add(relay)
                relay.catch_up(send, ref)
            if not relays:
                send({"type": "idle"}, ref, session_id)
        elif not [relay for relay in relays if relay.stop()]:
            raise GatewayError(404, f"no turn in flight for session '{session_id}'")
    else:
        raise GatewayError(400, f"unknown frame type '{kind}'; send 'message', 'cancel', "
                                "'resume', 'watch' or 'ping'")


def _ref(raw):
    """The ``id`` of a frame, if it is readable, for its error frame."""
    try:
        frame = decode_json(raw, "a frame")
    except (GatewayError, TypeError):
        return None
    return frame.get("id") if isinstance(frame, dict) else None


def _parse_frame(raw, limit):
    size = len(raw.encode() if isinstance(raw, str) else raw)
    if size > limit:
        raise GatewayError(413, f"frame too large: {size} bytes, the limit is {limit}")
    frame = decode_json(raw, "a frame")
    if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
        raise GatewayError(400, "a frame must be a JSON object with a 'type'")
    return frame


async def _converse(gateway, frame, ref, send, watching):
    session_id = frame.get("session_id")
    try:
        with gateway.turns.reserve():  # a 429 frame above [gateway] max_concurrent_turns
            content = parse_content(frame.get("content"))
            if session_id is not None:
                if (not isinstance(session_id, str)
                        or await gateway.storage.get_session(session_id) is None):
                    raise GatewayError(404, f"no session with id '{session_id}'")
            else:
                session_id = (await gateway.agent.new_session(CHANNEL)).id
                send({"type": "session"}, ref, session_id)
            gateway.watchers.add(session_id, send)
            relay = TurnRelay(await gateway.turns.start(session_id, CHANNEL, content), session_id)
            relay.watch(send, ref)
            watching.add(relay)
            gateway.relays.add(relay)
            try:
                await relay.run()
            finally:
                gateway.relays.remove(relay)
                watching.discard(relay)
    except GatewayError as error:
        send(error_body(error), ref, session_id)
    except Exception as exc:  # a failing conversation must not close the socket
        send(error_body(unexpected(exc, "a /ws message")), ref, session_id)


async def _watch(gateway, frame, ref, send):
    session_id = frame.get("session_id")
    if not isinstance(session_id, str) or await gateway.storage.get_session(session_id) is None:
        raise GatewayError(404, f"no session with id '{session_id}'")
    gateway.watchers.add(session_id, send)
    send({"type": "watching"}, ref, session_id)


class Watchers:
    """The sockets watching each session (by their ``send``), and showing them turns of it
    that none of them asked for (frames tagged ``"origin": "schedule"``)."""

    def __init__(self):
        self._sends = {}  # session id -> set of send functions

    def add(self, session_id, send):
        self._sends.setdefault(session_id, set()).add(send)

    def remove(self, send):
        for session_id in list(self._sends):
            self._sends[session_id].discard(send)
            if not self._sends[session_id]:
                del self._sends[session_id]

    def _show(self, session_id, frame):
        for send in list(self._sends.get(session_id, ())):
            send({**frame, "origin": "schedule"}, None, session_id)

    async def publish(self, session_id, events):
        """Show the turn ``events`` of ``session_id`` to its watchers as it happens."""
        async for event in events:
            self._show(session_id, frame_of(event))

    async def publish_message(self, session_id, message):
        """Show a stored assistant message of ``session_id`` (a notice) to its watchers."""
        self._show(session_id, {"type": "message", "role": message.role,
                                "content": message.content})
