"""The ``/ws`` protocol: JSON text frames both ways, several conversations per socket.

Client → server::

    {"type": "message", "content": "hi" | [blocks], "session_id"?: "...", "id"?: "..."}
    {"type": "watch", "session_id": "...", "id"?: "..."}
    {"type": "ping", "id"?: "..."}

Server → client, every frame naming its ``session_id`` and echoing the client's ``id``::

    {"type": "session", ...}                       a new session was started for the message
    {"type": "typing", ...}                        the agent is working on it
    {"type": "delta", "text": "...", ...}          more of the reply, as it is produced
    {"type": "tool", "name": "...", ...}           the agent is running a tool
    {"type": "message", "content": [...], "usage": {...}, "stop_reason": "...", ...}
    {"type": "error", "error": {"type", "message"}, ...}
    {"type": "watching", ...}                     the answer to "watch"
    {"type": "pong", ...}

A socket *watches* every session it sends a message in, and those it names in a ``watch``
frame: turns in them that nobody on the socket asked for (a schedule's runs, and notices
about them) are shown to it live, as the same frames without an ``id`` and with
``"origin": "schedule"``.

A bad frame (not JSON, too large, unknown type, unknown session, content that ``POST
/v1/messages`` would refuse) is answered with an error frame; the connection stays open.
A client that sends more than the server can answer while it does not read the replies is
closed with 1008; when the server shuts down, every connection is closed with 1001. Each
message runs as its own task, so replies to different sessions interleave.
"""

import asyncio
import json
import logging

from blufio.agent.events import EventRenderer
from blufio.plugins.gateway.errors import GatewayError, error_body, unexpected
from blufio.plugins.gateway.limits import decode_json
from blufio.plugins.gateway.messages import parse_content
from blufio.plugins.gateway.transport import OVERFLOW

CHANNEL = "gateway"
log = logging.getLogger("blufio.gateway")


async def serve_socket(gateway, socket):
    """Read frames from ``socket`` until it closes, answering each message in a task."""
    # The socket itself rather than Quart's context-local proxy: scheduled turns are sent to
    # it from tasks outside this request's context.
    socket = getattr(socket, "_get_current_object", lambda: socket)()
    send_lock = asyncio.Lock()
    tasks = set()

    async def send(frame, ref=None, session_id=None):
        if session_id is not None:
            frame["session_id"] = session_id
        if ref is not None:
            frame["id"] = ref
        async with send_lock:
            await socket.send(json.dumps(frame))

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
            except GatewayError as error:
                await send(error_body(error))
                continue
            ref = frame.get("id")
            if frame["type"] == "ping":
                await send({"type": "pong"}, ref)
            elif frame["type"] == "message":
                task = asyncio.create_task(_converse(gateway, frame, ref, send))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            elif frame["type"] == "watch":
                await _watch(gateway, frame, ref, send)
            else:
                await send(error_body(GatewayError(400, f"unknown frame type '{frame['type']}'; "
                                                        "send 'message', 'watch' or 'ping'")), ref)
    finally:
        # The socket is gone; the turns themselves carry on and are stored by the agent.
        gateway.watchers.remove(send)
        for task in tasks:
            task.cancel()


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


def _parse_frame(raw, limit):
    size = len(raw.encode() if isinstance(raw, str) else raw)
    if size > limit:
        raise GatewayError(413, f"frame too large: {size} bytes, the limit is {limit}")
    frame = decode_json(raw, "a frame")
    if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
        raise GatewayError(400, "a frame must be a JSON object with a 'type'")
    return frame


async def _converse(gateway, frame, ref, send):
    session_id = frame.get("session_id")
    try:
        with gateway.turns.reserve():  # a 429 frame above [gateway] max_concurrent_turns
            await _answer(gateway, frame, ref, send)
    except GatewayError as error:
        await send(error_body(error), ref, session_id)
    except Exception as exc:  # a failing conversation must not close the socket
        await send(error_body(unexpected(exc, "a /ws message")), ref, session_id)


async def _answer(gateway, frame, ref, send):
    session_id = frame.get("session_id")
    try:
        content = parse_content(frame.get("content"))
        if session_id is not None:
            if not isinstance(session_id, str) or await gateway.storage.get_session(session_id) is None:
                raise GatewayError(404, f"no session with id '{session_id}'")
        else:
            session_id = (await gateway.agent.new_session(CHANNEL)).id
            await send({"type": "session"}, ref, session_id)
        gateway.watchers.add(session_id, send)
        events = await gateway.turns.start(session_id, CHANNEL, content)
        await _Frames(send, ref, session_id).render(events)
    except GatewayError as error:  # after the session is known, its frames name it
        await send(error_body(error), ref, session_id)


async def _watch(gateway, frame, ref, send):
    session_id = frame.get("session_id")
    if not isinstance(session_id, str) or await gateway.storage.get_session(session_id) is None:
        await send(error_body(GatewayError(404, f"no session with id '{session_id}'")), ref)
        return
    gateway.watchers.add(session_id, send)
    await send({"type": "watching"}, ref, session_id)


class Watchers:
    """The sockets watching each session (by their ``send``), and showing them turns of it
    that none of them asked for."""

    def __init__(self):
        self._sends = {}  # session id -> set of send functions

    def add(self, session_id, send):
        self._sends.setdefault(session_id, set()).add(send)

    def remove(self, send):
        for session_id in list(self._sends):
            self._sends[session_id].discard(send)
            if not self._sends[session_id]:
                del self._sends[session_id]

    async def publish(self, session_id, events):
        """Show the turn ``events`` of ``session_id`` to its watchers as it happens."""
        async for event in events:
            for send in list(self._sends.get(session_id, ())):
                await self._show(send, lambda tagged, e=event: _Frames(
                    tagged, None, session_id).render_event(e))

    async def publish_message(self, session_id, message):
        """Show a stored assistant message of ``session_id`` (a notice) to its watchers."""
        frame = {"type": "message", "role": message.role, "content": message.content}
        for send in list(self._sends.get(session_id, ())):
            await self._show(send, lambda tagged: tagged(dict(frame), None, session_id))

    async def _show(self, send, render):
        async def tagged(frame, ref=None, session_id=None):
            frame["origin"] = "schedule"
            await send(frame, ref, session_id)

        try:
            await render(tagged)
        except Exception as exc:  # noqa: BLE001 - a socket that went away stops watching
            log.info("a /ws socket stopped watching: %s", exc)
            self.remove(send)


class _Frames(EventRenderer):
    """A turn's events as frames naming its session and echoing the client's ``id``."""

    def __init__(self, send, ref, session_id):
        self._send = send
        self._tags = (ref, session_id)

    async def on_typing(self, event):
        await self._send({"type": "typing"}, *self._tags)

    async def on_text_delta(self, event):
        await self._send({"type": "delta", "text": event.text}, *self._tags)

    async def on_tool_use(self, event):
        await self._send({"type": "tool", "name": event.name}, *self._tags)

    async def on_turn_complete(self, event):
        await self._send({"type": "message", "role": "assistant", "model": event.model,
                          "content": [{"type": "text", "text": event.text}] if event.text else [],
                          "stop_reason": event.stop_reason, "usage": event.usage.as_dict()},
                         *self._tags)

    async def on_turn_error(self, event):
        await self._send(error_body(event.error), *self._tags)
