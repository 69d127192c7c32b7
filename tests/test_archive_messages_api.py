"""Issue 10's acceptance from the built archive, with Anthropic's SDK as a new user would:
a client-tool round trip, count_tokens, models, max_tokens and stop sequences, and an
always-failing upstream that costs no more calls than the gateway's own retry budget."""

import asyncio

import anthropic
import httpx
import pytest

from tests.fakes.anthropic_server import FakeAnthropic, http_error
from tests.test_archive_serve import TOKEN, archive_env, serve

pytestmark = pytest.mark.slow  # every test here runs a built archive

WEATHER = {"name": "get_weather", "input_schema": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
ASK = [{"role": "user", "content": "use get_weather"}]


async def test_the_archive_speaks_the_messages_api_faithfully(archives):
    with FakeAnthropic() as fake:
        served = await serve(archives["default"], archive_env(
            ANTHROPIC_BASE_URL=fake.base_url, ANTHROPIC_API_KEY="sk-ant-archive",
            BLUFIO_PLUGINS__TELEGRAM="false",
            BLUFIO_GATEWAY__MODELS='["claude-sonnet-4-5", "claude-haiku-4-5"]'))
        try:
            sdk = anthropic.AsyncAnthropic(base_url=served.url, api_key=TOKEN, max_retries=0)
            async with sdk.messages.stream(model="m", max_tokens=100, messages=ASK,
                                           tools=[WEATHER]) as stream:
                reply = await stream.get_final_message()
            assert reply.stop_reason == "tool_use"
            final = await sdk.messages.create(model="m", max_tokens=100, tools=[WEATHER], messages=[
                *ASK, {"role": "assistant", "content": [b.model_dump() for b in reply.content]},
                {"role": "user", "content": [{"type": "tool_result", "content": "sunny",
                                              "tool_use_id": reply.content[-1].id}]}])
            assert final.content[0].text == "the tool said: sunny"
            assert (await sdk.messages.count_tokens(model="m", messages=ASK)).input_tokens > 0
            assert [m.id async for m in sdk.models.list()] == ["claude-sonnet-4-5",
                                                                 "claude-haiku-4-5"]
            long = [{"role": "user", "content": "a rather long question to echo"}]
            cut = await sdk.messages.create(model="m", max_tokens=5, messages=long)
            assert cut.stop_reason == "max_tokens"
            stopped = await sdk.messages.create(model="m", max_tokens=100, messages=long,
                                                stop_sequences=["long"])
            assert (stopped.stop_reason, stopped.stop_sequence) == ("stop_sequence", "long")
        finally:
            assert await asyncio.to_thread(served.stop) == 0


async def test_an_always_failing_upstream_costs_one_retry_budget_and_no_session(archives):
    with FakeAnthropic(default=http_error(529)) as fake:
        served = await serve(archives["default"], archive_env(
            ANTHROPIC_BASE_URL=fake.base_url, ANTHROPIC_API_KEY="sk-ant-archive",
            BLUFIO_PLUGINS__TELEGRAM="false"))
        try:
            sdk = anthropic.AsyncAnthropic(base_url=served.url, api_key=TOKEN)  # 2 retries
            with pytest.raises(anthropic.InternalServerError):
                await sdk.messages.create(model="m", max_tokens=10,
                                          messages=[{"role": "user", "content": "hi"}])
            assert len(fake.message_requests) == 3  # [anthropic] max_retries = 2, plus 1
            async with httpx.AsyncClient() as client:
                listed = await client.get(f"{served.url}/v1/sessions",
                                          headers={"x-api-key": TOKEN})
            assert listed.json()["total"] == 0
        finally:
            await asyncio.to_thread(served.stop)
