"""The real Anthropic adapter over HTTP against the fake Messages API."""

import time

import pytest

from blufio.errors import ConfigError, ProviderError
from blufio.plugins.anthropic.provider import AnthropicProvider
from tests.fakes.anthropic_server import (FakeAnthropic, dropped, http_error, malformed, stalled,
                                          stream_error, text_reply, tool_use_reply)
from tests.fakes.config import make_config


@pytest.fixture
def fake():
    with FakeAnthropic(api_key="sk-test") as server:
        yield server


def provider_for(tmp_path, fake, extra=""):
    config = make_config(tmp_path, f'[anthropic]\nbase_url = "{fake.base_url}"\n'
                         f'read_timeout = 1.0\nconnect_timeout = 1.0\n{extra}',
                         environ={"ANTHROPIC_API_KEY": "sk-test"})
    provider = AnthropicProvider(config)
    provider.policy.backoff_base = 0.01
    return provider


async def collect(provider, **overrides):
    kwargs = dict(model="claude-sonnet-4-5", system=[{"type": "text", "text": "Be brief."}],
                  messages=[{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
                  tools=[], max_tokens=100)
    kwargs.update(overrides)
    return [event async for event in provider.stream(**kwargs)]


def text_from(events):
    return "".join(e["delta"]["text"] for e in events if e["type"] == "content_block_delta"
                   and e["delta"]["type"] == "text_delta")


async def test_plain_text_streams_documented_events(tmp_path, fake):
    fake.add(text_reply("Hello there, friend.", usage={"input_tokens": 12, "output_tokens": 6}))
    provider = provider_for(tmp_path, fake)
    events = await collect(provider)
    await provider.shutdown()
    assert text_from(events) == "Hello there, friend."
    kinds = [e["type"] for e in events]
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert "ping" not in kinds
    assert events[-2]["usage"]["output_tokens"] == 6
    request = fake.message_requests[0]
    assert request.headers["x-api-key"] == "sk-test"
    assert request.headers["anthropic-version"]
    assert request.json["stream"] is True


async def test_prompt_caching_marks_the_stable_prefix(tmp_path, fake):
    provider = provider_for(tmp_path, fake)
    tools = [{"name": "a", "description": "A", "input_schema": {"type": "object"}},
             {"name": "b", "description": "B", "input_schema": {"type": "object"}}]
    system = [{"type": "text", "text": "Be brief."}]
    await collect(provider, tools=tools, system=system)
    await provider.shutdown()
    body = fake.message_requests[0].json
    assert body["system"][-1]["cache_control"] == {"type": "ephemeral"}
    assert body["tools"][-1]["cache_control"] == {"type": "ephemeral"}
    assert "cache_control" not in body["tools"][0]
    assert body["messages"][-1]["content"][-1]["cache_control"] == {"type": "ephemeral"}
    assert "cache_control" not in tools[-1] and "cache_control" not in system[-1]  # not mutated


async def test_tool_use_arrives_as_input_json_deltas(tmp_path, fake):
    fake.add(tool_use_reply("current_time", {"timezone": "UTC", "nested": {"a": [1, 2]}},
                            text="Let me look.", tool_id="toolu_1"))
    provider = provider_for(tmp_path, fake)
    events = await collect(provider)
    await provider.shutdown()
    starts = [e for e in events if e["type"] == "content_block_start"]
    assert starts[1]["content_block"]["type"] == "tool_use"
    assert starts[1]["content_block"]["id"] == "toolu_1"
    fragments = [e["delta"]["partial_json"] for e in events if e["type"] == "content_block_delta"
                 and e["delta"]["type"] == "input_json_delta"]
    assert len(fragments) > 1
    import json

    assert json.loads("".join(fragments)) == {"timezone": "UTC", "nested": {"a": [1, 2]}}
    assert [e for e in events if e["type"] == "message_delta"][0]["delta"]["stop_reason"] == "tool_use"


async def test_mid_stream_error_raises_after_partial_output_without_retry(tmp_path, fake):
    fake.add(stream_error("Hello", "overloaded_error", "Overloaded"))
    provider = provider_for(tmp_path, fake)
    seen = []
    with pytest.raises(ProviderError) as caught:
        async for event in provider.stream(model="m", system=[], messages=[{"role": "user", "content": "hi"}],
                                           tools=[], max_tokens=10):
            seen.append(event)
    await provider.shutdown()
    assert text_from(seen) == "Hello"
    assert caught.value.error_type == "overloaded_error"
    assert "Overloaded" in str(caught.value)
    assert caught.value.request_id.startswith("req_fake_")
    assert len(fake.message_requests) == 1


@pytest.mark.parametrize("status", [429, 529])
async def test_retryable_status_honours_retry_after_ms(tmp_path, fake, status):
    fake.add(http_error(status, retry_after_ms=150), http_error(status, retry_after=0),
             text_reply("finally"))
    provider = provider_for(tmp_path, fake)
    started = time.monotonic()
    events = await collect(provider)
    elapsed = time.monotonic() - started
    await provider.shutdown()
    assert text_from(events) == "finally"
    assert len(fake.message_requests) == 3
    assert elapsed >= 0.15


async def test_retry_after_is_capped(tmp_path, fake):
    fake.add(http_error(429, retry_after=3600), text_reply("ok"))
    provider = provider_for(tmp_path, fake)
    provider.policy.max_retry_after = 0.05
    started = time.monotonic()
    assert text_from(await collect(provider)) == "ok"
    assert time.monotonic() - started < 2
    await provider.shutdown()


async def test_retries_are_bounded_and_the_error_carries_message_and_request_id(tmp_path, fake):
    fake.default = http_error(500, "api_error", "Internal server error")
    provider = provider_for(tmp_path, fake, "max_retries = 2\n")
    with pytest.raises(ProviderError) as caught:
        await collect(provider)
    await provider.shutdown()
    assert len(fake.message_requests) == 3
    assert caught.value.status == 500
    assert "Internal server error" in str(caught.value)
    assert "req_fake_" in str(caught.value)


@pytest.mark.parametrize("status,kind", [(401, "authentication_error"),
                                         (400, "invalid_request_error")])
async def test_client_errors_are_not_retried(tmp_path, fake, status, kind):
    fake.add(http_error(status, kind, "you did something wrong"))
    provider = provider_for(tmp_path, fake)
    with pytest.raises(ProviderError) as caught:
        await collect(provider)
    await provider.shutdown()
    assert len(fake.message_requests) == 1
    assert caught.value.status == status and caught.value.error_type == kind
    assert "you did something wrong" in str(caught.value)


async def test_wrong_key_is_a_401_naming_the_problem(tmp_path, fake):
    config = make_config(tmp_path, f'[anthropic]\nbase_url = "{fake.base_url}"\n',
                         environ={"ANTHROPIC_API_KEY": "sk-wrong"})
    provider = AnthropicProvider(config)
    with pytest.raises(ProviderError) as caught:
        await collect(provider)
    await provider.shutdown()
    assert caught.value.status == 401
    assert "sk-wrong" not in str(caught.value)


async def test_no_key_names_the_three_ways_to_set_it(tmp_path, fake):
    config = make_config(tmp_path, f'[anthropic]\nbase_url = "{fake.base_url}"\n')
    provider = AnthropicProvider(config)
    with pytest.raises(ConfigError) as caught:
        await collect(provider)
    message = str(caught.value)
    assert "ANTHROPIC_API_KEY" in message
    assert "blufio config set-secret anthropic.api_key" in message
    assert "[anthropic]" in message and "\n" not in message
    assert fake.message_requests == []


async def test_base_url_comes_from_the_environment(tmp_path, fake):
    config = make_config(tmp_path, "", environ={"ANTHROPIC_API_KEY": "sk-test",
                                                "ANTHROPIC_BASE_URL": fake.base_url + "/"})
    provider = AnthropicProvider(config)
    assert text_from(await collect(provider)).startswith("echo: hi")
    await provider.shutdown()


async def test_dropped_connection_mid_stream_fails_without_retry(tmp_path, fake):
    fake.add(dropped("Hel"))
    provider = provider_for(tmp_path, fake)
    seen = []
    with pytest.raises(ProviderError):
        async for event in provider.stream(model="m", system=[], messages=[{"role": "user", "content": "x"}],
                                           tools=[], max_tokens=10):
            seen.append(event)
    await provider.shutdown()
    assert text_from(seen) == "Hel"
    assert len(fake.message_requests) == 1


async def test_malformed_event_fails_cleanly(tmp_path, fake):
    fake.add(malformed())
    provider = provider_for(tmp_path, fake)
    with pytest.raises(ProviderError, match="malformed"):
        await collect(provider)
    await provider.shutdown()
    assert len(fake.message_requests) == 1


@pytest.mark.slow  # waits out real time
async def test_stalled_stream_times_out_without_retry(tmp_path, fake):
    fake.add(stalled("Hi"))
    provider = provider_for(tmp_path, fake)
    started = time.monotonic()
    with pytest.raises(ProviderError, match="sent nothing for 1s"):
        await collect(provider)
    assert time.monotonic() - started < 5
    await provider.shutdown()
    assert len(fake.message_requests) == 1


@pytest.mark.slow  # waits out real time
async def test_stall_before_headers_is_retried(tmp_path, fake):
    fake.add(stalled(before_headers=True, seconds=30), text_reply("second try"))
    provider = provider_for(tmp_path, fake)
    assert text_from(await collect(provider)) == "second try"
    await provider.shutdown()
    assert len(fake.message_requests) == 2


async def test_unreachable_server_is_a_clear_error(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = make_config(tmp_path, f'[anthropic]\nbase_url = "http://127.0.0.1:{port}"\n'
                         "max_retries = 1\n", environ={"ANTHROPIC_API_KEY": "k"})
    provider = AnthropicProvider(config)
    provider.policy.backoff_base = 0.01
    with pytest.raises(ProviderError, match="cannot connect"):
        await collect(provider)
    await provider.shutdown()


async def test_sse_parser_handles_comments_multiline_data_and_crlf():
    from blufio.plugins.anthropic.provider import _events

    class Response:
        async def aiter_lines(self):
            for line in [": comment", "event: message_start", 'data: {"type": "message_start",',
                         'data:  "message": {"usage": {"input_tokens": 1}}}', "", "event: ping",
                         'data: {"type": "ping"}', "", "id: 7", "event: message_stop",
                         'data: {"type": "message_stop"}', ""]:
                yield line

    events = [e async for e in _events(Response(), "req_1")]
    assert [e["type"] for e in events] == ["message_start", "message_stop"]
    assert events[0]["message"]["usage"]["input_tokens"] == 1


async def test_health_check_and_identity(tmp_path, fake):
    provider = provider_for(tmp_path, fake)
    assert (provider.name, provider.adapter_type) == ("anthropic", "provider")
    assert (await provider.health_check())["status"] == "ok"
    await provider.shutdown()
    await provider.shutdown()


async def test_a_key_set_empty_on_purpose_sends_none_for_a_local_server(tmp_path):
    with FakeAnthropic() as local:
        config = make_config(tmp_path, f'[anthropic]\nbase_url = "{local.base_url}"\n'
                             'api_key = ""\n')
        provider = AnthropicProvider(config)
        assert (await provider.health_check())["status"] == "ok"
        assert text_from(await collect(provider)) == "echo: hi"
        await provider.shutdown()
    assert "x-api-key" not in local.message_requests[0].headers
    assert not any("secret" in warning for warning in config.warnings)
