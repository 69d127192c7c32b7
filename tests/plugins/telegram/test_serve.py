"""The telegram channel as ``blufio serve`` runs it: created by the registry from its
manifest, beside the gateway, over one agent; stopped in order."""


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
