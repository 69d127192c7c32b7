"""The ``/ws`` protocol: JSON text frames both ways, several conversations per socket.

Client → server::

    {"type": "message", "content": "hi" | [blocks], "session_id"?: "...", "id"?: "..."}
    {"type": "ping", "id"?: "..."}

Server → client, every frame naming its ``session_id`` and echoing the client's ``id``::

    {"type": "session", ...}                       a new session was started for the message
    {"type": "typing", ...}                        the agent is working on it
    {"type": "delta", "text": "...", ...}          more of the reply, as it is produced
    {"type": "tool", "name": "...", ...}           the agent is running a tool
    {"type": "message", "content": [...], "usage": {...}, "stop_reason": "...", ...}
    {"type": "error", "error": {"type", "message"}, ...}
    {"type": "pong", ...}

A bad frame (not JSON, too large, unknown type, unknown session) is answered with an error
frame; the connection stays open. Each message runs as its own task, so replies to
different sessions interleave.
"""

import asyncio
import json

from blufio.agent.events import TextDelta, ToolUse, TurnComplete, TurnError, Typing
from blufio.plugins.gateway.errors import GatewayError, from_exception

CHANNEL = "gateway"


async def serve_socket(gateway, socket):
    """Read frames from ``socket`` until it closes, answering each message in a task."""
    send_lock = asyncio.Lock()
    tasks = set()

    async def send(frame):
        async with send_lock:
            await socket.send(json.dumps(frame))

    async def send_error(error, ref=None, session_id=None):
        frame = {"type": "error", "error": {"type": error.error_type, "message": error.message}}
        await send(_tagged(frame, ref, session_id))

    try:
        while True:
            raw = await socket.receive()
            try:
                frame = _parse_frame(raw, gateway.max_body_bytes)
            except GatewayError as error:
                await send_error(error)
                continue
            ref = frame.get("id")
            if frame["type"] == "ping":
                await send(_tagged({"type": "pong"}, ref, None))
            elif frame["type"] == "message":
                task = asyncio.create_task(_converse(gateway, frame, ref, send, send_error))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            else:
                await send_error(GatewayError(400, f"unknown frame type '{frame['type']}'; "
                                                   "send 'message' or 'ping'"), ref)
    finally:
        # The socket is gone; the turns themselves carry on and are stored by the agent.
        for task in tasks:
            task.cancel()


def _parse_frame(raw, limit):
    size = len(raw.encode() if isinstance(raw, str) else raw)
    if size > limit:
        raise GatewayError(413, f"frame too large: {size} bytes, the limit is {limit}")
    try:
        frame = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise GatewayError(400, "frames must be JSON text") from None
    if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
        raise GatewayError(400, "a frame must be a JSON object with a 'type'")
    return frame


def _tagged(frame, ref, session_id):
    if session_id is not None:
        frame["session_id"] = session_id
    if ref is not None:
        frame["id"] = ref
    return frame


async def _converse(gateway, frame, ref, send, send_error):
    session_id = frame.get("session_id")
    try:
        content = _content(frame.get("content"))
        if session_id is not None:
            if not isinstance(session_id, str) or await gateway.storage.get_session(session_id) is None:
                raise GatewayError(404, f"no session with id '{session_id}'")
        else:
            session_id = (await gateway.agent.new_session(CHANNEL)).id
            await send(_tagged({"type": "session"}, ref, session_id))
        async for event in gateway.agent.submit(session_id, CHANNEL, content):
            out = _frame_for(event)
            if out is not None:
                await send(_tagged(out, ref, session_id))
            if isinstance(event, (TurnComplete, TurnError)):
                return
    except GatewayError as error:
        await send_error(error, ref, session_id)
    except Exception as exc:  # a failing conversation must not close the socket
        await send_error(from_exception(exc), ref, session_id)


def _content(content):
    if isinstance(content, str) and content:
        return [{"type": "text", "text": content}]
    if isinstance(content, list) and content and all(
            isinstance(b, dict) and isinstance(b.get("type"), str) for b in content):
        return content
    raise GatewayError(400, "content: must be a non-empty string or a list of content blocks")


def _frame_for(event):
    if isinstance(event, Typing):
        return {"type": "typing"}
    if isinstance(event, TextDelta):
        return {"type": "delta", "text": event.text}
    if isinstance(event, ToolUse):
        return {"type": "tool", "name": event.name}
    if isinstance(event, TurnComplete):
        return {"type": "message", "role": "assistant", "model": event.model,
                "content": [{"type": "text", "text": event.text}] if event.text else [],
                "stop_reason": event.stop_reason, "usage": event.usage.as_dict()}
    if isinstance(event, TurnError):
        error = from_exception(event.error)
        return {"type": "error", "error": {"type": error.error_type, "message": error.message}}
    return None
