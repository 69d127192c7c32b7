"""TelegramChannel against the fake Bot API: replies, typing, splitting, allowed users, the
persisted offset, backoff and recovery, a refused token, and a token that never leaks."""

import asyncio
import logging

import pytest

from blufio.agent.events import TextDelta, TurnComplete, TurnError, Typing
from blufio.errors import BudgetExceededError, StorageError
from blufio.model import Inbound, text_blocks, text_of
from blufio.plugins.telegram import reply as reply_module
from blufio.plugins.telegram.channel import NOT_TEXT, OFFSET_KEY, REFUSAL, TelegramChannel
from blufio.plugins.telegram.reply import MAX_MESSAGE_LENGTH
from tests.fakes.config import make_config

OWNER = 42  # as in conftest.py's allowed_users
STRANGER = 7
EDIT_INTERVAL = 0.15  # as in conftest.py


LOCKED = StorageError("the database is locked")


class ScriptedAgent:
    """Stands in for ``blufio.agent.loop.Agent`` where a test needs exact control of the
    stream: ``receive`` queues the message in storage as the agent does, ``process`` streams
    ``pieces``. (The real agent is exercised in test_with_the_real_agent.py.)"""

    def __init__(self, storage, pieces=("Hello", ", ", "world", "!"), delay=0.05,
                 fail_to_queue=0, failure=LOCKED):
        self.storage = storage
        self.pieces = pieces
        self.delay = delay
        self.fail_to_queue = fail_to_queue  # how many messages fail to be stored first
        self.failure = failure
        self.received = []

    async def new_session(self, channel, *, title="", metadata=None):
        return await self.storage.create_session(channel, title=title, metadata=metadata)

    async def receive(self, session_id, channel, content, reply_to=None):
        if self.fail_to_queue:
            self.fail_to_queue -= 1
            raise self.failure
        self.received.append(text_of(content))
        return await self.storage.enqueue(session_id, channel, text_blocks(content),
                                          reply_to=reply_to)

    def process(self, inbound):
        return self.turn(inbound.session_id, inbound.id)

    async def turn(self, session_id, inbound_id):
        yield Typing(session_id, inbound_id)
        for piece in self.pieces:
            await asyncio.sleep(self.delay)
            yield TextDelta(session_id, inbound_id, piece)
        yield TurnComplete(session_id, inbound_id, text="".join(self.pieces))


@pytest.fixture
async def make_channel(tmp_path, telegram_toml):
    """``make_channel(storage, **telegram_keys)``: a channel pointed at the fake server,
    shut down after the test."""
    channels = []

    def make(storage, **keys):
        channel = TelegramChannel(make_config(tmp_path, telegram_toml(**keys)), storage=storage)
        channels.append(channel)
        return channel

    yield make
    for channel in channels:
        await channel.shutdown()


@pytest.fixture
async def running(make_channel, storage):
    """``await running(agent=None, **keys)``: a started channel."""
    async def start(agent=None, **keys):
        channel = make_channel(storage, **keys)
        await channel.start(agent or ScriptedAgent(storage))
        return channel

    return start


async def _answered(tg, chat_id, text, timeout=10.0):
    """Wait until the chat's messages, joined, read ``text``; return them."""
    await tg.wait_for(lambda: "".join(tg.texts(chat_id)) == text, timeout)
    return tg.messages(chat_id)


# -- answering ----------------------------------------------------------------------------------


async def test_an_allowed_user_gets_a_reply_streamed_by_edits(tg, running, storage):
    agent = ScriptedAgent(storage)
    await running(agent)
    tg.send_text(OWNER, "hi there")

    [reply] = await _answered(tg, OWNER, "Hello, world!")
    assert agent.received == ["hi there"]
    sends = tg.calls_of("sendMessage")
    assert len(sends) == 1 and sends[0].params["chat_id"] == OWNER
    assert sends[0].params["text"] in ("Hello", "Hello, ")  # the first text, not the whole
    assert reply.edits and reply.edits[-1] == "Hello, world!"
    # one message, edited at a bounded rate
    times = [reply.sent_at, *reply.edited_at]
    assert all(b - a >= EDIT_INTERVAL * 0.9 for a, b in zip(times, times[1:]))
    assert len(reply.edits) < len(agent.pieces)


