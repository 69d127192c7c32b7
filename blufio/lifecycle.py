"""One lifecycle for everything a process starts: adapters and background tasks.

``Lifecycle`` is an ``AsyncExitStack`` with two habits: every adapter it starts is shut down
exactly once, in reverse order, and a failing shutdown is logged rather than stopping the
others. ``TaskGroup`` owns background tasks: each is tracked from ``spawn`` until it ends,
and ``aclose`` waits for them (up to a timeout), cancels what is left and awaits it, so no
task is ever left pending at exit. (``asyncio.TaskGroup`` needs Python 3.11 and cancels
every task when one fails; background work here must not take its siblings down.)
"""

import asyncio
import contextlib
import logging

log = logging.getLogger("blufio.lifecycle")


class TaskGroup:
    """Background tasks with one owner; ``aclose`` ends them all and awaits them."""

    def __init__(self, name):
        self.name = name
        self._tasks = set()

    def __len__(self):
        return len(self._tasks)

    def spawn(self, coroutine, *, name=None):
        """Run ``coroutine`` as a task of this group; an exception it raises is logged."""
        task = asyncio.get_running_loop().create_task(coroutine, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task):
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s: background task %s failed", self.name, task.get_name(),
                      exc_info=task.exception())

    async def aclose(self, timeout=0.0):
        """Wait up to ``timeout`` seconds for the tasks, then cancel the rest and await them."""
        pending = set(self._tasks)
        if not pending:
            return
        if timeout:
            _, pending = await asyncio.wait(pending, timeout=timeout)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


class Lifecycle(contextlib.AsyncExitStack):
    """Starts things in order and stops them in reverse, each exactly once."""

    def adapter(self, name, adapter):
        """Register ``adapter`` (already started) to be shut down; return it."""
        self.push_async_callback(_shutdown_quietly, name, adapter)
        return adapter

    def tasks(self, group, timeout=0.0):
        """Register ``group`` to be closed (waiting up to ``timeout``); return it."""
        self.push_async_callback(group.aclose, timeout)
        return group


async def _shutdown_quietly(name, adapter):
    try:
        await adapter.shutdown()
    except Exception:
        log.exception("%s: shutdown failed", name)
