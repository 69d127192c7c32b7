"""The telegram channel as ``blufio serve`` runs it: created by the registry from its
manifest, beside the gateway, over one agent; stopped in order."""

import asyncio

from blufio.service import Service
from tests.fakes.config import make_config

OWNER = 42  # as in conftest.py's allowed_users


async def test_serve_starts_telegram_beside_the_gateway(tmp_path, tg, telegram_toml, fake_anthropic):
    config = make_config(tmp_path, telegram_toml() + f"""
[anthropic]
api_key = "sk-ant-test"
base_url = "{fake_anthropic.base_url}"

[gateway]
port = 0
""")
    service = Service(config)
    await service.start()
    try:
        assert set(service.channels) >= {"telegram", "gateway"}
        tg.send_text(OWNER, "hello from Telegram")
        await tg.wait_for(lambda: tg.texts(OWNER) == ["echo: hello from Telegram"])
        health = await service.channels["telegram"].health_check()
        assert health["status"] == "ok" and "@blufio_bot" in health["detail"]
        assert await service.storage.count_sessions(channel="telegram") == 1
    finally:
        await service.stop()


async def test_serve_answers_a_telegram_message_a_crash_left_unanswered(tmp_path, tg, telegram_toml,
                                                                        fake_anthropic):
    config = make_config(tmp_path, telegram_toml() + f"""
[anthropic]
api_key = "sk-ant-test"
base_url = "{fake_anthropic.base_url}"

[plugins]
gateway = false
""")
    from blufio.model import text_blocks
    from blufio.plugins.sqlite.storage import SqliteStorage

    storage = SqliteStorage(config)  # the last run: received, claimed, then killed
    await storage.open()
    session = await storage.create_session("telegram")
    await storage.enqueue(session.id, "telegram", text_blocks("are you there?"),
                          reply_to={"chat_id": OWNER}, claimed=True)
    await storage.shutdown()

    service = Service(config)
    await service.start()
    try:
        await tg.wait_for(lambda: "echo: are you there?" in tg.texts(OWNER))
        for _ in range(100):  # the reply shows before the turn's transaction commits
            if not await service.storage.unfinished():
                break
            await asyncio.sleep(0.05)
        assert await service.storage.unfinished() == []
    finally:
        await service.stop()
    assert len(fake_anthropic.message_requests) == 1  # answered once
