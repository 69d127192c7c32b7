"""``Writer``: SQLite's one writing connection on a thread of its own, with group commit.

Every write is a function ``function(conn, *args)`` that must happen whole or not at all.
The writer runs them in order, one transaction at a time, and a caller's ``await`` returns
only once its function is committed (or has failed and left nothing).

Under load, writes queue up while a transaction runs. The next transaction then takes every
write waiting (up to ``BATCH``) and runs each inside a savepoint: one that fails is rolled
back alone (its caller gets the error), the others commit together. That is one
``BEGIN``/``COMMIT`` and one hop between the event loop and the thread per batch instead of
per write, and it changes nothing a caller can observe: each write is still all or nothing,
in the order it was asked for, and durable before its ``await`` returns.
"""

import asyncio
import collections
import sqlite3
from concurrent.futures import ThreadPoolExecutor

BATCH = 100


class Writer:
    """The writer thread and its connection (made by ``connect()`` on that thread).

    ``translate(exc)`` turns a ``sqlite3.Error`` into the error callers see.
    """

    def __init__(self, translate):
        self._translate = translate
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="blufio-sqlite-writer")
        self.conn = None
        self._waiting = collections.deque()  # (function, args, future), appended on the loop
        self._busy = False  # a batch is on the thread or about to be

    async def call(self, function, *args):
        """Run ``function(*args)`` on the writer thread, outside any transaction."""
        return await asyncio.get_running_loop().run_in_executor(self._thread, function, *args)

    async def open(self, connect):
        self.conn = await self.call(connect)

    async def write(self, function, *args):
        """Run ``function(conn, *args)`` as (part of) one transaction: committed if it
        returns, rolled back if it raises; its result once committed."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._waiting.append((function, args, future))
        if not self._busy:
            self._busy = True
            self._thread.submit(self._run_batch, loop)
        return await future

    async def close(self):
        if self.conn is not None:
            await self.call(self.conn.close)
            self.conn = None
        self._thread.shutdown(wait=True)

    def _run_batch(self, loop):
        """On the thread: run what is waiting as one transaction; settle it on the loop."""
        batch = [self._waiting.popleft() for _ in range(min(BATCH, len(self._waiting)))]
        try:
            outcomes = self._transaction(batch)
        except BaseException as exc:  # BEGIN or COMMIT failed: nothing of the batch holds
            outcomes = [(False, exc)] * len(batch)
        loop.call_soon_threadsafe(self._settle, loop, batch, outcomes)

    def _transaction(self, batch):
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            outcomes = [self._run_one(conn, function, args, len(batch) > 1)
                        for function, args, _ in batch]
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return outcomes

    @staticmethod
    def _run_one(conn, function, args, savepoint):
        """``(True, result)`` or ``(False, exception)``; alone in its transaction a failure
        rolls the whole transaction back, in a batch only its savepoint."""
        if not savepoint:
            return True, function(conn, *args)
        conn.execute("SAVEPOINT one_write")
        try:
            result = function(conn, *args)
        except Exception as exc:
            conn.execute("ROLLBACK TO one_write")
            conn.execute("RELEASE one_write")
            return False, exc
        conn.execute("RELEASE one_write")
        return True, result

    def _settle(self, loop, batch, outcomes):
        """On the loop: hand each caller its outcome, then start the next batch if any."""
        for (_, _, future), (ok, value) in zip(batch, outcomes):
            if future.done():  # its caller was cancelled; the write happened all the same
                continue
            if ok:
                future.set_result(value)
            else:
                future.set_exception(self._translate(value) if isinstance(value, sqlite3.Error)
                                     else value)
        if self._waiting:
            self._thread.submit(self._run_batch, loop)
        else:
            self._busy = False
