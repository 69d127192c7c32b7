"""``SessionLocks``: one turn lock per session with a turn queued or running.

The turns of one session run one at a time, in the order they asked for the lock (an
``asyncio.Lock`` is fair). A session holding an entry is *active*; ``report(count)`` hears
how many are whenever that changes.
"""

import asyncio


class SessionLocks(dict):
    """Session id -> ``[lock, turns holding or waiting for it]``."""

    def __init__(self, report):
        super().__init__()
        self.report = report

    def take(self, session_id):
        """The session's entry, counted as used by one more turn."""
        entry = self.get(session_id)
        if entry is None:
            entry = self[session_id] = [asyncio.Lock(), 0]
            self.report(len(self))
        entry[1] += 1
        return entry

    def give_back(self, session_id, entry):
        """One turn is done with ``entry``; the last one removes it."""
        entry[1] -= 1
        if entry[1] == 0:
            del self[session_id]
            self.report(len(self))
