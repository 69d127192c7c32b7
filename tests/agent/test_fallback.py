"""Falling back between real providers over HTTP, and the circuit breaker."""

import pytest

from blufio.agent.fallback import CircuitBreaker, ProviderChain, Route, fails_over
from blufio.agent.stream import MessageBuilder
from blufio.errors import ProviderError
from blufio.observability import NullObserver
from blufio.plugins.anthropic.provider import AnthropicProvider
from blufio.plugins.openai.provider import OpenAIProvider
from tests.fakes import anthropic_server, openai_server
from tests.fakes.config import make_config


@pytest.fixture
def anthropic_fake():
    with anthropic_server.FakeAnthropic() as server:
        yield server


@pytest.fixture
def openai_fake():
    with openai_server.FakeOpenAI() as server:
        yield server


class Recorder(NullObserver):
    def __init__(self):
        self.calls = []

    def provider_call(self, provider, model, outcome):
        self.calls.append(("call", provider, model, outcome))

    def fallback(self, failed, to):
        self.calls.append(("fallback", failed, to))


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def chain_for(tmp_path, anthropic_fake, openai_fake):
    made = []

    def make(failures=3, window=60.0, cooldown=30.0, clock=None, observer=None):
        config = make_config(tmp_path, f'[anthropic]\nbase_url = "{anthropic_fake.base_url}"\n'
                             "max_retries = 0\n"
                             f'[openai]\nbase_url = "{openai_fake.base_url}"\n'
                             'model = "gpt-4.1-mini"\nmax_retries = 0\n',
                             environ={"ANTHROPIC_API_KEY": "k"}, features=["openai"])
        breaker = dict(failures=failures, window=window, cooldown=cooldown,
                       clock=clock or Clock())
        chain = ProviderChain([
            Route("anthropic", AnthropicProvider(config), "claude-sonnet-4-5",
                  CircuitBreaker(**breaker)),
            Route("openai", OpenAIProvider(config), "gpt-4.1-mini", CircuitBreaker(**breaker))],
            observer=observer)
        made.append(chain)
        return chain

    yield make


async def ask(chain, model="claude-sonnet-4-5"):
    builder = MessageBuilder()
    text = ""
    async for event in chain.stream(model=model, system=[], tools=[], max_tokens=50,
                                    messages=[{"role": "user", "content": "hi"}]):
        text += builder.feed(event)
    builder.finish()
    return builder, text


async def test_the_main_provider_answers_with_the_model_asked_for(chain_for, openai_fake):
    chain = chain_for()
    builder, text = await ask(chain, model="claude-haiku-4-5")
    await chain.shutdown()
    assert text == "echo: hi"
    assert (builder.model, builder.provider) == ("claude-haiku-4-5", "anthropic")
    assert openai_fake.chat_requests == []


async def test_anthropic_always_529_is_answered_by_openai_once(chain_for, anthropic_fake,
                                                                openai_fake):
    anthropic_fake.default = anthropic_server.http_error(529)
    observer = Recorder()
    chain = chain_for(observer=observer)
    builder, text = await ask(chain)
    await chain.shutdown()
    assert text == "echo: hi"
    assert (builder.model, builder.provider) == ("gpt-4.1-mini", "openai")
    assert len(anthropic_fake.message_requests) == 1 and len(openai_fake.chat_requests) == 1
    assert openai_fake.chat_requests[0].json["model"] == "gpt-4.1-mini"
    assert observer.calls == [("call", "anthropic", "claude-sonnet-4-5", "error"),
                              ("fallback", "anthropic", "openai"),
                              ("call", "openai", "gpt-4.1-mini", "ok")]


@pytest.mark.parametrize("failure", [anthropic_server.http_error(500),
                                     anthropic_server.http_error(429),
                                     anthropic_server.stream_error("", "overloaded_error"),
                                     anthropic_server.stalled(before_headers=True, seconds=30)])
async def test_failures_before_any_output_move_on(chain_for, anthropic_fake, failure):
    anthropic_fake.add(failure)
    chain = chain_for()
    chain.routes[0].provider.read_timeout = 0.3
    chain.routes[0].provider._client = None
    builder, text = await ask(chain)
    await chain.shutdown()
    assert builder.provider == "openai" and text == "echo: hi"


async def test_a_rejected_request_does_not_move_on(chain_for, anthropic_fake, openai_fake):
    anthropic_fake.add(anthropic_server.http_error(400, message="bad request"))
    chain = chain_for()
    with pytest.raises(ProviderError, match="bad request"):
        await ask(chain)
    await chain.shutdown()
    assert openai_fake.chat_requests == []
    assert chain.routes[0].breaker.state == "closed"


