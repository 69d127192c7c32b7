"""The agent loop end to end: real provider over HTTP to the fake_anthropic, real SQLite storage."""

import asyncio
import threading

import pytest

from blufio.agent.events import TextDelta, ToolResult, ToolUse, TurnComplete, TurnError, Typing
from blufio.agent.loop import Agent
from blufio.errors import StorageError
from blufio.model import NewMessage, text_blocks
from blufio.plugins.anthropic.prices import PRICES
from blufio.plugins.anthropic.provider import AnthropicProvider
from blufio.plugins.sqlite.storage import SqliteStorage
from tests.fakes.anthropic_server import (dropped, malformed, stream_error,
                                          text_reply, tool_use_reply)
from tests.fakes.config import make_config


class Harness:
    """Config + storage + provider + agent over the fake_anthropic, rebuilt on demand (a restart)."""

    def __init__(self, tmp_path, fake_anthropic, toml=""):
        self.config = make_config(
            tmp_path, f'[anthropic]\nbase_url = "{fake_anthropic.base_url}"\nread_timeout = 2.0\n'
            f'[storage]\npath = "{tmp_path / "blufio.db"}"\n'
            f'[tools]\nworkspace = "{tmp_path / "ws"}"\n{toml}',
            environ={"ANTHROPIC_API_KEY": "sk-test"})
        self.agents = []

    async def start(self):
        self.storage = SqliteStorage(self.config)
        await self.storage.open()
        self.provider = AnthropicProvider(self.config)
        self.provider.policy.backoff_base = 0.01
        self.agent = Agent.from_config(self.config, provider=self.provider, storage=self.storage)
        return self.agent

    async def stop(self):
        await self.agent.aclose()
        await self.provider.shutdown()
        await self.storage.shutdown()


@pytest.fixture
async def harness(tmp_path, fake_anthropic):
    h = Harness(tmp_path, fake_anthropic)
    await h.start()
    yield h
    await h.stop()


async def turn(agent, session_id, text, channel="test"):
    return [event async for event in agent.submit(session_id, channel, text)]


