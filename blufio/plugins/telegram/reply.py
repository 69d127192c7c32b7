"""Rendering a reply into a Telegram chat as it streams.

``StreamedReply`` turns a growing text into as few Bot API calls as possible: the first
``sendMessage`` when text first arrives, then ``editMessageText`` of that message at most
once per ``edit_interval`` seconds, and a final edit with the complete text. Text longer
than a message holds (``MAX_MESSAGE_LENGTH``, counted as Telegram does, in UTF-16 code
units) continues in further messages, split by ``split_text`` at a paragraph, line or word
boundary when there is one. ``typing`` keeps the chat's typing indicator on meanwhile.
"""

import asyncio
import contextlib
import logging
import time

from blufio.plugins.telegram.api import BotAPIError

log = logging.getLogger("blufio.telegram")

MAX_MESSAGE_LENGTH = 4096
TYPING_INTERVAL = 4.0  # Telegram shows "typing" for 5 s after each sendChatAction
_SEPARATORS = ("\n\n", "\n", " ")


def utf16_length(text):
    """The length of ``text`` as Telegram counts it."""
    return len(text.encode("utf-16-le")) // 2


def _fitting_prefix(text, limit):
    """How many characters of ``text`` fit in ``limit`` UTF-16 code units."""
    units = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit:
            return index
    return len(text)


def split_text(text, limit=MAX_MESSAGE_LENGTH):
    """Split ``text`` into pieces of at most ``limit`` UTF-16 code units.

    Each cut is at the last paragraph break, else line break, else space, in the second half
    of the piece; a text without any is cut at the limit. The separator at a cut is dropped;
    pieces that would be blank are left out.
    """
    pieces = []
    while utf16_length(text) > limit:
        window = _fitting_prefix(text, limit)
        for separator in _SEPARATORS:
            at = text.rfind(separator, window // 2, window + len(separator))
            if at != -1:
                piece, text = text[:at], text[at + len(separator):]
                break
        else:
            piece, text = text[:window], text[window:]
        if piece.strip():
            pieces.append(piece)
    if text.strip():
        pieces.append(text)
    return pieces


@contextlib.asynccontextmanager
async def typing(api, chat_id, interval=None):
    """Show "typing…" in ``chat_id`` until the block ends (repeated every ``interval`` s)."""
    interval = TYPING_INTERVAL if interval is None else interval

    async def repeat():
        while True:
            try:
                await api.call("sendChatAction", chat_id=chat_id, action="typing")
            except BotAPIError as exc:
                log.debug("%s", exc)  # cosmetic: never worth failing a reply for
            await asyncio.sleep(interval)

    task = asyncio.get_running_loop().create_task(repeat())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class StreamedReply:
    """One reply to ``chat_id``: ``feed(delta)`` as text arrives, then ``await finish()``.

    Intermediate edits run in a background task, so ``feed`` never waits for the network,
    and are best effort (a failed one is simply overtaken by the next); ``finish`` retries.
    ``aclose()`` abandons the reply (e.g. at shutdown).
    """

    def __init__(self, api, chat_id, *, edit_interval=1.0, clock=time.monotonic):
        self.api = api
        self.chat_id = chat_id
        self.edit_interval = edit_interval
        self.text = ""
        self._clock = clock
        self._shown = []  # [message_id, text] of each message sent so far
        self._next_edit = 0.0  # clock time before which no edit may be made
        self._wake = asyncio.Event()
        self._done = False
        self._pump_task = None

    def feed(self, delta):
        """Append ``delta`` to the reply; it is shown at the next allowed moment."""
        if not delta:
            return
        self.text += delta
        self._wake.set()
        if self._pump_task is None:
            self._pump_task = asyncio.get_running_loop().create_task(self._pump())

    async def finish(self, text=None):
        """Show the complete reply (``text`` when given, else what was fed) and stop."""
        if text is not None:
            self.text = text
        await self._stop_pump()
        await self._render(final=True)

    async def aclose(self):
        self._done = True
        if self._pump_task is not None:
            self._pump_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump_task

    async def _stop_pump(self):
        self._done = True
        self._wake.set()
        if self._pump_task is not None:
            await self._pump_task

    async def _pump(self):
        while not self._done:
            await self._wake.wait()
            self._wake.clear()
            if self._shown:
                await self._wait_for_edit_slot()
            if self._done:
                return
            try:
                await self._render(final=False)
            except BotAPIError as exc:
                log.debug("streamed edit skipped: %s", exc)
                if exc.retry_after:
                    self._next_edit = self._clock() + float(exc.retry_after)

    async def _wait_for_edit_slot(self):
        delay = self._next_edit - self._clock()
        if delay > 0:
            await asyncio.sleep(delay)

    async def _render(self, final):
        call = self.api.call_with_retry if final else self.api.call
        for index, piece in enumerate(split_text(self.text)):
            if index == len(self._shown):
                sent = await call("sendMessage", chat_id=self.chat_id, text=piece)
                self._shown.append([sent["message_id"], piece])
                if index == 0:
                    self._next_edit = self._clock() + self.edit_interval
            elif self._shown[index][1] != piece:
                await self._wait_for_edit_slot()
                try:
                    await call("editMessageText", chat_id=self.chat_id,
                               message_id=self._shown[index][0], text=piece)
                except BotAPIError as exc:
                    if not exc.not_modified:
                        raise
                self._next_edit = self._clock() + self.edit_interval
                self._shown[index][1] = piece
