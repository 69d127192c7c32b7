"""A ``/ws`` turn in flight, relayed to every socket that watches it.

A turn started on ``/ws`` outlives its socket: the agent finishes and stores it even if the
connection drops. ``TurnRelay`` consumes the turn's events and sends each as a frame to the
sockets watching it; a socket that (re)connects and sends ``resume`` for the session is
shown the turn so far in one ``turn`` frame, then everything that follows. ``Relays`` is the
gateway's book of relays in flight, by session.
"""

from blufio.agent.events import (EventRenderer, TextDelta, ToolResult, ToolUse, TurnComplete,
                                 Typing)
from blufio.lifecycle import TaskGroup
from blufio.plugins.gateway.errors import error_body


class TurnRelay(EventRenderer):
    """Frames of one turn to its watchers: ``send(frame, ref, session_id)`` callables that
    queue a frame on their socket without waiting, each with the ``id`` its socket gave
    (echoed in every frame)."""

    def __init__(self, stream, session_id):
        self.stream = stream
        self.session_id = session_id
        self._watchers = {}  # send -> ref
        self._text = []  # text already relayed
        self._tools = []  # tool names already relayed

    def watch(self, send, ref):
        self._watchers[send] = ref

    def unwatch(self, send):
        self._watchers.pop(send, None)

    def catch_up(self, send, ref):
        """Start relaying to ``send``, with one ``turn`` frame of what it missed."""
        self.watch(send, ref)
        send({"type": "turn", "text": "".join(self._text), "tools": list(self._tools)},
                   ref, self.session_id)

    def stop(self):
        return self.stream.stop()

    async def run(self):
        """Relay the turn's events until it ends."""
        await self.render(self.stream)

    def _emit(self, frame):
        for send, ref in list(self._watchers.items()):
            send(dict(frame), ref, self.session_id)

    async def on_event(self, event):
        frame = frame_of(event)
        if isinstance(event, TextDelta):
            self._text.append(event.text)
        elif isinstance(event, ToolUse):
            self._tools.append(event.name)
        self._emit(frame)

    on_typing = on_text_delta = on_tool_use = on_tool_result = on_event
    on_turn_complete = on_turn_error = on_event


def frame_of(event):
    """The ``/ws`` frame showing one agent event (without its ``session_id`` and ``id``)."""
    if isinstance(event, Typing):
        return {"type": "typing"}
    if isinstance(event, TextDelta):
        return {"type": "delta", "text": event.text}
    if isinstance(event, ToolUse):
        return {"type": "tool", "name": event.name}
    if isinstance(event, ToolResult):
        return {"type": "tool_result", "name": event.name, "is_error": event.is_error}
    if isinstance(event, TurnComplete):
        return {"type": "message", "role": "assistant", "model": event.model,
                "content": [{"type": "text", "text": event.text}] if event.text else [],
                "stop_reason": event.stop_reason, "usage": event.usage.as_dict(),
                "cost_usd": event.cost_usd}
    return error_body(event.error)


class Relays:
    """The ``/ws`` turns in flight, by session, oldest first; ``tasks`` relays them."""

    def __init__(self):
        self._by_session = {}
        self.tasks = TaskGroup("gateway /ws")

    def add(self, relay):
        self._by_session.setdefault(relay.session_id, []).append(relay)

    def remove(self, relay):
        relays = self._by_session.get(relay.session_id, [])
        if relay in relays:
            relays.remove(relay)
        if not relays:
            self._by_session.pop(relay.session_id, None)

    def of(self, session_id):
        return list(self._by_session.get(session_id, ()))