@pytest.mark.slow  # waits out real time
async def test_typing_is_shown_while_the_agent_works(tg, running, storage, monkeypatch):
    monkeypatch.setattr(reply_module, "TYPING_INTERVAL", 0.1)
    await running(ScriptedAgent(storage, pieces=("slow", " answer"), delay=0.35))
    tg.send_text(OWNER, "think hard")
    await _answered(tg, OWNER, "slow answer")

    typing = tg.calls_of("sendChatAction")
    assert len(typing) >= 3  # repeated while the turn runs...
    assert {(c.params["chat_id"], c.params["action"]) for c in typing} == {(OWNER, "typing")}
    count = len(typing)
    await asyncio.sleep(0.3)
    assert len(tg.calls_of("sendChatAction")) == count  # ...and not after it


async def test_a_long_reply_is_split_into_messages_at_paragraphs(tg, running, storage):
    paragraph = "word " * 150 + "end."
    text = "\n\n".join([paragraph] * 14)  # about 10,600 characters
    pieces = [text[i:i + 900] for i in range(0, len(text), 900)]
    await running(ScriptedAgent(storage, pieces=pieces, delay=0.01))
    tg.send_text(OWNER, "a long one please")

    await tg.wait_for(lambda: "\n\n".join(tg.texts(OWNER)) == text)
    messages = tg.messages(OWNER)
    assert len(messages) == 3
    assert all(len(m.text) <= MAX_MESSAGE_LENGTH for m in messages)
    assert all(m.text.endswith("end.") for m in messages)  # cut between paragraphs


async def test_a_turn_error_is_told_to_the_user(tg, running, storage):
    class FailingAgent(ScriptedAgent):
        async def turn(self, session_id, inbound_id):
            yield Typing(session_id, inbound_id)
            yield TurnError(session_id, inbound_id,
                            BudgetExceededError("the daily budget of $1.00 is spent"), "budget")

    await running(FailingAgent(storage))
    tg.send_text(OWNER, "hello?")
    await tg.wait_for(lambda: tg.texts(OWNER) == ["the daily budget of $1.00 is spent"])


async def test_each_chat_keeps_one_session(tg, running, storage):
    await running()
    tg.send_text(OWNER, "one")
    await _answered(tg, OWNER, "Hello, world!")
    tg.send_text(OWNER, "two")
    await tg.wait_for(lambda: len(tg.messages(OWNER)) == 2
                      and tg.texts(OWNER)[1] == "Hello, world!")

    sessions = await storage.list_sessions(channel="telegram")
    assert len(sessions) == 1
    assert await storage.get_state(f"telegram.session.{OWNER}") == sessions[0].id
    queued = [i.reply_to for i in await storage.unfinished()]
    assert [r["chat_id"] for r in queued] == [OWNER, OWNER]


async def test_deliver_answers_the_chat_a_queued_message_came_from(tg, make_channel, storage):
    channel = make_channel(storage)
    session = await storage.create_session("telegram")
    inbound = Inbound(1, session.id, "telegram", [], "pending", "", {"chat_id": 1234})

    async def events():
        yield TextDelta(session.id, 1, "answer after a restart")
        yield TurnComplete(session.id, 1, text="answer after a restart")

    await channel.deliver(inbound, events())
    assert tg.texts(1234) == ["answer after a restart"]
    await channel.shutdown()


async def test_a_message_without_text_is_answered_without_the_agent(tg, running, storage):
    agent = ScriptedAgent(storage)
    await running(agent)
    tg.send_text(OWNER, None, sticker={"file_id": "abc"})
    await tg.wait_for(lambda: tg.texts(OWNER) == [NOT_TEXT])
    assert agent.received == [] and await storage.unfinished() == []


# -- who may talk to it -------------------------------------------------------------------------


