"""Telegram end to end: the fake Bot API, the channel, the real agent and storage, and the
Anthropic provider talking to the fake Messages API. Nothing leaves 127.0.0.1."""

import asyncio

import pytest

from blufio.agent.loop import Agent
from blufio.model import text_of
from blufio.plugins.anthropic.provider import AnthropicProvider
from blufio.plugins.sqlite.storage import SqliteStorage
from blufio.plugins.telegram.channel import OFFSET_KEY, TelegramChannel
from tests.fakes.anthropic_server import text_reply
from tests.fakes.config import make_config

OWNER = 42  # as in conftest.py's allowed_users


@pytest.fixture
def config(tmp_path, telegram_toml, fake_anthropic):
    return make_config(tmp_path, telegram_toml() + f"""
[anthropic]
api_key = "sk-ant-test"
base_url = "{fake_anthropic.base_url}"
""")


@pytest.fixture
async def blufio(config):
    """``await blufio()``: storage, provider, agent and a started channel, as ``serve`` has
    them; each call is a fresh process's worth over the same database."""
    opened = []

    async def start(resume=False):
        storage = SqliteStorage(config)
        await storage.open()
        provider = AnthropicProvider(config)
        agent = Agent.from_config(config, provider=provider, storage=storage)
        channel = TelegramChannel(config, storage=storage)
        opened.append((channel, agent, provider, storage))
        if resume:
            await agent.resume_unfinished(channel.deliver, channels=["telegram"])
        await channel.start(agent)
        return channel, agent, storage

    async def stop():
        while opened:
            channel, agent, provider, storage = opened.pop()
            await channel.shutdown()
            await agent.aclose()
            await provider.shutdown()
            await storage.shutdown()

    yield start
    await stop()


async def test_a_conversation_is_answered_and_kept_in_one_session(tg, fake_anthropic, blufio):
    long_text = "Hello from the model. " * 12
    fake_anthropic.add(text_reply(long_text, chunk_size=8))
    _, _, storage = await blufio()

    tg.send_text(OWNER, "hi")
    await tg.wait_for(lambda: tg.texts(OWNER) == [long_text])
    tg.send_text(OWNER, "and again")
    await tg.wait_for(lambda: tg.texts(OWNER)[1:] == ["echo: and again"])

    assert tg.messages(OWNER)[0].edits  # streamed, then completed by editing
    assert tg.calls_of("sendChatAction")
    await _turns_finished(storage)
    [session] = await storage.list_sessions(channel="telegram")
    assert [text_of(m.content) for m in await storage.get_messages(session.id)] == [
        "hi", long_text, "and again", "echo: and again"]
    # the second turn was sent the first as history
    assert len(fake_anthropic.message_requests[-1].json["messages"]) == 3


async def _turns_finished(storage, timeout=5.0):
    """Wait until no inbound message is pending (a reply can be on screen a moment before
    its turn is stored)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while await storage.unfinished():
        assert loop.time() < deadline, "turns did not finish"
        await asyncio.sleep(0.02)


async def test_a_message_left_unanswered_by_a_crash_is_answered_after_a_restart(
        tg, blufio, config):
    # what a process that died after queueing update 5 left behind
    storage = SqliteStorage(config)
    await storage.open()
    session = await storage.create_session("telegram")
    await storage.enqueue(session.id, "telegram", [{"type": "text", "text": "still there?"}],
                          reply_to={"chat_id": OWNER, "message_id": 5})
    await storage.set_state(OFFSET_KEY, "6")
    await storage.shutdown()

    await blufio(resume=True)
    await tg.wait_for(lambda: tg.texts(OWNER) == ["echo: still there?"])
    await tg.wait_for(lambda: tg.calls_of("getUpdates"))
    assert tg.calls_of("getUpdates")[0].params["offset"] == 6
