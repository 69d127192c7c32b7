"""The real OpenAI-compatible adapter over HTTP against the fake Chat Completions API."""

import json
import time

import pytest

from blufio.agent.stream import MessageBuilder
from blufio.errors import ConfigError, ProviderError
from blufio.plugins.openai.provider import OpenAIProvider
from tests.fakes.config import make_config
from tests.fakes.openai_server import (FakeOpenAI, dropped, http_error, malformed, stalled,
                                       openrouter_error, stream_error, text_reply,
                                       tool_calls_reply, unfinished)


@pytest.fixture
def fake():
    with FakeOpenAI(api_key="sk-test") as server:
        yield server


def provider_for(tmp_path, fake, extra="", environ=None):
    config = make_config(tmp_path, f'[openai]\nbase_url = "{fake.base_url}"\n'
                         f'read_timeout = 1.0\nconnect_timeout = 1.0\n{extra}',
                         environ={"OPENAI_API_KEY": "sk-test"} if environ is None else environ,
                         features=["openai"])
    provider = OpenAIProvider(config)
    provider.policy.backoff_base = 0.01
    return provider


async def collect(provider, **overrides):
    kwargs = dict(model="gpt-4.1-mini", system=[{"type": "text", "text": "Be brief."}],
                  messages=[{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
                  tools=[], max_tokens=100)
    kwargs.update(overrides)
    return [event async for event in provider.stream(**kwargs)]


def built(events):
    builder = MessageBuilder()
    text = "".join(builder.feed(event) for event in events)
    return builder, text, builder.finish()


async def test_text_streams_as_anthropic_events_with_usage(tmp_path, fake):
    fake.add(text_reply("Hello there, friend.", usage={"prompt_tokens": 12, "completion_tokens": 6,
                                                       "cached_tokens": 4}))
    provider = provider_for(tmp_path, fake)
    events = await collect(provider)
    await provider.shutdown()
    builder, text, _ = built(events)
    assert text == "Hello there, friend."
    assert builder.model == "gpt-4.1-mini" and builder.stop_reason == "end_turn"
    assert (builder.usage.input_tokens, builder.usage.output_tokens,
            builder.usage.cache_read_input_tokens) == (8, 6, 4)
    request = fake.chat_requests[0]
    assert request.headers["authorization"] == "Bearer sk-test"
    assert request.json["stream"] is True
    assert request.json["stream_options"] == {"include_usage": True}
    assert request.json["messages"][0] == {"role": "system", "content": "Be brief."}


async def test_tool_calls_split_whole_and_at_index_0_arrive_as_tool_use(tmp_path, fake):
    calls = [("current_time", {"timezone": "UTC"}, "call_a"), ("echo", {"text": "x" * 30}, "call_b")]
    fake.add(tool_calls_reply(calls, text="Let me look."),
             tool_calls_reply(calls, style="whole"), tool_calls_reply(calls, style="index0"))
    provider = provider_for(tmp_path, fake)
    for _ in range(3):
        builder, _, content = built(await collect(provider))
        assert builder.stop_reason == "tool_use"
        assert [(b["id"], b["name"], b["input"]) for b in content if b["type"] == "tool_use"] == \
            [("call_a", "current_time", {"timezone": "UTC"}), ("call_b", "echo", {"text": "x" * 30})]
    await provider.shutdown()


async def test_a_tool_round_trip_is_sent_back_as_tool_messages(tmp_path, fake):
    provider = provider_for(tmp_path, fake)
    tools = [{"name": "current_time", "description": "The time", "input_schema": {"type": "object"}}]
    messages = [{"role": "user", "content": "time?"},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "call_a",
                                                   "name": "current_time", "input": {}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_a",
                                              "content": "12:00"}]}]
    await collect(provider, tools=tools, messages=messages)
    await provider.shutdown()
    body = fake.chat_requests[0].json
    assert body["tools"][0]["function"]["name"] == "current_time"
    assert body["messages"][-1] == {"role": "tool", "tool_call_id": "call_a", "content": "12:00"}
    assert body["messages"][-2]["tool_calls"][0]["function"]["arguments"] == "{}"


async def test_options_and_the_output_limit_field(tmp_path, fake):
    provider = provider_for(tmp_path, fake, 'max_tokens_field = "max_completion_tokens"\n')
    await collect(provider, options={"stop_sequences": ["END"], "temperature": 0.5, "top_p": 0.9,
                                     "top_k": 5, "thinking": {"type": "enabled"},
                                     "betas": ["x"]})
    await provider.shutdown()
    body = fake.chat_requests[0].json
    assert body["max_completion_tokens"] == 100 and "max_tokens" not in body
    assert body["stop"] == ["END"] and body["temperature"] == 0.5 and body["top_p"] == 0.9
    assert not {"top_k", "thinking", "betas"} & set(body)


