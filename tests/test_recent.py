"""``RecentSet``: bounded, forgets the least recently used member first."""

from blufio.recent import RecentSet


def test_members_past_the_limit_are_forgotten_least_recently_used_first():
    recent = RecentSet(3)
    for member in "abc":
        recent.add(member)
    assert "a" in recent  # used: now the most recent
    recent.add("d")
    assert len(recent) == 3
    assert "b" not in recent and all(m in recent for m in "acd")


def test_adding_a_member_again_does_not_grow_the_set():
    recent = RecentSet(2)
    for _ in range(10):
        recent.add("x")
    assert len(recent) == 1
    recent.discard("x")
    assert "x" not in recent and len(recent) == 0
