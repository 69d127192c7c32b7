"""Memory through the real agent: recall across sessions, the memory tools, the embeddings
plugin, and compaction, against the fake Anthropic (and embeddings) servers over HTTP."""

import logging
import socket

import pytest

from blufio.agent.compaction import INSTRUCTIONS, SUMMARY_HEADER
from blufio.agent.events import TurnComplete
from blufio.agent.recall import HEADER
from blufio.agent.runtime import open_runtime
from tests.fakes.anthropic_server import http_error, text_reply, tool_use_reply
from tests.fakes.config import make_config
from tests.fakes.embeddings_server import FakeEmbeddings


async def start(tmp_path, fake, toml=""):
    config = make_config(
        tmp_path, f'[anthropic]\nbase_url = "{fake.base_url}"\nread_timeout = 5.0\n'
        f'[storage]\npath = "{tmp_path / "blufio.db"}"\n'
        f'[tools]\nworkspace = "{tmp_path / "ws"}"\n{toml}',
        environ={"ANTHROPIC_API_KEY": "sk-test"})
    runtime = await open_runtime(config)
    runtime.provider.routes[0].provider.policy.backoff_base = 0.01  # the chain's anthropic
    return runtime


async def say(runtime, text, session=None, channel="shell"):
    """One turn in ``session`` (a new one if None); its TurnComplete, and the session."""
    agent = runtime.agent
    session = session or await agent.new_session(channel)
    events = [e async for e in agent.submit(session.id, channel, text)]
    assert isinstance(events[-1], TurnComplete), events[-1]
    return events[-1], session


def upstream_chat_requests(fake):
    """The turns' requests to the fake (not the summariser's)."""
    return [r for r in fake.message_requests
            if not any(b.get("text") == INSTRUCTIONS for b in r.json.get("system", []))]


def system_texts(request):
    return [block["text"] for block in request.json.get("system", [])]


def recall_of(request):
    return next((t for t in system_texts(request) if t.startswith(HEADER)), None)


async def test_a_fact_remembered_in_one_session_is_in_the_next_sessions_request(
        tmp_path, fake_anthropic):
    runtime = await start(tmp_path, fake_anthropic)
    try:
        fake_anthropic.add(tool_use_reply("memory_save",
                                          {"text": "The user's locker code is 4471"}),
                           text_reply("I'll remember that."))
        _, first = await say(runtime, "remember that my locker code is 4471")
        [memory] = await runtime.storage.list_memories()
        assert (memory.text, memory.session_id, memory.channel) == (
            "The user's locker code is 4471", first.id, "shell")

        await say(runtime, "what is my locker code?")
        request = fake_anthropic.message_requests[-1]
        texts = system_texts(request)
        assert texts[0] == runtime.agent.system_prompt  # the owner's prompt stays first
        recalled = recall_of(request)
        today = memory.created_at[:10]
        assert f"- [{today}, saved memory] The user's locker code is 4471" in recalled
        assert f"- [{today}, the user said on shell] remember that my locker code is 4471" \
            in recalled
    finally:
        await runtime.aclose()


async def test_the_current_session_is_not_recalled_into_itself(tmp_path, fake_anthropic):
    runtime = await start(tmp_path, fake_anthropic)
    try:
        _, session = await say(runtime, "the garage door code is 9911")
        await say(runtime, "what is the garage door code?", session)
        assert recall_of(fake_anthropic.message_requests[-1]) is None
    finally:
        await runtime.aclose()


async def test_forgotten_facts_are_recalled_no_more(tmp_path, fake_anthropic):
    runtime = await start(tmp_path, fake_anthropic)
    try:
        fake_anthropic.add(tool_use_reply("memory_save", {"text": "locker code 4471"}),
                           text_reply("Saved."))
        await say(runtime, "remember that my locker code is 4471")
        hits = await runtime.agent.memory.recall.search("locker")
        ids = sorted(f"{'mem' if h.kind == 'memory' else 'msg'}_{h.id}" for h in hits)
        for ident in ids:
            fake_anthropic.add(tool_use_reply("memory_forget", {"id": ident}),
                               text_reply("Forgotten."))
            done, _ = await say(runtime, f"forget {ident}")
        assert len(ids) == 2 and not any(h for h in await runtime.agent.memory.recall.search(
            "locker"))
        await say(runtime, "what is my locker code?")
        assert recall_of(fake_anthropic.message_requests[-1]) is None
    finally:
        await runtime.aclose()


