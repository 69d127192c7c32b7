"""A client's settings and beta flags on the wire, and token counting, against the fake API."""

import pytest

from blufio.errors import ProviderError

from tests.fakes.anthropic_server import FakeAnthropic

from .test_provider import collect, provider_for

MESSAGES = [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]


@pytest.fixture
def fake():
    with FakeAnthropic(api_key="sk-test") as server:
        yield server


async def test_client_settings_go_into_the_body_as_they_are(tmp_path, fake):
    provider = provider_for(tmp_path, fake)
    options = {"stop_sequences": ["END"], "temperature": 0.3, "top_p": 0.8, "top_k": 5,
               "metadata": {"user_id": "u"}, "tool_choice": {"type": "auto"},
               "thinking": {"type": "disabled"}, "unknown": 1}
    await collect(provider, options=options)
    await provider.shutdown()
    sent = fake.message_requests[-1].json
    assert {name: sent[name] for name in options if name != "unknown"} == {
        name: value for name, value in options.items() if name != "unknown"}
    assert "unknown" not in sent


async def test_only_known_beta_flags_are_forwarded(tmp_path, fake):
    provider = provider_for(tmp_path, fake)
    await collect(provider, options={"betas": ["oauth-2025-04-20", "made-up",
                                               "fine-grained-tool-streaming-2025-05-14"]})
    await collect(provider, options={"betas": ["made-up"]})
    await provider.shutdown()
    first, second = fake.message_requests[-2:]
    assert first.headers["anthropic-beta"] == "fine-grained-tool-streaming-2025-05-14"
    assert "anthropic-beta" not in second.headers


async def test_count_tokens_asks_the_counting_endpoint(tmp_path, fake):
    provider = provider_for(tmp_path, fake)
    count = await provider.count_tokens(model="claude-sonnet-4-5",
                                        system=[{"type": "text", "text": "Be brief."}],
                                        messages=MESSAGES, tools=[])
    await provider.shutdown()
    request = fake.requests[-1]
    assert request.path == "/v1/messages/count_tokens"
    assert request.headers["x-api-key"] == "sk-test"
    assert count > 0 and "max_tokens" not in request.json


async def test_a_refused_count_is_a_provider_error_with_the_upstream_status(tmp_path, fake):
    provider = provider_for(tmp_path, fake)
    provider.base_url += "/nowhere"  # the fake answers 404 in Anthropic's envelope
    with pytest.raises(ProviderError) as caught:
        await provider.count_tokens(model="m", system=[], messages=MESSAGES, tools=[])
    await provider.shutdown()
    assert caught.value.status == 404 and caught.value.http_status == 400