async def test_plain_turn_streams_and_is_stored(harness, fake_anthropic):
    fake_anthropic.add(text_reply("Hello there!", usage={"input_tokens": 20, "output_tokens": 4}))
    session = await harness.agent.new_session("test")
    events = await turn(harness.agent, session.id, "hi")
    assert isinstance(events[0], Typing)
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Hello there!"
    done = events[-1]
    assert isinstance(done, TurnComplete)
    assert done.text == "Hello there!" and done.usage.output_tokens == 4
    assert done.cost_usd > 0 and done.stop_reason == "end_turn"
    stored = await harness.storage.get_messages(session.id)
    assert [m.role for m in stored] == ["user", "assistant"]
    assert stored[1].content == text_blocks("Hello there!")
    assert done.message.id == stored[1].id
    ledger = await harness.storage.cost_entries(session_id=session.id)
    assert len(ledger) == 1 and ledger[0].usage.input_tokens == 20
    assert await harness.storage.unfinished() == []
    body = fake_anthropic.message_requests[0].json
    assert body["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert body["tools"][-1]["cache_control"] == {"type": "ephemeral"}


async def test_tool_turn_runs_the_tool_and_stores_every_message(harness, fake_anthropic):
    fake_anthropic.add(tool_use_reply("current_time", {"timezone": "UTC"}, text="Checking.",
                            tool_id="toolu_a"),
             text_reply("It is late."))
    session = await harness.agent.new_session("test")
    events = await turn(harness.agent, session.id, "what time is it?")
    uses = [e for e in events if isinstance(e, ToolUse)]
    results = [e for e in events if isinstance(e, ToolResult)]
    assert uses[0].name == "current_time" and uses[0].input == {"timezone": "UTC"}
    assert not results[0].is_error and results[0].content.startswith("UTC: ")
    assert events[-1].text == "Checking.\n\nIt is late."
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == events[-1].text
    stored = await harness.storage.get_messages(session.id)
    assert [m.role for m in stored] == ["user", "assistant", "user", "assistant"]
    assert stored[1].content[-1]["type"] == "tool_use"
    assert stored[2].content[0]["tool_use_id"] == "toolu_a"
    second = fake_anthropic.message_requests[1].json["messages"]
    assert second[-1]["content"][0]["type"] == "tool_result"
    assert second[-2]["content"][-1]["id"] == "toolu_a"
    assert len(await harness.storage.cost_entries(session_id=session.id)) == 2


async def test_a_refused_tool_is_reported_to_the_model(harness, fake_anthropic):
    fake_anthropic.add(tool_use_reply("read_file", {"path": "../../etc/passwd"}), text_reply("Cannot."))
    session = await harness.agent.new_session("test")
    events = await turn(harness.agent, session.id, "read it")
    result = next(e for e in events if isinstance(e, ToolResult))
    assert result.is_error and "outside the workspace" in result.content
    assert isinstance(events[-1], TurnComplete)
    sent = fake_anthropic.message_requests[1].json["messages"][-1]["content"][0]
    assert sent["is_error"] is True


@pytest.mark.parametrize("failure", [stream_error, dropped, malformed])
async def test_mid_stream_failure_stores_no_partial_reply(harness, fake_anthropic, failure):
    fake_anthropic.add(failure("Partial"))
    session = await harness.agent.new_session("test")
    events = await turn(harness.agent, session.id, "hi")
    assert isinstance(events[-1], TurnError) and events[-1].kind == "provider"
    assert "Partial" in "".join(e.text for e in events if isinstance(e, TextDelta))
    assert await harness.storage.get_messages(session.id) == []
    assert await harness.storage.unfinished() == []
    # the next turn works and does not see the failed one's partial text
    events = await turn(harness.agent, session.id, "again")
    assert isinstance(events[-1], TurnComplete)
    assert [m["role"] for m in fake_anthropic.message_requests[-1].json["messages"]] == ["user"]


async def test_spent_budget_refuses_without_a_provider_call(tmp_path, fake_anthropic):
    h = Harness(tmp_path, fake_anthropic, "[cost]\ndaily_budget_usd = 0.0001\n")
    agent = await h.start()
    try:
        session = await agent.new_session("test")
        first = await turn(agent, session.id, "hi")  # spends more than 0.0001
        assert isinstance(first[-1], TurnComplete)
        calls = len(fake_anthropic.message_requests)
        events = await turn(agent, session.id, "again")
        assert isinstance(events[-1], TurnError) and events[-1].kind == "budget"
        assert "daily budget" in events[-1].message
        assert len(fake_anthropic.message_requests) == calls
    finally:
        await h.stop()


async def test_history_is_sent_and_sessions_survive_a_restart(tmp_path, fake_anthropic):
    h = Harness(tmp_path, fake_anthropic)
    agent = await h.start()
    session = await agent.new_session("test")
    await turn(agent, session.id, "first")
    await h.stop()
    agent = await h.start()
    try:
        events = await turn(agent, session.id, "second")
        assert events[-1].text == "echo: second"
        sent = fake_anthropic.message_requests[-1].json["messages"]
        assert [m["role"] for m in sent] == ["user", "assistant", "user"]
        assert sent[1]["content"][0]["text"] == "echo: first"
    finally:
        await h.stop()


async def test_one_session_runs_in_order_and_sessions_run_concurrently(harness, fake_anthropic):
    agent = harness.agent
    a = await agent.new_session("test")
    b = await agent.new_session("test")

    # a's first turn stalls on the server until released; b must not wait for it
    from tests.fakes.anthropic_server import paused_text_reply, wait_for

    released = threading.Event()
    fake_anthropic.add(paused_text_reply("slow", released))
    a1 = asyncio.create_task(turn(agent, a.id, "a1"))
    assert await asyncio.to_thread(wait_for, lambda: fake_anthropic.message_requests)
    a2 = asyncio.create_task(turn(agent, a.id, "a2"))
    b1 = await asyncio.wait_for(turn(agent, b.id, "b1"), 10)
    assert b1[-1].text == "echo: b1"
    assert not a1.done() and not released.is_set()
    released.set()
    await a1
    second = await a2
    assert second[-1].text == "echo: a2"
    sent = fake_anthropic.message_requests[-1].json["messages"]
    assert [m["content"][0]["text"] for m in sent] == ["a1", "slow", "a2"]


async def test_unfinished_messages_are_answered_once_after_a_crash(tmp_path, fake_anthropic):
    h = Harness(tmp_path, fake_anthropic)
    agent = await h.start()
    session = await agent.new_session("test")
    crashed = await agent.receive(session.id, "test", "lost in the crash")
    assert await h.storage.claim(crashed.id)  # it was being processed when the crash came
    pending = await agent.receive(session.id, "test", "never started")
    await h.stop()

    agent = await h.start()
    delivered = []

    async def deliver(inbound, events):
        delivered.append((inbound.id, [e async for e in events][-1]))

    try:
        assert await agent.resume_unfinished(deliver) == 2
        assert [i for i, _ in delivered] == [crashed.id, pending.id]
        assert [e.text for _, e in delivered] == ["echo: lost in the crash", "echo: never started"]
        assert await agent.resume_unfinished(deliver) == 0
        stored = await h.storage.get_messages(session.id)
        assert [m.role for m in stored] == ["user", "assistant", "user", "assistant"]
        assert len(fake_anthropic.message_requests) == 2
    finally:
        await h.stop()


async def test_a_turn_completes_even_if_the_channel_stops_listening(harness, fake_anthropic):
    session = await harness.agent.new_session("test")
    async for _event in harness.agent.submit(session.id, "test", "hi"):
        break  # the channel went away
    await harness.agent.aclose()
    assert [m.role for m in await harness.storage.get_messages(session.id)] == ["user", "assistant"]


async def test_tool_rounds_are_bounded(tmp_path, fake_anthropic):
    h = Harness(tmp_path, fake_anthropic, "[agent]\nmax_tool_rounds = 2\n")
    fake_anthropic.default = lambda request: tool_use_reply("current_time", {})
    agent = await h.start()
    try:
        session = await agent.new_session("test")
        events = await turn(agent, session.id, "loop forever")
        assert isinstance(events[-1], TurnComplete)
        assert events[-1].stop_reason == "max_tool_rounds"
        assert len(fake_anthropic.message_requests) == 3
        stored = await h.storage.get_messages(session.id)
        assert all(b["type"] != "tool_use" for b in stored[-1].content)
        # the next turn's history is valid: every tool_use has its tool_result
        fake_anthropic.default = lambda request: text_reply("ok")
        assert isinstance((await turn(agent, session.id, "next"))[-1], TurnComplete)
        _assert_tool_pairs(fake_anthropic.message_requests[-1].json["messages"])
    finally:
        await h.stop()


def _assert_tool_pairs(messages):
    assert messages[0]["role"] == "user"
    assert all(b["type"] != "tool_result" for b in messages[0]["content"])
    for i, message in enumerate(messages):
        uses = [b["id"] for b in message["content"] if b["type"] == "tool_use"]
        if uses:
            results = [b["tool_use_id"] for b in messages[i + 1]["content"]
                       if b["type"] == "tool_result"]
            assert results == uses


class RecordingProvider:
    """A provider that answers "ok" at once and keeps the messages it was sent."""

    name, version, adapter_type, default_model = "recording", "0", "provider", "claude-haiku-4-5"
    prices = PRICES

    def __init__(self):
        self.sent = []

    async def count_tokens(self, *, model, system, messages, tools, options=None):
        return 1

    async def stream(self, *, model, system, messages, tools, max_tokens, options=None):
        self.sent.append(messages)
        for event in ({"type": "message_start", "message": {"model": model, "usage": {"input_tokens": 1}}},
                      {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
                      {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "ok"}},
                      {"type": "content_block_stop", "index": 0},
                      {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 1}},
                      {"type": "message_stop"}):
            yield event


