"""Clients that re-send the whole conversation (Claude Code, LangChain, SDK code) continue
one session, and nothing already stored is stored again."""

import threading

import anthropic

from blufio.plugins.gateway.sessions import Transcripts, chain

from .conftest import TOKEN


def create(gateway, messages, **kwargs):
    sdk = anthropic.Anthropic(base_url=gateway.url, api_key=TOKEN, max_retries=0)
    raw = sdk.messages.with_raw_response.create(model="m", max_tokens=100, messages=messages,
                                                **kwargs)
    return raw.headers["x-blufio-session"], raw.parse()


def converse(gateway, turns, system=None):
    """Send ``turns`` one after another as a stateless client does; the session ids."""
    messages, sessions = [], []
    for text in turns:
        messages.append({"role": "user", "content": text})
        extra = {"system": system} if system else {}
        session_id, reply = create(gateway, messages, **extra)
        sessions.append(session_id)
        messages.append({"role": "assistant", "content": [b.model_dump() for b in reply.content]})
    return sessions, messages


def test_a_re_sent_conversation_is_one_session_with_each_message_once(gateway):
    sessions, _ = converse(gateway, ["one", "two", "three", "four"], system="Be brief.")
    assert len(set(sessions)) == 1
    stored = gateway.call(gateway.storage.get_messages(sessions[0]))
    assert [m.content[0]["text"] for m in stored] == [
        "one", "echo: one", "two", "echo: two", "three", "echo: three", "four", "echo: four"]
    assert gateway.call(gateway.storage.count_sessions()) == 1


def test_system_messages_and_cache_marks_do_not_break_the_match(gateway):
    session_id, reply = create(gateway, [{"role": "user", "content": "one"}])
    again, _ = create(gateway, [
        {"role": "system", "content": "Today is Tuesday."},
        {"role": "user", "content": [{"type": "text", "text": "one",
                                      "cache_control": {"type": "ephemeral"}}]},
        {"role": "assistant", "content": reply.content[0].text},
        {"role": "user", "content": "two"}])
    assert again == session_id


def test_a_conversation_that_differs_from_the_stored_one_starts_its_own_session(gateway):
    sessions, messages = converse(gateway, ["one", "two"])
    edited = [*messages[:2], {"role": "user", "content": "something else"},
              {"role": "assistant", "content": "sure"}, {"role": "user", "content": "three"}]
    forked, _ = create(gateway, edited)
    assert forked != sessions[0]
    assert len(gateway.call(gateway.storage.get_messages(sessions[0]))) == 4  # untouched


def test_messages_after_the_stored_transcript_are_appended_once(gateway):
    sessions, messages = converse(gateway, ["one"])
    later, _ = create(gateway, [*messages, {"role": "user", "content": "two"},
                                {"role": "assistant", "content": "elsewhere"},
                                {"role": "user", "content": "three"}])
    assert later == sessions[0]
    stored = gateway.call(gateway.storage.get_messages(later))
    assert [m.content[0]["text"] for m in stored] == [
        "one", "echo: one", "two", "elsewhere", "three", "echo: three"]


def test_the_session_header_and_stateless_requests_continue_the_same_transcript(gateway):
    sessions, messages = converse(gateway, ["one"])
    sdk = anthropic.Anthropic(base_url=gateway.url, api_key=TOKEN, max_retries=0,
                              default_headers={"x-blufio-session": sessions[0]})
    reply = sdk.messages.create(model="m", max_tokens=50,
                                messages=[{"role": "user", "content": "two"}])
    messages += [{"role": "user", "content": "two"},
                 {"role": "assistant", "content": reply.content[0].text},
                 {"role": "user", "content": "three"}]
    again, _ = create(gateway, messages)
    assert again == sessions[0]


def test_the_transcript_index_survives_a_restart(gateway):
    sessions, messages = converse(gateway, ["one"])
    gateway.service.channels["gateway"].transcripts = Transcripts(gateway.storage)  # memory lost
    again, _ = create(gateway, [*messages, {"role": "user", "content": "two"}])
    assert again == sessions[0]


def test_a_session_is_found_among_a_thousand_by_its_transcript(gateway):
    """(bench/bench_messages_api.py measures how long it takes.)"""
    transcripts = Transcripts(gateway.storage)
    for number in range(1000):
        transcripts.put(f"s{number}", chain([{"role": "user", "content": [
            {"type": "text", "text": f"conversation {number}"}]}])[-1])
    wanted = [{"role": "user", "content": [{"type": "text", "text": "conversation 500"}]}]
    assert gateway.call(transcripts.find(chain(wanted))) == ("s500", 1)
    assert gateway.call(transcripts.find(chain([*wanted, *wanted]))) == ("s500", 1)
    assert gateway.call(transcripts.find(chain([{"role": "user", "content": [
        {"type": "text", "text": "conversation 1000"}]}]))) == (None, 0)


def test_system_reminders_added_on_a_re_send_do_not_break_the_match(gateway):
    """Claude Code adds ``<system-reminder>`` blocks to the first message when it re-sends."""
    session_id, reply = create(gateway, [{"role": "user", "content": "one"}])
    again, _ = create(gateway, [
        {"role": "user", "content": [
            {"type": "text", "text": "<system-reminder>\nSkills: none\n</system-reminder>"},
            {"type": "text", "text": "one"}]},
        {"role": "assistant", "content": reply.content[0].text},
        {"role": "user", "content": "two"}])
    assert again == session_id


def test_the_in_memory_index_keeps_only_the_most_recently_used_sessions(gateway):
    transcripts = Transcripts(gateway.storage, limit=10)
    conversations = [[{"role": "user", "content": [{"type": "text", "text": f"chat {n}"}]}]
                     for n in range(30)]
    for number, conversation in enumerate(conversations):
        gateway.call(transcripts.advance(f"s{number}", chain(conversation)[-1]))
    assert len(transcripts) == 10 and len(transcripts._digests) == 10
    # a forgotten session is still found, in storage, as after a restart
    assert gateway.call(transcripts.find(chain(conversations[0]))) == ("s0", 1)
    assert gateway.call(transcripts.find(chain(conversations[29]))) == ("s29", 1)


def test_a_client_that_hangs_up_mid_stream_does_not_lose_its_session(gateway, fake_anthropic):
    import httpx

    from tests.fakes.anthropic_server import paused_text_reply

    sessions, messages = converse(gateway, ["one"])
    released = threading.Event()  # the model pauses after its first words until this is set
    fake_anthropic.add(paused_text_reply("a slow answer", released, chunk_size=4))
    body = {"model": "m", "max_tokens": 50, "stream": True,
            "messages": [*messages, {"role": "user", "content": "two"}]}
    with httpx.stream("POST", f"{gateway.url}/v1/messages", json=body, headers=gateway.auth(),
                      timeout=20) as response:
        next(line for line in response.iter_lines() if "text_delta" in line)  # then hang up
    threading.Timer(0.1, released.set).start()  # the next message comes while it still runs
    again, _ = create(gateway, [*messages, {"role": "user", "content": "three"}])
    assert again == sessions[0]
