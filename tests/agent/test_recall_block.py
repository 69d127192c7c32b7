"""How recalled items are weighed by recency and kind, and written within the budget."""

from datetime import datetime, timezone

from blufio.agent.recall import HEADER, describe, fit, weigh
from blufio.model import MemoryHit

NOW = datetime(2026, 11, 25, tzinfo=timezone.utc)


def hit(n, created_at, kind="message", text="text", role="user", channel="telegram"):
    return MemoryHit(kind, n, text, created_at, "s", channel, 0.0, role)


def test_recent_items_move_up_and_saved_memories_count_more():
    old = hit(1, "2024-01-01T00:00:00.000000Z")
    new = hit(2, "2026-11-24T00:00:00.000000Z")
    assert weigh([old, new], NOW) == [new, old]
    message = hit(3, "2026-11-24T00:00:00.000000Z")
    memory = hit(4, "2026-11-24T00:00:00.000000Z", kind="memory")
    assert weigh([message, memory], NOW) == [memory, message]


def test_relevance_still_leads_between_items_of_one_age():
    hits = [hit(n, "2026-11-20T00:00:00.000000Z") for n in range(5)]
    assert weigh(hits, NOW) == hits


def test_each_item_carries_its_date_and_source():
    assert describe(hit(1, "2026-11-20T10:00:00Z", text="the plumber  comes\nThursday")) == \
        "- [2026-11-20, the user said on telegram] the plumber comes Thursday"
    assert describe(hit(2, "2026-11-21T00:00:00Z", role="assistant", channel="")) == \
        "- [2026-11-21, you said] text"
    assert describe(hit(3, "2026-11-22T00:00:00Z", kind="memory", text="locker 4471")) == \
        "- [2026-11-22, saved memory] locker 4471"
    assert describe(hit(4, "2026-11-22T00:00:00Z", text="x" * 5000)).endswith("x…")


def test_lines_are_added_while_they_fit_the_budget():
    hits = [hit(1, "2026-11-20T00:00:00Z", text="a" * 300),
            hit(2, "2026-11-20T00:00:00Z", text="b" * 10)]
    lines = fit(hits, budget_chars=len(HEADER) + 100)
    assert lines == ["- [2026-11-20, the user said on telegram] " + "b" * 10]
    assert fit(hits, budget_chars=10) == []