async def test_count_tokens_estimates_from_the_request_text(tmp_path, fake):
    provider = provider_for(tmp_path, fake)
    short = await provider.count_tokens(model="m", system=[], tools=[],
                                        messages=[{"role": "user", "content": "hi"}])
    long = await provider.count_tokens(model="m", system=[], tools=[],
                                       messages=[{"role": "user", "content": "word " * 400}])
    await provider.shutdown()
    assert 0 < short < 20 and 450 < long < 600
    assert fake.chat_requests == []  # no request: there is no counting endpoint


def test_the_output_limit_field_defaults_by_server(tmp_path):
    def field(url):
        config = make_config(tmp_path, f'[openai]\nbase_url = "{url}"\n', features=["openai"])
        return OpenAIProvider(config).max_tokens_field

    assert field("https://api.openai.com/v1") == "max_completion_tokens"
    assert field("http://localhost:11434/v1") == "max_tokens"


async def test_a_server_without_usage_support_still_answers(tmp_path, fake):
    provider = provider_for(tmp_path, fake, "include_usage = false\n")
    builder, text, _ = built(await collect(provider))
    await provider.shutdown()
    assert text == "echo: hi" and builder.usage.output_tokens == 0
    assert "stream_options" not in fake.chat_requests[0].json


async def test_extra_headers_are_sent(tmp_path, fake):
    provider = provider_for(tmp_path, fake,
                            'headers = ["HTTP-Referer: https://example.com", "X-Title: Blufio"]\n')
    await collect(provider)
    await provider.shutdown()
    assert fake.chat_requests[0].headers["x-title"] == "Blufio"
    assert fake.chat_requests[0].headers["http-referer"] == "https://example.com"


def test_a_header_without_a_colon_is_a_config_error(tmp_path):
    config = make_config(tmp_path, '[openai]\nheaders = ["nonsense"]\n', features=["openai"])
    with pytest.raises(ConfigError, match="openai.headers"):
        OpenAIProvider(config)


async def test_no_api_key_is_fine_for_a_local_server():
    with FakeOpenAI(prefix="/v1beta/openai") as local:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            provider = provider_for(tmp, local, environ={})
            _, text, _ = built(await collect(provider))
            await provider.shutdown()
    assert text == "echo: hi"
    assert "authorization" not in local.chat_requests[0].headers


@pytest.mark.parametrize("status", [429, 500, 503, 529])
async def test_retryable_statuses_are_retried_honouring_retry_after(tmp_path, fake, status):
    fake.add(http_error(status, retry_after=0.15), http_error(status), text_reply("finally"))
    provider = provider_for(tmp_path, fake)
    started = time.monotonic()
    _, text, _ = built(await collect(provider))
    elapsed = time.monotonic() - started
    await provider.shutdown()
    assert text == "finally" and len(fake.chat_requests) == 3
    assert elapsed >= 0.15


async def test_an_exhausted_quota_is_not_retried(tmp_path, fake):
    fake.add(http_error(429, "You exceeded your current quota", error_type="insufficient_quota",
                        code="insufficient_quota"))
    provider = provider_for(tmp_path, fake)
    with pytest.raises(ProviderError, match="exceeded your current quota") as caught:
        await collect(provider)
    await provider.shutdown()
    assert len(fake.chat_requests) == 1
    assert caught.value.status == 429 and caught.value.error_type == "rate_limit_error"


async def test_retries_are_bounded_and_the_error_carries_message_and_request_id(tmp_path, fake):
    fake.default = http_error(500, "Internal server error")
    provider = provider_for(tmp_path, fake, "max_retries = 1\n")
    with pytest.raises(ProviderError) as caught:
        await collect(provider)
    await provider.shutdown()
    assert len(fake.chat_requests) == 2
    assert caught.value.status == 500 and caught.value.error_type == "api_error"
    assert "Internal server error" in str(caught.value)
    assert caught.value.request_id.startswith("req_fake_")


@pytest.mark.parametrize("status,kind", [(400, "invalid_request_error"),
                                         (404, "not_found_error")])
async def test_client_errors_are_not_retried(tmp_path, fake, status, kind):
    fake.add(http_error(status, "you did something wrong"))
    provider = provider_for(tmp_path, fake)
    with pytest.raises(ProviderError, match="you did something wrong") as caught:
        await collect(provider)
    await provider.shutdown()
    assert len(fake.chat_requests) == 1
    assert (caught.value.status, caught.value.error_type) == (status, kind)


async def test_a_wrong_key_is_a_401_that_never_shows_the_key(tmp_path, fake):
    provider = provider_for(tmp_path, fake, environ={"OPENAI_API_KEY": "sk-wrong"})
    with pytest.raises(ProviderError) as caught:
        await collect(provider)
    await provider.shutdown()
    assert caught.value.status == 401 and caught.value.error_type == "authentication_error"
    assert "refused the API key" in str(caught.value) and "sk-wrong" not in str(caught.value)