async def test_a_stranger_is_refused_logged_and_nothing_is_stored(tg, running, storage, caplog):
    agent = ScriptedAgent(storage)
    channel = await running(agent)
    tg.send_text(STRANGER, "let me in")

    await tg.wait_for(lambda: tg.texts(STRANGER) == [REFUSAL.format(user_id=STRANGER)])
    await tg.wait_for(lambda: any(c.params.get("offset") == 2
                                  for c in tg.calls_of("getUpdates")))
    assert agent.received == []
    assert await storage.list_sessions() == [] and await storage.unfinished() == []
    refusals = [r for r in caplog.records
                if r.name == "blufio.telegram" and r.levelno == logging.WARNING
                and "refused" in r.getMessage()]
    assert len(refusals) == 1 and str(STRANGER) in refusals[0].getMessage()
    assert (await channel.health_check())["status"] == "ok"


# -- the offset ---------------------------------------------------------------------------------


async def test_the_offset_survives_a_restart_so_nothing_is_lost_or_repeated(
        tg, make_channel, storage):
    first_agent = ScriptedAgent(storage)
    first = make_channel(storage)
    await first.start(first_agent)
    tg.send_text(OWNER, "before the restart")
    await _answered(tg, OWNER, "Hello, world!")
    await first.shutdown()
    assert await storage.get_state(OFFSET_KEY) == "2"

    tg.send_text(OWNER, "while it was down")
    second_agent = ScriptedAgent(storage, pieces=("again",))
    second = make_channel(storage)
    polls_before = len(tg.calls_of("getUpdates"))
    await second.start(second_agent)
    await tg.wait_for(lambda: tg.texts(OWNER)[-1:] == ["again"])
    await second.shutdown()

    assert tg.calls_of("getUpdates")[polls_before].params["offset"] == 2
    assert first_agent.received == ["before the restart"]
    assert second_agent.received == ["while it was down"]


async def test_an_update_that_could_not_be_queued_is_taken_again(tg, running, storage):
    agent = ScriptedAgent(storage, fail_to_queue=2)
    await running(agent)
    tg.send_text(OWNER, "do not lose me")

    await _answered(tg, OWNER, "Hello, world!")
    assert agent.received == ["do not lose me"]  # once, after two failed attempts
    assert await storage.get_state(OFFSET_KEY) == "2"
    offsets = [c.params["offset"] for c in tg.calls_of("getUpdates")]
    assert offsets.count(0) >= 3  # the same update was polled for again


async def test_an_update_that_breaks_the_channel_is_skipped_not_retried_forever(
        tg, running, storage, caplog):
    agent = ScriptedAgent(storage, fail_to_queue=1, failure=RuntimeError("a bug"))
    await running(agent)
    tg.push_update({"message": {"message_id": 1, "text": "no chat"}})
    tg.send_text(OWNER, "poison")
    tg.send_text(OWNER, "fine")

    await _answered(tg, OWNER, "Hello, world!")
    assert agent.received == ["fine"]
    assert await storage.get_state(OFFSET_KEY) == "4"
    assert any("skipped Telegram update 2" in r.getMessage() for r in caplog.records)


# -- failures -----------------------------------------------------------------------------------


@pytest.mark.slow  # waits out real time
async def test_polling_backs_off_after_failures_then_recovers(tg, running, caplog):
    tg.fail("getUpdates", times=2, status=500)
    tg.fail("getUpdates", times=1, drop=True)
    tg.fail("getUpdates", times=2, status=502)
    channel = await running()

    failed = await tg.wait_for(
        lambda: [c for c in tg.calls if c.method == "getUpdates" and c.failed][4:] and
        [c for c in tg.calls if c.method == "getUpdates" and c.failed])
    assert (await channel.health_check())["status"] in ("degraded", "ok")
    gaps = [b.at - a.at for a, b in zip(failed, failed[1:])]
    assert min(gaps) >= 0.02  # not a busy loop
    assert gaps[-1] > gaps[0]  # growing
    assert max(gaps) < 0.4 + 0.2  # capped at backoff_max

    tg.send_text(OWNER, "are you back?")
    await _answered(tg, OWNER, "Hello, world!")
    assert (await channel.health_check())["status"] == "ok"
    assert any("reconnecting" in r.getMessage() for r in caplog.records)