async def _seed_long_session(storage, rounds):
    session = await storage.create_session("test")
    for i in range(rounds):
        await storage.append_messages(session.id, [
            NewMessage("user", text_blocks(f"question {i} " + "x" * 200)),
            NewMessage("assistant", [{"type": "tool_use", "id": f"t{i}", "name": "current_time", "input": {}}]),
            NewMessage("user", [{"type": "tool_result", "tool_use_id": f"t{i}", "content": "y" * 300}]),
            NewMessage("assistant", text_blocks(f"answer {i}"))])
    return session


@pytest.mark.parametrize("limit,chars", [(6, 10**9), (7, 10**9), (200, 3000), (200, 10)])
async def test_history_trimming_never_splits_tool_pairs(tmp_path, fake_anthropic, limit, chars):
    h = Harness(tmp_path, fake_anthropic)
    storage = SqliteStorage(h.config)
    await storage.open()
    try:
        provider = RecordingProvider()
        agent = Agent(provider=provider, storage=storage, max_history_messages=limit,
                      max_history_chars=chars)
        session = await _seed_long_session(storage, 30)
        events = [e async for e in agent.submit(session.id, "test", "latest")]
        assert isinstance(events[-1], TurnComplete)
        sent = provider.sent[0]
        _assert_tool_pairs(sent)
        assert sent[-1]["content"][-1]["text"] == "latest"
        assert len(sent) <= limit + 1
    finally:
        await storage.shutdown()