async def test_an_error_chunk_mid_stream_raises_after_partial_output_without_retry(tmp_path, fake):
    fake.add(stream_error("Hello", "The server is overloaded", "overloaded"))
    provider = provider_for(tmp_path, fake)
    seen = []
    with pytest.raises(ProviderError, match="mid-stream") as caught:
        async for event in provider.stream(model="m", system=[], tools=[], max_tokens=10,
                                           messages=[{"role": "user", "content": "hi"}]):
            seen.append(event)
    await provider.shutdown()
    assert "".join(e["delta"]["text"] for e in seen if e["type"] == "content_block_delta") == "Hello"
    assert caught.value.error_type == "overloaded_error"
    assert len(fake.chat_requests) == 1


@pytest.mark.parametrize("broken,match", [(dropped, "failed mid-stream"),
                                          (openrouter_error, "Provider disconnected"),
                                          (malformed, "malformed"),
                                          (unfinished, "ended before")])
async def test_broken_streams_fail_cleanly_without_retry(tmp_path, fake, broken, match):
    fake.add(broken())
    provider = provider_for(tmp_path, fake)
    with pytest.raises(ProviderError, match=match):
        await collect(provider)
    await provider.shutdown()
    assert len(fake.chat_requests) == 1


@pytest.mark.slow  # waits out real time
async def test_a_stalled_stream_times_out_without_retry(tmp_path, fake):
    fake.add(stalled("Hi"))
    provider = provider_for(tmp_path, fake)
    with pytest.raises(ProviderError, match="sent nothing for 1s"):
        await collect(provider)
    await provider.shutdown()
    assert len(fake.chat_requests) == 1


@pytest.mark.slow  # waits out real time
async def test_a_stall_before_headers_is_retried(tmp_path, fake):
    fake.add(stalled(before_headers=True, seconds=30), text_reply("second try"))
    provider = provider_for(tmp_path, fake)
    assert built(await collect(provider))[1] == "second try"
    await provider.shutdown()
    assert len(fake.chat_requests) == 2


async def test_an_unreachable_server_is_a_clear_error(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = make_config(tmp_path, f'[openai]\nbase_url = "http://127.0.0.1:{port}/v1"\n'
                         "max_retries = 1\n", features=["openai"])
    provider = OpenAIProvider(config)
    provider.policy.backoff_base = 0.01
    with pytest.raises(ProviderError, match="cannot connect to the OpenAI-compatible API at "
                                            f"127.0.0.1:{port}.*openai.base_url"):
        await collect(provider)
    await provider.shutdown()


async def test_non_ascii_text_round_trips(tmp_path, fake):
    fake.add(text_reply("Grüße, 世界"))
    provider = provider_for(tmp_path, fake)
    _, text, _ = built(await collect(provider, messages=[{"role": "user", "content": "héllo"}]))
    await provider.shutdown()
    assert text == "Grüße, 世界"
    assert json.loads(fake.chat_requests[0].body)["messages"][-1]["content"] == "héllo"


async def test_health_check_and_identity(tmp_path, fake):
    provider = provider_for(tmp_path, fake)
    assert (provider.name, provider.adapter_type) == ("openai", "provider")
    assert (await provider.health_check())["status"] == "ok"
    await provider.shutdown()
    await provider.shutdown()


async def test_openai_itself_without_a_key_names_the_three_ways_to_set_it(tmp_path):
    config = make_config(tmp_path, "", features=["openai"])
    provider = OpenAIProvider(config)
    assert (await provider.health_check())["status"] == "down"
    with pytest.raises(ConfigError) as caught:
        await collect(provider)
    message = str(caught.value)
    assert "OPENAI_API_KEY" in message and "set-secret openai.api_key" in message
    assert "\n" not in message


@pytest.mark.parametrize("respond,cls,status", [
    (lambda: http_error(401), "ProviderAuthError", 502),
    (lambda: http_error(400), "ProviderError", 400),
    (lambda: http_error(429, code="insufficient_quota"), "ProviderError", 429),
    (lambda: http_error(529), "ProviderError", 529),
    (lambda: stream_error("", "Overloaded", "overloaded"), "ProviderError", 529),
    (lambda: dropped("Hel"), "ProviderUnavailableError", 503),
    (lambda: unfinished("Hel"), "ProviderUnavailableError", 503)])
async def test_each_failure_is_raised_as_what_it_means(tmp_path, fake, respond, cls, status):
    fake.add(respond())
    provider = provider_for(tmp_path, fake, "max_retries = 0\n")
    with pytest.raises(ProviderError) as caught:
        await collect(provider)
    await provider.shutdown()
    assert type(caught.value).__name__ == cls and caught.value.http_status == status
