"""``blufio.agent.turn_stream``: a turn's event stream stays small when nobody reads it."""

from blufio.agent.events import TextDelta, ToolUse, TurnComplete, Typing
from blufio.agent.turn_stream import TurnStream


async def test_a_stream_nobody_reads_merges_its_deltas_and_keeps_every_other_event():
    stream = TurnStream()
    stream._emit(Typing("s", 1))
    for index in range(10_000):
        stream._emit(TextDelta("s", 1, text=str(index % 10)))
    stream._emit(ToolUse("s", 1, name="clock"))
    for _ in range(10_000):
        stream._emit(TextDelta("s", 1, text="x"))
    stream._emit(TurnComplete("s", 1, text="done"))
    stream.end_early(TurnComplete("s", 1))  # the end, then nothing more is taken
    stream._emit(TextDelta("s", 1, text="late"))

    assert len(stream) < 200  # not 20,000 events waiting
    events = [event async for event in stream]
    kinds = [type(event).__name__ for event in events]
    assert kinds[0] == "Typing" and kinds[-2:] == ["TurnComplete", "TurnComplete"]
    tool = kinds.index("ToolUse")
    text = "".join(event.text for event in events if type(event) is TextDelta)
    assert text == "0123456789" * 1_000 + "x" * 10_000
    assert "".join(e.text for e in events[:tool] if type(e) is TextDelta) == "0123456789" * 1_000


async def test_a_reader_that_keeps_up_gets_each_delta_as_it_came():
    stream = TurnStream()
    for text in ("a", "b", "c"):
        stream._emit(TextDelta("s", 1, text=text))
    stream._emit(TurnComplete("s", 1))
    events = [await anext(stream) for _ in range(4)]
    assert [event.text for event in events] == ["a", "b", "c", ""]
