"""``TurnStream``: the events of one turn as the agent produces them, and a way to stop it."""

import asyncio

from blufio.agent.events import TextDelta

DONE = object()  # the agent's end-of-stream marker


class TurnStream:
    """The events of one turn, as an async iterator; ends after TurnComplete/TurnError.

    It ends with no events at all when the entry was already claimed by someone else.
    ``stop()`` asks the turn to end early (see ``Agent``'s module docstring).
    """

    def __init__(self):
        self._queue = asyncio.Queue()
        self._finished = False
        self._text = []  # the reply's text so far, kept for a stop
        self.task = None
        self.stop_requested = False
        self.started = False  # the turn holds its session and is running
        self.storing = False  # the turn is being stored: too late to stop it

    def _emit(self, event):
        if isinstance(event, TextDelta):
            self._text.append(event.text)
        self._queue.put_nowait(event)

    def text_so_far(self):
        """The reply's text streamed so far."""
        return "".join(self._text)

    def stop(self):
        """End the turn now: it completes with ``stop_reason`` ``"cancelled"``, its message
        and the text streamed so far stored. Returns False when it is over or being stored."""
        if self.task is None or self.task.done() or self.storing or self.stop_requested:
            return False
        self.stop_requested = True
        self.task.cancel()
        return True

    def __aiter__(self):
        return self

    async def __anext__(self):
        if self._finished:
            raise StopAsyncIteration
        event = await self._queue.get()
        if event is DONE:
            self._finished = True
            raise StopAsyncIteration
        return event

    async def wait(self):
        """Consume the stream; return its last event (None if there was none)."""
        last = None
        async for event in self:
            last = event
        return last
