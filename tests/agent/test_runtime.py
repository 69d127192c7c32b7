"""The runtime picks the provider and its fallbacks from ``[agent]`` and prices every call."""

import logging

import pytest

from blufio import build_record
from blufio.agent.runtime import open_runtime, unpriced_models
from blufio.errors import BudgetExceededError, ConfigError
from blufio.registry import PluginRegistry
from tests.fakes import anthropic_server, openai_server
from tests.fakes.config import make_config

WITH_OPENAI = [*build_record.current()["features"], "openai"]


@pytest.fixture
def fakes():
    with anthropic_server.FakeAnthropic() as anthropic, openai_server.FakeOpenAI() as openai:
        yield anthropic, openai


def runtime_config(tmp_path, fakes, extra="", environ=None):
    anthropic, openai = fakes
    config = make_config(tmp_path, f'{extra}[anthropic]\nbase_url = "{anthropic.base_url}"\n'
                         f'max_retries = 0\n[openai]\nbase_url = "{openai.base_url}"\n',
                         environ={"ANTHROPIC_API_KEY": "sk-a"} if environ is None else environ,
                         features=["openai"])
    return config, PluginRegistry(config, build={**build_record.current(), "features": WITH_OPENAI})


async def turn(runtime, text="hi"):
    session = await runtime.agent.new_session("test")
    last = None
    async for event in runtime.agent.submit(session.id, "test", text):
        last = event
    return last


async def test_anthropic_is_the_default_when_both_are_configured(tmp_path, fakes):
    config, registry = runtime_config(tmp_path, fakes)
    async with await open_runtime(config, registry=registry) as runtime:
        done = await turn(runtime)
        entries = await runtime.storage.cost_entries()
    assert done.text == "echo: hi" and done.model == "claude-sonnet-4-5"
    assert [(e.provider, e.model) for e in entries] == [("anthropic", "claude-sonnet-4-5")]
    assert fakes[1].chat_requests == []


async def test_agent_provider_chooses_openai(tmp_path, fakes):
    config, registry = runtime_config(tmp_path, fakes, '[agent]\nprovider = "openai"\n')
    async with await open_runtime(config, registry=registry) as runtime:
        done = await turn(runtime)
        [entry] = await runtime.storage.cost_entries()
    assert done.text == "echo: hi" and done.model == "gpt-4.1-mini"
    assert (entry.provider, entry.model) == ("openai", "gpt-4.1-mini")
    assert entry.cost_usd == pytest.approx((10 * 0.40 + 5 * 1.60) / 1_000_000)
    assert fakes[0].message_requests == []


async def test_anthropic_always_529_every_turn_is_answered_by_openai(tmp_path, fakes):
    anthropic, openai = fakes
    anthropic.default = anthropic_server.http_error(529)
    config, registry = runtime_config(tmp_path, fakes, '[agent]\nfallback = ["openai"]\n'
                                      'breaker_failures = 2\n')
    async with await open_runtime(config, registry=registry) as runtime:
        answers = [await turn(runtime, f"question {i}") for i in range(4)]
        entries = await runtime.storage.cost_entries()
        stored = await runtime.storage.get_messages(answers[-1].session_id)
    assert [a.text for a in answers] == [f"echo: question {i}" for i in range(4)]
    assert {a.model for a in answers} == {"gpt-4.1-mini"}
    assert [e.provider for e in entries] == ["openai"] * 4
    assert stored[-1].model == "gpt-4.1-mini"
    assert len(anthropic.message_requests) == 2  # then its circuit is open: skipped
    assert len(openai.chat_requests) == 4


async def test_a_fallback_that_cannot_start_is_a_config_error(tmp_path, fakes):
    config, registry = runtime_config(tmp_path, fakes, '[agent]\nfallback = ["openai"]\n'
                                      '[plugins]\nopenai = false\n')
    with pytest.raises(ConfigError, match=r"\[agent\] fallback: the openai plugin is disabled"):
        await open_runtime(config, registry=registry)


@pytest.mark.parametrize("extra,message", [
    ('[agent]\nprovider = "sqlite"\n', "'sqlite' is not a provider plugin of this build"),
    ('[agent]\nfallback = ["nonsense"]\n', "'nonsense' is not a provider plugin"),
])
async def test_a_provider_that_is_not_one_is_a_config_error(tmp_path, fakes, extra, message):
    config, registry = runtime_config(tmp_path, fakes, extra)
    with pytest.raises(ConfigError, match=message):
        await open_runtime(config, registry=registry)


async def test_a_model_with_no_price_warns_once_and_still_counts_against_the_budget(
        tmp_path, fakes, caplog):
    anthropic, openai = fakes
    config, registry = runtime_config(tmp_path, fakes, '[agent]\nprovider = "openai"\n'
                                      'model = "mystery-model-7b"\n'
                                      '[cost]\ndaily_budget_usd = 0.0005\n')
    caplog.set_level(logging.WARNING, "blufio.cost")
    async with await open_runtime(config, registry=registry) as runtime:
        first = await turn(runtime)
        second = await turn(runtime)
        third = await turn(runtime)
        entries = await runtime.storage.cost_entries()
    warnings = [r.message for r in caplog.records if "mystery-model-7b" in r.message]
    assert len(warnings) == 1
    assert first.cost_usd > 0 and entries[0].usage.input_tokens == 10
    assert entries[0].model == "mystery-model-7b"
    # at openai's highest rates (o1: $15 in, $60 out) a turn costs $0.00045: two fit the budget
    assert first.cost_usd == pytest.approx(0.00045) and second.text == "echo: hi"
    assert isinstance(third.error, BudgetExceededError)


async def test_configured_prices_win_over_built_in_ones(tmp_path, fakes):
    config, registry = runtime_config(tmp_path, fakes, '[agent]\nprovider = "openai"\n'
                                      '[cost.prices."gpt-4.1-mini"]\ninput = 1000000\n'
                                      'output = 0\n')
    async with await open_runtime(config, registry=registry) as runtime:
        done = await turn(runtime)
    assert done.cost_usd == pytest.approx(10.0)


def test_unpriced_models_are_the_ones_the_agent_would_use(tmp_path, fakes):
    config, registry = runtime_config(tmp_path, fakes, '[agent]\nmodel = "llama3.2"\n'
                                      'fallback = ["openai"]\n[cost.prices."gpt-4"]\n'
                                      'input = 0\noutput = 0\n')
    assert unpriced_models(config, registry) == [("anthropic", "llama3.2")]
