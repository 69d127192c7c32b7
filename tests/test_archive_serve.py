"""The built archive as the product: ``python3 blufio.pyz serve`` with real clients.

The default archive answers Anthropic's SDK and a Telegram conversation at the same time; a
stripped archive without prometheus and keypair serves the gateway with a static token.
"""

import asyncio
import os

import anthropic
import httpx
import pytest

from tests.archives import PYTHON
from tests.fakes.anthropic_server import FakeAnthropic
from tests.fakes.telegram_server import FakeTelegram
from tests.served import Served

TOKEN = "archive-test-token"
OWNER = 4242

pytestmark = pytest.mark.slow  # every test here runs a built archive


def archive_env(**extra):
    """A bare environment: only what a user on a VPS would have, plus ``extra``."""
    env = {name: os.environ[name] for name in ("PATH", "HOME", "BLUFIO_DATA_DIR",
                                               "XDG_CONFIG_HOME", "XDG_DATA_HOME")}
    env.update(BLUFIO_GATEWAY__PORT="0", BLUFIO_GATEWAY__BEARER_TOKEN=TOKEN, **extra)
    return env


async def serve(archive, env):
    return await asyncio.to_thread(Served, env, [PYTHON, "-I", archive])


async def test_the_default_archive_answers_the_sdk_and_telegram_together(archives):
    async with FakeTelegram() as telegram:
        with FakeAnthropic() as fake:
            served = await serve(archives["default"], archive_env(
                ANTHROPIC_BASE_URL=fake.base_url, ANTHROPIC_API_KEY="sk-ant-archive",
                TELEGRAM_BOT_TOKEN=telegram.token, BLUFIO_TELEGRAM__API_BASE_URL=telegram.base_url,
                BLUFIO_TELEGRAM__ALLOWED_USERS=f"[{OWNER}]", BLUFIO_TELEGRAM__POLL_TIMEOUT="1"))
            try:
                sdk = anthropic.AsyncAnthropic(base_url=served.url, api_key=TOKEN, max_retries=0)
                telegram.send_text(user_id=OWNER, text="hi from telegram")

                async def streamed():
                    async with sdk.messages.stream(model="m", max_tokens=20, messages=[
                            {"role": "user", "content": "streamed"}]) as stream:
                        return "".join([chunk async for chunk in stream.text_stream])

                created, text = await asyncio.gather(
                    sdk.messages.create(model="m", max_tokens=20,
                                        messages=[{"role": "user", "content": "created"}]),
                    streamed())
                assert created.content[0].text == "echo: created"
                assert text == "echo: streamed"
                await telegram.wait_for(lambda: "echo: hi from telegram" in telegram.texts(OWNER), 20)

                async with httpx.AsyncClient() as client:
                    listed = (await client.get(f"{served.url}/v1/sessions",
                                               headers={"x-api-key": TOKEN})).json()
                    metrics = await client.get(f"{served.url}/metrics", headers={"x-api-key": TOKEN})
                assert sorted(s["channel"] for s in listed["data"]) == ["gateway", "gateway", "telegram"]
                assert metrics.status_code == 200 and "blufio_messages_total" in metrics.text
            finally:
                code = await asyncio.to_thread(served.stop)
    assert code == 0
    for plugin in ("telegram", "gateway", "sqlite", "anthropic", "prometheus", "keypair"):
        assert f"{plugin}: started" in served.stderr
    assert telegram.token not in served.stderr and "sk-ant-archive" not in served.stderr
    assert served.stderr.count("event loop: asyncio") == 1  # the default build has no uvloop


async def test_a_build_without_prometheus_and_keypair_serves_with_the_static_token(archives):
    with FakeAnthropic() as fake:
        served = await serve(archives["api"], archive_env(
            ANTHROPIC_BASE_URL=fake.base_url, ANTHROPIC_API_KEY="sk-ant-archive"))
        try:
            sdk = anthropic.AsyncAnthropic(base_url=served.url, api_key=TOKEN, max_retries=0)
            reply = await sdk.messages.create(model="m", max_tokens=20,
                                              messages=[{"role": "user", "content": "hi"}])
            assert reply.content[0].text == "echo: hi"
            async with httpx.AsyncClient() as client:
                metrics = await client.get(f"{served.url}/metrics", headers={"x-api-key": TOKEN})
                health = (await client.get(f"{served.url}/v1/health",
                                            headers={"x-api-key": TOKEN})).json()
                page = await client.get(f"{served.url}/")  # the chat page, from inside the archive
                script = await client.get(f"{served.url}/ui/markdown.js")
            assert page.status_code == 200 and "script-src 'self'" in page.headers["content-security-policy"]
            assert script.status_code == 200 and b"BlufioMarkdown" in script.content
            assert metrics.status_code == 404
            assert set(health["plugins"]) == {"sqlite", "anthropic", "gateway"}
        finally:
            code = await asyncio.to_thread(served.stop)
    assert code == 0


async def test_replacing_the_archive_while_serving_keeps_this_version_until_sighup(
        archives, tmp_path):
    import shutil
    import signal

    running = str(tmp_path / "blufio.pyz")
    shutil.copy(archives["default"], running)
    with FakeAnthropic() as fake:
        served = await serve(running, archive_env(
            ANTHROPIC_BASE_URL=fake.base_url, ANTHROPIC_API_KEY="sk-ant-archive"))
        try:
            shutil.copy(archives["api"], running)  # cp over it: the same file, new content
            sdk = anthropic.AsyncAnthropic(base_url=served.url, api_key=TOKEN, max_retries=0)
            async with sdk.messages.stream(model="m", max_tokens=20, messages=[
                    {"role": "user", "content": "after the copy"}]) as stream:
                assert "".join([c async for c in stream.text_stream]) == "echo: after the copy"
            async with httpx.AsyncClient() as client:
                health = (await client.get(f"{served.url}/v1/health",
                                            headers={"x-api-key": TOKEN})).json()
            assert health["service"]["archive_replaced"] is True
            assert "prometheus" in health["plugins"]  # still the default build

            # a SIGHUP now would run a broken file
            await asyncio.to_thread((tmp_path / "blufio.pyz").write_bytes, b"not an archive")
            served.process.send_signal(signal.SIGHUP)
            log = await asyncio.to_thread(read_until, served.process.stderr, "not reloading")
            shutil.copy(archives["api"], tmp_path / "new.pyz")
            os.replace(tmp_path / "new.pyz", running)  # mv a good one into place
            served.process.send_signal(signal.SIGHUP)
            url = await asyncio.to_thread(served.next_url)
            async with httpx.AsyncClient() as client:
                health = (await client.get(f"{url}/v1/health",
                                            headers={"x-api-key": TOKEN})).json()
            assert set(health["plugins"]) == {"sqlite", "anthropic", "gateway"}  # the new build
            assert health["service"]["archive_replaced"] is False
        finally:
            code = await asyncio.to_thread(served.stop)
    assert code == 0
    log += served.stderr
    assert log.count("was replaced on disk") == 1, log
    # the old build ran asyncio; the new one, re-executed, runs the uvloop it carries
    assert log.count("event loop: asyncio") == 1 and log.count("event loop: uvloop") == 1, log
    assert "ZipImportError" not in log and "Traceback" not in log


def read_until(stream, text):
    """Lines of ``stream`` up to the first holding ``text`` (all of it at its end)."""
    lines = []
    while not lines or text not in lines[-1]:
        line = stream.readline()
        if not line:
            break
        lines.append(line)
    return "".join(lines)
