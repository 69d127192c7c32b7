"""``RecentSet``: a set that remembers at most its ``limit`` most recently used members.

For caches that exist to skip a lookup (the agent's "this session exists" check): forgetting
an old member costs one lookup later, never a wrong answer, and the set stays bounded however
many distinct members a long-running process sees.
"""

from collections import OrderedDict


class RecentSet:
    """``add`` and ``in``, like a set; past ``limit`` members the least recently used goes."""

    __slots__ = ("_members", "limit")

    def __init__(self, limit):
        self.limit = max(1, limit)
        self._members = OrderedDict()

    def __contains__(self, member):
        if member in self._members:
            self._members.move_to_end(member)
            return True
        return False

    def __len__(self):
        return len(self._members)

    def add(self, member):
        self._members[member] = None
        self._members.move_to_end(member)
        if len(self._members) > self.limit:
            self._members.popitem(last=False)

    def discard(self, member):
        self._members.pop(member, None)