async def test_the_memory_search_tool_answers_with_ids_dates_and_sources(tmp_path,
                                                                         fake_anthropic):
    runtime = await start(tmp_path, fake_anthropic)
    try:
        memory = await runtime.storage.save_memory("the dentist is Dr Okafor")
        fake_anthropic.add(tool_use_reply("memory_search", {"query": "dentist"}),
                           text_reply("Dr Okafor."))
        await say(runtime, "who is my dentist?")
        result = fake_anthropic.message_requests[-1].json["messages"][-1]["content"][0]
        assert result["type"] == "tool_result"
        assert result["content"] == (f"mem_{memory.id} [{memory.created_at[:10]}, saved "
                                     "memory] the dentist is Dr Okafor")
    finally:
        await runtime.aclose()


async def test_scope_channel_recalls_only_what_was_said_on_the_turns_channel(
        tmp_path, fake_anthropic):
    runtime = await start(tmp_path, fake_anthropic, '[memory]\nscope = "channel"\n')
    try:
        await say(runtime, "my telegram pin is 2020", channel="telegram")
        await say(runtime, "what is my pin?", channel="shell")
        assert recall_of(fake_anthropic.message_requests[-1]) is None
        await say(runtime, "what is my pin?", channel="telegram")
        assert "pin is 2020" in recall_of(fake_anthropic.message_requests[-1])
    finally:
        await runtime.aclose()


async def test_recall_stays_within_recall_tokens(tmp_path, fake_anthropic):
    runtime = await start(tmp_path, fake_anthropic, "[memory]\nrecall_tokens = 80\n")
    try:
        for n in range(10):
            await runtime.storage.save_memory(f"kiwi fact number {n}: " + "detail " * 10)
        await say(runtime, "tell me about kiwi")
        recalled = recall_of(fake_anthropic.message_requests[-1])
        assert 1 <= recalled.count("kiwi fact") < 10
        assert len(recalled) <= 80 * 4
    finally:
        await runtime.aclose()


async def test_with_memory_off_nothing_is_recalled_and_no_memory_tool_is_offered(
        tmp_path, fake_anthropic):
    runtime = await start(tmp_path, fake_anthropic, "[memory]\nenabled = false\n")
    try:
        await runtime.storage.save_memory("locker code 4471")
        await say(runtime, "what is my locker code?")
        request = fake_anthropic.message_requests[-1]
        assert recall_of(request) is None
        assert not [t for t in request.json.get("tools", []) if t["name"].startswith("memory")]
    finally:
        await runtime.aclose()


async def test_a_wrong_scope_is_a_configuration_error(tmp_path, fake_anthropic):
    from blufio.errors import ConfigError

    with pytest.raises(ConfigError, match="memory.scope must be 'all' or 'channel'"):
        await start(tmp_path, fake_anthropic, '[memory]\nscope = "everywhere"\n')


# --- with the embeddings plugin ---------------------------------------------------------------


@pytest.fixture
def fake_embeddings():
    with FakeEmbeddings(dimensions=64) as server:
        yield server


def embeddings_toml(base_url):
    return f'[embeddings]\nbase_url = "{base_url}"\nmodel = "fake-embed"\ntimeout = 2.0\n' \
           'max_retries = 0\n'


async def test_a_paraphrase_with_no_shared_words_is_recalled(tmp_path, fake_anthropic,
                                                             fake_embeddings):
    runtime = await start(tmp_path, fake_anthropic, embeddings_toml(fake_embeddings.base_url))
    try:
        await say(runtime, "my locker code is 4471")
        await runtime.agent.memory.embedding.idle()
        assert await runtime.storage.unembedded("fake-embed") == []

        await say(runtime, "which combination opens the cabinet at the fitness place?")
        recalled = recall_of(upstream_chat_requests(fake_anthropic)[-1])
        assert recalled and "my locker code is 4471" in recalled
    finally:
        await runtime.aclose()


async def test_vectors_are_made_after_the_turn_not_during_it(tmp_path, fake_anthropic,
                                                             fake_embeddings):
    runtime = await start(tmp_path, fake_anthropic, embeddings_toml(fake_embeddings.base_url))
    try:
        await say(runtime, "first words")
        await runtime.agent.memory.embedding.idle()
        before = len(fake_embeddings.message_requests)
        await say(runtime, "second words")
        # during the turn: only the query's own vector was asked for
        assert fake_embeddings.inputs()[before:][:1] == [["second words"]]
        await runtime.agent.memory.embedding.idle()
        embedded = [text for batch in fake_embeddings.inputs()[before + 1:] for text in batch]
        assert "second words" in embedded and "echo: second words" in embedded
    finally:
        await runtime.aclose()


async def test_an_embedding_server_that_is_down_never_fails_a_turn(tmp_path, fake_anthropic,
                                                                   caplog):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}/v1"
    runtime = await start(tmp_path, fake_anthropic, embeddings_toml(dead))
    try:
        await runtime.storage.save_memory("locker code 4471")
        with caplog.at_level(logging.WARNING, logger="blufio.memory"):
            for _ in range(3):
                await say(runtime, "what is my locker code?")
            await runtime.agent.memory.embedding.idle()
        assert "locker code 4471" in recall_of(fake_anthropic.message_requests[-1])
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert len([w for w in warnings if "recall is lexical" in w]) == 1
    finally:
        await runtime.aclose()