@pytest.mark.slow  # waits out real time
async def test_a_429_is_honoured(tg, running):
    tg.fail("getUpdates", times=1, status=429, retry_after=1)
    await running()
    await tg.wait_for(lambda: len(tg.calls_of("getUpdates")) >= 1)
    limited, retried = [c for c in tg.calls if c.method == "getUpdates"][:2]
    assert limited.failed and retried.at - limited.at >= 0.95


@pytest.mark.slow  # waits out real time
async def test_a_refused_token_is_reported_down_without_a_busy_loop(tg, running, caplog):
    channel = await running(bot_token="111:wrong-token-xyz")
    await tg.wait_for(lambda: tg.calls)
    await asyncio.sleep(1.0)

    health = await channel.health_check()
    assert health["status"] == "down"
    assert "bot token" in health["detail"] and "401" in health["detail"]
    assert len(tg.calls) <= 4  # one try per backoff_max (0.4 s)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "telegram.bot_token" in errors[0].getMessage()


async def test_the_token_never_reaches_the_logs(tg, running, storage, caplog):
    caplog.set_level(logging.DEBUG)
    tg.fail("getUpdates", times=1, status=500)
    tg.fail("getUpdates", times=1, drop=True)
    tg.fail("sendMessage", times=1, status=429, retry_after=0)
    await running()
    tg.send_text(OWNER, "hi")
    tg.send_text(STRANGER, "hi")
    await _answered(tg, OWNER, "Hello, world!")
    await tg.wait_for(lambda: [c for c in tg.calls if c.params.get("chat_id") == STRANGER])

    assert any(r.name.startswith("httpx") for r in caplog.records)  # httpx did log requests
    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert tg.token not in logged
    assert tg.token.split(":")[1] not in logged


async def test_shutdown_lets_a_reply_in_flight_finish(tg, running, storage):
    channel = await running(ScriptedAgent(storage, pieces=("still", " coming"), delay=0.3))
    tg.send_text(OWNER, "quick")
    await tg.wait_for(lambda: tg.texts(OWNER))
    await channel.shutdown()
    assert tg.texts(OWNER) == ["still coming"]


async def test_shutdown_is_prompt_during_a_long_poll_and_safe_twice(tg, running):
    channel = await running(poll_timeout=30)
    await tg.wait_for(lambda: tg.calls_of("getUpdates"))
    loop = asyncio.get_running_loop()
    started = loop.time()
    await channel.shutdown()
    assert loop.time() - started < 1.0
    await channel.shutdown()
    assert (await channel.health_check())["status"] == "down"


async def test_a_reply_refused_by_many_429s_in_a_row_is_delivered_not_dropped(
        tg, running, caplog):
    tg.fail("sendMessage", times=8, status=429, retry_after=0)
    channel = await running()
    tg.send_text(OWNER, "hi")
    await _answered(tg, OWNER, "Hello, world!", timeout=20)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("not delivered yet" in w for w in warnings)
    assert (await channel.health_check())["status"] == "ok"  # nothing waits any more


@pytest.mark.slow  # waits out real time
async def test_a_reply_waiting_on_429s_honours_retry_after_and_shows_in_health(
        tg, running, caplog):
    tg.fail("sendMessage", times=9, status=429, retry_after=1)
    channel = await running()
    tg.send_text(OWNER, "hi")
    await tg.wait_for(lambda: any("not delivered yet" in r.getMessage()
                                  for r in caplog.records), 20)
    health = await channel.health_check()
    assert health["status"] == "degraded" and "retrying" in health["detail"]
    await _answered(tg, OWNER, "Hello, world!", timeout=30)
    sends = [c for c in tg.calls if c.method == "sendMessage"]
    gaps = [later.at - earlier.at for earlier, later in zip(sends, sends[1:])]
    assert min(gaps[-3:]) >= 0.95  # the last retries of the final send waited as asked
