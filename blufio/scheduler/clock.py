"""The scheduler's clock: what time it is, and sleeping until a time or a wake-up.

The scheduler never reads the time or sleeps by itself; it is handed a clock, so tests hand
it one they move by hand and no test waits for a schedule.
"""

import asyncio
from datetime import datetime, timezone


class SystemClock:
    """Wall-clock time (aware UTC) and the event loop's timers."""

    def now(self):
        return datetime.now(timezone.utc)

    async def sleep(self, seconds):
        await asyncio.sleep(seconds)

    async def sleep_until(self, when, wake, longest):
        """Return at ``when`` (None: no time), as soon as ``wake`` is set, or after
        ``longest`` seconds, whichever comes first. The bound keeps a wall clock that was
        stepped (NTP, a suspended VM) from delaying a run for long."""
        delay = longest if when is None else min(longest, (when - self.now()).total_seconds())
        if delay <= 0 or wake.is_set():
            return
        try:
            await asyncio.wait_for(wake.wait(), delay)
        except asyncio.TimeoutError:
            pass