async def test_unknown_session_is_refused(harness):
    from blufio.errors import StorageError

    with pytest.raises(StorageError, match="no session"):
        await harness.agent.receive("nope", "test", "hi")


async def test_sessions_with_a_turn_in_flight_are_reported_active(harness, fake_anthropic):
    from blufio.observability import NullObserver
    from tests.fakes.anthropic_server import FakeResponse, Stall, _headers, message_events

    class ActiveSessions(NullObserver):
        def __init__(self):
            self.counts = []

        def sessions_active(self, count):
            self.counts.append(count)

    harness.agent.observer = observer = ActiveSessions()
    parts = message_events([{"type": "text", "text": "slow"}])
    fake_anthropic.add(FakeResponse(headers=_headers(), parts=[*parts[:3], Stall(0.3), *parts[3:]]))
    a = await harness.agent.new_session("test")
    b = await harness.agent.new_session("test")
    await asyncio.gather(turn(harness.agent, a.id, "a"), turn(harness.agent, b.id, "b"))
    assert max(observer.counts) == 2 and observer.counts[-1] == 0


async def test_per_session_structures_stay_bounded_over_many_sessions(tmp_path, fake_anthropic,
                                                                       monkeypatch):
    import blufio.agent.loop

    monkeypatch.setattr(blufio.agent.loop, "KNOWN_SESSIONS", 20)
    h = Harness(tmp_path, fake_anthropic)
    agent = await h.start()
    try:
        sessions = [await agent.new_session("test") for _ in range(60)]
        for session in sessions:
            assert isinstance((await turn(agent, session.id, "hi"))[-1], TurnComplete)
        await asyncio.gather(*agent._tasks)  # the last turn's task ends after its stream
        assert len(agent._known_sessions) <= 20
        assert agent._locks == {} and not agent._tasks
        # a session the agent forgot is looked up again, and still answered
        assert isinstance((await turn(agent, sessions[0].id, "again"))[-1], TurnComplete)
        with pytest.raises(StorageError):
            await agent.receive("never-existed", "test", "hi")
    finally:
        await h.stop()