async def test_a_failure_after_output_is_raised_not_retried_elsewhere(chain_for, anthropic_fake,
                                                                      openai_fake):
    anthropic_fake.add(anthropic_server.stream_error("Hello", "overloaded_error"))
    chain = chain_for()
    seen = []
    with pytest.raises(ProviderError, match="Overloaded"):
        async for event in chain.stream(model="claude-sonnet-4-5", system=[], tools=[],
                                        max_tokens=50, messages=[{"role": "user", "content": "x"}]):
            seen.append(event)
    await chain.shutdown()
    assert any(e["type"] == "content_block_delta" for e in seen)
    assert openai_fake.chat_requests == []


async def test_when_every_provider_fails_the_last_error_is_raised(chain_for, anthropic_fake,
                                                                  openai_fake):
    anthropic_fake.default = anthropic_server.http_error(529)
    openai_fake.default = openai_server.http_error(503, "down for maintenance")
    chain = chain_for()
    with pytest.raises(ProviderError, match="down for maintenance"):
        await ask(chain)
    await chain.shutdown()


async def test_an_open_circuit_skips_the_provider_until_the_cooldown_ends(chain_for, anthropic_fake):
    clock = Clock()
    anthropic_fake.default = anthropic_server.http_error(529)
    chain = chain_for(failures=2, window=60, cooldown=30, clock=clock)
    for _ in range(2):
        assert (await ask(chain))[0].provider == "openai"
        clock.now += 1
    assert len(anthropic_fake.message_requests) == 2
    assert chain.routes[0].breaker.state == "open"
    assert (await ask(chain))[0].provider == "openai"
    assert len(anthropic_fake.message_requests) == 2  # skipped, not asked
    clock.now += 30
    anthropic_fake.default = anthropic_server.echo  # it has recovered
    assert (await ask(chain))[0].provider == "anthropic"
    assert chain.routes[0].breaker.state == "closed"
    await chain.shutdown()


async def test_when_every_circuit_is_open_they_are_tried_anyway(chain_for, anthropic_fake,
                                                                openai_fake):
    anthropic_fake.default = anthropic_server.http_error(529)
    openai_fake.default = openai_server.http_error(503)
    chain = chain_for(failures=1)
    with pytest.raises(ProviderError):
        await ask(chain)
    assert [r.breaker.state for r in chain.routes] == ["open", "open"]
    openai_fake.default = openai_server.echo
    assert (await ask(chain))[0].provider == "openai"
    await chain.shutdown()


def test_the_breaker_counts_only_failures_within_the_window():
    clock = Clock()
    breaker = CircuitBreaker(failures=3, window=10, cooldown=5, clock=clock)
    for _ in range(2):
        breaker.failed()
        clock.now += 6
    breaker.failed()  # the first failure is 12 s old: two within the window
    assert breaker.state == "closed"
    breaker.failed()
    assert breaker.state == "open" and not breaker.allows()
    clock.now += 5
    assert breaker.state == "half-open" and breaker.allows()
    breaker.failed()  # the trial failed
    assert breaker.state == "open"
    clock.now += 5
    breaker.succeeded()
    assert breaker.state == "closed"


@pytest.mark.parametrize("error,moves", [
    (ProviderError("x", status=529, error_type="overloaded_error"), True),
    (ProviderError("x", status=503), True),
    (ProviderError("x", status=429, error_type="rate_limit_error"), True),
    (ProviderError("x", status=None, error_type="api_connection_error"), True),
    (ProviderError("x", status=400, error_type="invalid_request_error"), False),
    (ProviderError("x", status=401, error_type="authentication_error"), False),
    (ValueError("x"), False)])
def test_which_failures_fall_back(error, moves):
    assert fails_over(error) is moves


def test_the_chain_prices_every_providers_models(chain_for):
    prices = chain_for().prices
    assert "claude-sonnet-4-5" in prices and "gpt-4.1-mini" in prices


async def test_counting_tokens_falls_back_too(chain_for, anthropic_fake):
    chain = chain_for()
    anthropic_fake.stop()  # unreachable: a failure another provider can avoid
    kwargs = dict(system=[], tools=[], messages=[{"role": "user", "content": "hi"}])
    counted = await chain.count_tokens(model="claude-sonnet-4-5", **kwargs)
    estimate = await chain.routes[1].provider.count_tokens(model="gpt-4.1-mini", **kwargs)
    await chain.shutdown()
    assert counted == estimate > 0