async def test_vectors_of_the_wrong_size_degrade_recall_to_lexical(tmp_path, fake_anthropic,
                                                                    fake_embeddings):
    runtime = await start(tmp_path, fake_anthropic,
                          embeddings_toml(fake_embeddings.base_url) + "dimensions = 16\n")
    try:
        await runtime.storage.save_memory("locker code 4471")  # the fake sends 64, not 16
        fake_embeddings.dimensions = 64
        _, _ = await say(runtime, "what is my locker code?")
        assert "locker code 4471" in recall_of(fake_anthropic.message_requests[-1])
    finally:
        await runtime.aclose()


# --- compaction --------------------------------------------------------------------------------


def summaries_and_tools(request):
    """Summarise when asked to; every fourth message ("number 3", "7", ...) uses a tool."""
    body = request.json
    if system_texts(request) == [INSTRUCTIONS]:
        transcript = body["messages"][0]["content"][0]["text"]
        return text_reply("Summary of " + " | ".join(transcript.splitlines()[-40:]))
    last = body["messages"][-1]["content"]
    if last[-1]["type"] == "text" and last[-1]["text"].endswith(("3", "7", "11")):
        return tool_use_reply("current_time", {})
    return text_reply("ok")


async def test_a_long_session_is_compacted_and_keeps_every_message(tmp_path, fake_anthropic):
    runtime = await start(tmp_path, fake_anthropic,
                          "[agent]\nmax_history_messages = 8\nmax_history_tokens = 100000\n")
    try:
        fake_anthropic.default = summaries_and_tools
        session = None
        for n in range(12):
            _, session = await say(runtime, f"message number {n}", session)
        stored = await runtime.storage.get_messages(session.id)
        assert len(stored) == 12 * 2 + 3 * 2  # every message, tool pairs included
        summaries = [r for r in fake_anthropic.message_requests
                     if system_texts(r) == [INSTRUCTIONS]]
        assert summaries, "the provider was asked for a summary"
        through, summary = await runtime.storage.get_summary(session.id)
        assert summary.startswith("Summary of ") and "message number 0" in summary

        last = upstream_chat_requests(fake_anthropic)[-1]
        assert f"{SUMMARY_HEADER}\n{summary}" in system_texts(last)
        messages = last.json["messages"]
        assert len(messages) <= 8 + 1
        uses = {b["id"] for m in messages for b in m["content"] if b["type"] == "tool_use"}
        results = {b["tool_use_id"] for m in messages for b in m["content"]
                   if b["type"] == "tool_result"}
        assert uses == results
        assert messages[0]["role"] == "user"
        # the summary's cost is in the ledger, beside the turns', with who answered
        entries = await runtime.storage.cost_entries(session_id=session.id)
        assert len(entries) == len(fake_anthropic.message_requests)
        assert {(e.provider, e.model) for e in entries} == {("anthropic", "claude-sonnet-4-5")}
    finally:
        await runtime.aclose()


async def test_if_summarising_fails_the_turn_still_runs_trimmed(tmp_path, fake_anthropic,
                                                                caplog):
    runtime = await start(tmp_path, fake_anthropic, "[agent]\nmax_history_messages = 4\n")
    try:
        session = None
        for n in range(3):
            _, session = await say(runtime, f"message number {n}", session)
        fake_anthropic.add(http_error(400, message="no summaries today"))
        with caplog.at_level(logging.WARNING, logger="blufio.agent"):
            done, _ = await say(runtime, "message number 3", session)
        assert done.text == "echo: message number 3"
        lines = [r.getMessage() for r in caplog.records if "could not summarise" in
                 r.getMessage()]
        assert len(lines) == 1 and "no summaries today" in lines[0]
        assert await runtime.storage.get_summary(session.id) is None
        assert len(fake_anthropic.message_requests[-1].json["messages"]) <= 4 + 1
        assert len(await runtime.storage.get_messages(session.id)) == 8
    finally:
        await runtime.aclose()


async def test_reading_the_history_never_asks_for_a_summary(tmp_path, fake_anthropic):
    runtime = await start(tmp_path, fake_anthropic, "[agent]\nmax_history_messages = 4\n")
    try:
        session = None
        for n in range(3):
            _, session = await say(runtime, f"message number {n}", session)
        calls = len(fake_anthropic.message_requests)
        history = await runtime.agent.history(session.id)  # e.g. for count_tokens
        assert len(fake_anthropic.message_requests) == calls
        assert 0 < len(history) <= 4
        assert await runtime.storage.get_summary(session.id) is None
    finally:
        await runtime.aclose()
