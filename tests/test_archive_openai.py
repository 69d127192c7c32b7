"""The ``openai`` plugin in built archives, as a new user would run them.

An archive with only the gateway, openai and sqlite answers Anthropic's SDK from an
OpenAI-compatible server (streaming, and a tool round trip); a default-plus-openai archive
whose Anthropic always fails answers every turn through ``fallback = ["openai"]``, and says
so in ``/metrics`` and the ledger.
"""

import asyncio
import os
import sqlite3

import anthropic
import httpx
import pytest

from tests.archives import build
from tests.fakes.anthropic_server import FakeAnthropic, http_error
from tests.fakes.openai_server import FakeOpenAI, text_reply, tool_calls_reply
from tests.test_archive_serve import TOKEN, archive_env, serve

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def openai_archives(tmp_path_factory):
    out = tmp_path_factory.mktemp("openai-archives")
    made = {}
    for name, args in (("oa", ["--no-default-features", "--features", "api,openai,sqlite"]),
                       ("default_openai", ["--features", "openai"])):
        path = str(out / f"{name}.pyz")
        result = build(*args, "-o", path, env={"SOURCE_DATE_EPOCH": "1700000000"})
        assert result.returncode == 0, result.stderr
        made[name] = path
    return made


async def streamed(sdk, text):
    async with sdk.messages.stream(model="m", max_tokens=50,
                                   messages=[{"role": "user", "content": text}]) as stream:
        pieces = [piece async for piece in stream.text_stream]
        return pieces, await stream.get_final_message()


async def test_a_gateway_openai_sqlite_archive_answers_the_sdk_with_a_tool_round_trip(
        openai_archives, archives):
    assert os.path.getsize(openai_archives["oa"]) < os.path.getsize(archives["default"])
    with FakeOpenAI() as fake:
        fake.add(text_reply("Hello from an OpenAI-compatible server."),
                 tool_calls_reply([("current_time", {"timezone": "UTC"}, "call_1")]),
                 lambda request: text_reply("The tool said " + request.json["messages"][-1]["content"][:8]))
        served = await serve(openai_archives["oa"], archive_env(BLUFIO_OPENAI__BASE_URL=fake.base_url))
        try:
            sdk = anthropic.AsyncAnthropic(base_url=served.url, api_key=TOKEN, max_retries=0)
            pieces, message = await streamed(sdk, "hi")
            assert "".join(pieces) == "Hello from an OpenAI-compatible server." and len(pieces) > 1
            assert message.model == "gpt-4.1-mini" and message.usage.output_tokens == 5
            pieces, message = await streamed(sdk, "what time is it?")
            assert "".join(pieces).startswith("The tool said UTC: 20")
            async with httpx.AsyncClient() as client:
                health = (await client.get(f"{served.url}/v1/health",
                                            headers={"x-api-key": TOKEN})).json()
            assert set(health["plugins"]) == {"sqlite", "openai", "gateway"}
        finally:
            code = await asyncio.to_thread(served.stop)
    assert code == 0
    sent = fake.chat_requests[-1].json["messages"]
    assert sent[-2]["tool_calls"][0]["function"]["name"] == "current_time"
    assert sent[-1]["role"] == "tool" and sent[-1]["tool_call_id"] == "call_1"
    assert "authorization" not in fake.chat_requests[0].headers  # a local server needs no key


async def test_with_anthropic_failing_every_turn_is_answered_by_the_fallback(openai_archives):
    with FakeAnthropic(default=http_error(529)) as failing, FakeOpenAI() as fake:
        env = archive_env(ANTHROPIC_BASE_URL=failing.base_url, ANTHROPIC_API_KEY="sk-ant-archive",
                          BLUFIO_ANTHROPIC__MAX_RETRIES="0", BLUFIO_OPENAI__BASE_URL=fake.base_url,
                          OPENAI_API_KEY="sk-openai-archive", BLUFIO_AGENT__FALLBACK='["openai"]')
        served = await serve(openai_archives["default_openai"], env)
        try:
            sdk = anthropic.AsyncAnthropic(base_url=served.url, api_key=TOKEN, max_retries=0)
            for i in range(3):
                created = await sdk.messages.create(model="m", max_tokens=20, messages=[
                    {"role": "user", "content": f"turn {i}"}])
                assert created.content[0].text == f"echo: turn {i}"
                assert created.model == "gpt-4.1-mini"
            pieces, message = await streamed(sdk, "streamed")
            assert "".join(pieces) == "echo: streamed" and message.model == "gpt-4.1-mini"
            async with httpx.AsyncClient() as client:
                metrics = (await client.get(f"{served.url}/metrics",
                                            headers={"x-api-key": TOKEN})).text
        finally:
            code = await asyncio.to_thread(served.stop)
    assert code == 0
    assert 'blufio_provider_calls_total{model="gpt-4.1-mini",outcome="ok",provider="openai"} 4.0' \
        in metrics
    assert 'blufio_provider_fallbacks_total{from="anthropic",to="openai"}' in metrics
    assert len(failing.message_requests) == 3  # three failures open its circuit: then skipped
    with sqlite3.connect(os.path.join(env["BLUFIO_DATA_DIR"], "blufio.db")) as db:
        ledger = db.execute("SELECT provider, model FROM cost_ledger").fetchall()
    assert ledger == [("openai", "gpt-4.1-mini")] * 4
    assert "sk-openai-archive" not in served.stderr and "sk-ant-archive" not in served.stderr
