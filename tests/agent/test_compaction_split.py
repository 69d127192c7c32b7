"""Where compaction splits a history: within the budgets, never between a tool_use and its
tool_result, and what the summariser reads."""

from blufio.agent.compaction import split_point, transcript, trimmed
from blufio.agent.turn_state import clean_start
from blufio.model import Message, text_blocks


def msg(i, role, content):
    return Message(i, "s", role, content, "2026-01-01T00:00:00Z")


def chat(turns, size=10):
    """``turns`` user/assistant pairs; every third turn uses a tool in between."""
    out, i = [], 1
    for n in range(turns):
        out.append(msg(i, "user", text_blocks("u" * size)))
        i += 1
        if n % 3 == 2:
            out.append(msg(i, "assistant", [{"type": "tool_use", "id": f"t{n}", "name": "x",
                                             "input": {}}]))
            out.append(msg(i + 1, "user", [{"type": "tool_result", "tool_use_id": f"t{n}",
                                            "content": "r" * size}]))
            i += 2
        out.append(msg(i, "assistant", text_blocks("a" * size)))
        i += 1
    return out


def test_a_history_within_both_budgets_is_not_split():
    assert split_point(chat(5), max_messages=100, max_chars=10_000) is None


def test_the_kept_part_fits_half_the_budget_and_starts_cleanly():
    messages = chat(40)
    for max_messages, max_chars in ((20, 100_000), (1000, 400), (30, 500)):
        start = split_point(messages, max_messages, max_chars)
        assert 0 < start < len(messages)
        assert clean_start(messages[start])
        kept = messages[start:]
        assert len(kept) <= max_messages // 2
        assert sum(len(str(b)) for m in kept for b in m.content) > 0
        ids = {b.get("id") for m in kept for b in m.content if b.get("type") == "tool_use"}
        results = {b.get("tool_use_id") for m in kept for b in m.content
                   if b.get("type") == "tool_result"}
        assert ids == results  # every pair whole, on one side


def test_a_last_turn_bigger_than_the_budget_is_kept_whole():
    messages = chat(3) + [msg(100, "user", text_blocks("x" * 5000)),
                          msg(101, "assistant", text_blocks("y" * 5000))]
    assert split_point(messages, 100, 1000) == len(messages) - 2


def test_no_clean_start_leaves_nothing_to_summarise():
    messages = [msg(1, "user", text_blocks("x" * 100)), msg(2, "assistant", text_blocks("y"))]
    assert split_point(messages, 100, 10) == 0


def test_trimming_keeps_the_newest_messages_from_a_clean_start():
    messages = chat(10)
    kept = trimmed(messages, max_messages=5, max_chars=10_000)
    assert kept and clean_start(kept[0]) and kept[-1] is messages[-1]


def test_the_transcript_names_who_said_what_and_keeps_the_end():
    messages = chat(3)
    text = transcript(messages)
    assert text.splitlines()[0] == "user: " + "u" * 10
    assert "assistant used tool x with {}" in text and "tool result: rrrrrrrrrr" in text
    huge = [msg(1, "user", text_blocks("old " * 50_000)), msg(2, "user", text_blocks("new"))]
    assert transcript(huge).endswith("user: new")
