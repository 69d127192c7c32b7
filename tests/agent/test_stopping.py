"""Stopping a turn (``TurnStream.stop``, ``blufio.agent.stopping``): what is stored, what is
reported, what it costs."""

import asyncio

from blufio.agent.events import TextDelta, TurnComplete
from blufio.model import text_blocks
from tests.agent import test_loop
from tests.fakes.anthropic_server import slow_text_reply, text_reply

harness = test_loop.harness  # the fixture: an agent over the fake Anthropic API


async def start_turn(agent, session_id, text):
    inbound = await agent.receive(session_id, "test", text, claim=True)
    return agent.process(inbound)


async def test_a_stopped_turn_keeps_the_message_and_the_text_so_far(harness, fake_anthropic):
    fake_anthropic.add(slow_text_reply("one two three four five six seven", pause=0.3,
                                       chunk_size=4))
    session = await harness.agent.new_session("test")
    stream = await start_turn(harness.agent, session.id, "count")
    events = []
    async for event in stream:
        events.append(event)
        if isinstance(event, TextDelta):
            assert stream.stop()
            assert not stream.stop()  # once is enough
    done = events[-1]
    assert isinstance(done, TurnComplete) and done.stop_reason == "cancelled"
    assert done.text == "one " and done.message is not None
    stored = await harness.storage.get_messages(session.id)
    assert [(m.role, m.content) for m in stored] == [
        ("user", text_blocks("count")), ("assistant", text_blocks("one "))]
    assert await harness.storage.unfinished() == []
    ledger = await harness.storage.cost_entries(session_id=session.id)
    assert len(ledger) == 1  # the interrupted call is still accounted for


async def test_the_session_goes_on_after_a_stop(harness, fake_anthropic):
    fake_anthropic.add(slow_text_reply("never finished", pause=5), text_reply("fine"))
    session = await harness.agent.new_session("test")
    stream = await start_turn(harness.agent, session.id, "first")
    async for event in stream:
        if isinstance(event, TextDelta):
            stream.stop()
    events = [e async for e in harness.agent.submit(session.id, "test", "second")]
    assert events[-1].text == "fine"
    sent = fake_anthropic.message_requests[-1].json["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]


async def test_a_turn_still_waiting_for_its_session_is_dropped(harness, fake_anthropic):
    fake_anthropic.add(slow_text_reply("the first reply", pause=0.1), text_reply("unused"))
    session = await harness.agent.new_session("test")
    first = await start_turn(harness.agent, session.id, "first")
    second = await start_turn(harness.agent, session.id, "second")
    await asyncio.sleep(0)
    assert second.stop()
    assert (await second.wait()).stop_reason == "cancelled"
    assert (await first.wait()).text == "the first reply"
    stored = await harness.storage.get_messages(session.id)
    assert [m.content for m in stored] == [text_blocks("first"), text_blocks("the first reply")]
    assert len(fake_anthropic.message_requests) == 1


async def test_a_finished_turn_cannot_be_stopped(harness, fake_anthropic):
    session = await harness.agent.new_session("test")
    stream = await start_turn(harness.agent, session.id, "hi")
    assert (await stream.wait()).stop_reason == "end_turn"
    await asyncio.sleep(0)
    assert not stream.stop()
