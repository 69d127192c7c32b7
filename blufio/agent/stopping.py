"""A turn stopped by its client (``TurnStream.stop()``, e.g. the chat page's Stop button).

The user's message and the text streamed so far are stored as the turn, and it completes
with ``stop_reason`` ``"cancelled"``. A turn already being stored is not stopped (it
finishes); one still waiting behind another turn of its session is dropped, its inbound entry
marked failed. What its provider calls cost is already in the ledger (each call is recorded
as it ends, even when it is cut short).
"""

import asyncio
import contextlib
import logging

from blufio.agent.events import TurnComplete
from blufio.model import NewMessage, text_blocks

log = logging.getLogger("blufio.agent")


@contextlib.asynccontextmanager
async def stoppable(storage, inbound, stream, model):
    """Around a turn (and its wait for its session): when its client stopped it, store what
    it said and complete it; any other cancellation goes on up."""
    try:
        yield
    except asyncio.CancelledError:
        if not stream.stop_requested:
            raise
        await stopped(storage, inbound, stream, model)


async def stopped(storage, inbound, stream, model):
    """Store what the stopped turn of ``inbound`` said and end ``stream`` with its
    ``TurnComplete``."""
    text, stored = stream.text_so_far(), []
    try:
        if stream.started:
            stored = await storage.finish_turn(inbound.id, [
                NewMessage("user", inbound.content),
                NewMessage("assistant", text_blocks(text), model)])
        else:
            await storage.fail_turn(inbound.id, "stopped before it started")
    except Exception:
        log.exception("cannot store the stopped turn of inbound %s", inbound.id)
    stream._emit(TurnComplete(inbound.session_id, inbound.id,
                              message=stored[-1] if stored else None, text=text,
                              stop_reason="cancelled", model=model))
