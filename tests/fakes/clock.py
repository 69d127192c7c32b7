"""A clock the test moves by hand, for the scheduler (``blufio.scheduler.clock``'s shape).

``sleep_until`` returns when the test has moved the time to (or past) the deadline, when
the scheduler is woken, or when ``longest`` seconds of *this* clock have passed. The test
can wait until the scheduler is asleep again (``asleep``) and read when it meant to wake
(``sleeps``). ``sleep`` (the pause between retries) is recorded and returns at once.
"""

import asyncio
from datetime import timedelta


class FakeClock:
    def __init__(self, now):
        self.current = now
        self.sleeps = []  # the deadline of every sleep_until, None for "no time"
        self.pauses = []  # the seconds of every sleep()
        self.sleeping = 0  # sleepers waiting now
        self.entered = 0  # times a sleeper began to wait (again, after each move)
        self._moved = asyncio.Event()
        self._waits = asyncio.Condition()  # notified whenever a sleeper begins to wait

    def now(self):
        return self.current

    async def sleep(self, seconds):
        self.pauses.append(seconds)
        await asyncio.sleep(0)

    async def sleep_until(self, when, wake, longest):
        self.sleeps.append(when)
        limit = self.current + timedelta(seconds=longest)
        deadline = limit if when is None else min(when, limit)
        while self.current < deadline and not wake.is_set():
            async with self._waits:
                self.entered += 1
                self.sleeping += 1
                self._waits.notify_all()
            moved = asyncio.ensure_future(self._moved.wait())
            woken = asyncio.ensure_future(wake.wait())
            try:
                await asyncio.wait({moved, woken}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                self.sleeping -= 1
                moved.cancel()
                woken.cancel()

    def move_to(self, moment):
        """Set the time (forward only) and let sleepers look at it."""
        assert moment >= self.current, "the clock only moves forward"
        self.current = moment
        self._moved.set()
        self._moved = asyncio.Event()

    def advance(self, **delta):
        self.move_to(self.current + timedelta(**delta))

    async def asleep(self, after=0, timeout=10.0):
        """Wait until a sleeper has begun to wait more than ``after`` times and waits now."""
        async def settled():
            async with self._waits:
                await self._waits.wait_for(lambda: self.entered > after and self.sleeping)

        await asyncio.wait_for(settled(), timeout)
