"""EventRenderer: every kind of agent event has its own method, and render() walks a turn."""

import re

import pytest

from blufio.agent import events as events_module
from blufio.agent.events import (AgentEvent, EventRenderer, TextDelta, ToolResult, ToolUse,
                                 TurnComplete, TurnError, Typing, is_outcome)
from blufio.errors import BudgetExceededError

TURN = [Typing("s", 1), TextDelta("s", 1, text="Hel"), ToolUse("s", 1, name="clock"),
        ToolResult("s", 1, name="clock", content="noon"), TextDelta("s", 1, text="lo"),
        TurnComplete("s", 1, text="Hello")]


class Recorder(EventRenderer):
    """Notes which method saw which event."""

    def __init__(self):
        self.seen = []

    async def on_typing(self, event):
        self.seen.append(("typing", event))

    async def on_text_delta(self, event):
        self.seen.append(("text", event.text))
        return event.text.upper()

    async def on_tool_use(self, event):
        self.seen.append(("tool_use", event.name))

    async def on_tool_result(self, event):
        self.seen.append(("tool_result", event.content))

    async def on_turn_complete(self, event):
        self.seen.append(("complete", event.text))

    async def on_turn_error(self, event):
        self.seen.append(("error", event.message))


async def stream(events):
    for event in events:
        yield event


async def test_each_event_goes_to_its_method_in_order_and_the_outcome_is_returned():
    recorder = Recorder()
    outcome = await recorder.render(stream(TURN))
    assert outcome is TURN[-1]
    assert recorder.seen == [("typing", TURN[0]), ("text", "Hel"), ("tool_use", "clock"),
                             ("tool_result", "noon"), ("text", "lo"), ("complete", "Hello")]


async def test_a_failed_turn_ends_with_its_error():
    failed = TurnError("s", 1, error=BudgetExceededError("the budget is spent"), kind="budget")
    recorder = Recorder()
    assert await recorder.render(stream([Typing("s", 1), failed])) is failed
    assert recorder.seen[-1] == ("error", "the budget is spent")


async def test_a_renderer_shows_only_what_it_overrides():
    class TextOnly(EventRenderer):
        def __init__(self):
            self.text = ""

        async def on_text_delta(self, event):
            self.text += event.text

    renderer = TextOnly()
    assert await renderer.render(stream(TURN)) is TURN[-1]
    assert renderer.text == "Hello"


async def test_render_event_hands_back_what_the_method_returns():
    assert await Recorder().render_event(TextDelta("s", 1, text="hi")) == "HI"
    assert await Recorder().render_event(Typing("s", 1)) is None


async def test_a_stream_without_an_outcome_renders_to_none():
    assert await Recorder().render(stream(TURN[:-1])) is None


async def test_something_that_is_not_an_agent_event_is_refused():
    with pytest.raises(TypeError, match="not an agent event"):
        await EventRenderer().render_event("ping")


def event_classes():
    return [value for value in vars(events_module).values() if isinstance(value, type)
            and issubclass(value, AgentEvent) and value is not AgentEvent]


@pytest.mark.parametrize("cls", event_classes(), ids=lambda cls: cls.__name__)
async def test_every_event_kind_has_a_method_that_render_event_calls(cls):
    method = "on_" + re.sub(r"(?<!^)(?=[A-Z])", "_", cls.__name__).lower()
    assert callable(getattr(EventRenderer, method, None)), f"EventRenderer.{method} is missing"

    class Calls(EventRenderer):
        pass

    async def note(self, event):
        return "called"

    setattr(Calls, method, note)
    assert await Calls().render_event(cls("s", 1)) == "called"


def test_only_turn_complete_and_turn_error_end_a_turn():
    assert [type(e).__name__ for e in TURN if is_outcome(e)] == ["TurnComplete"]
    assert is_outcome(TurnError("s", 1))
