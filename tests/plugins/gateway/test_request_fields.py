"""What each Messages API field means through the gateway, tried with Anthropic's SDK:
system text after the owner's, limits and sampling passed on, prefill, models, betas,
count_tokens."""

import anthropic
import pytest

from .conftest import TOKEN, RunningGateway

OWNER = "You are Blufio, the owner's agent."
MODELS = ["claude-sonnet-4-5", "claude-haiku-4-5"]
LONG = [{"role": "user", "content": "tell me everything about the sea and the sky"}]


@pytest.fixture
def gateway(gateway_env, monkeypatch):
    monkeypatch.setenv("BLUFIO_AGENT__SYSTEM_PROMPT", OWNER)
    monkeypatch.setenv("BLUFIO_AGENT__MAX_TOKENS", "1000")
    monkeypatch.setenv("BLUFIO_GATEWAY__MODELS", '["claude-sonnet-4-5", "claude-haiku-4-5"]')
    running = RunningGateway().start()
    yield running
    running.stop()


@pytest.fixture
def sdk(gateway):
    return anthropic.Anthropic(base_url=gateway.url, api_key=TOKEN, max_retries=0)


def upstream(fake_anthropic):
    return fake_anthropic.message_requests[-1].json


def test_the_clients_system_comes_after_the_owners_and_system_messages_after_it(
        sdk, fake_anthropic):
    sdk.messages.create(model="m", max_tokens=50, system="Answer in French.", messages=[
        {"role": "user", "content": "hello"},
        {"role": "assistant", "content": "bonjour"},
        {"role": "system", "content": "The user is in a hurry."},
        {"role": "user", "content": "again"}])
    sent = upstream(fake_anthropic)
    assert [block["text"] for block in sent["system"]] == [
        OWNER, "Answer in French.", "The user is in a hurry."]
    assert [m["role"] for m in sent["messages"]] == ["user", "assistant", "user"]


def test_system_blocks_lose_their_cache_marks_and_the_provider_sets_its_own(sdk, fake_anthropic):
    sdk.messages.create(model="m", max_tokens=50, messages=LONG, system=[
        {"type": "text", "text": "one", "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": "two", "cache_control": {"type": "ephemeral"}}])
    marks = [block.get("cache_control") for block in upstream(fake_anthropic)["system"]]
    assert marks == [None, None, {"type": "ephemeral"}]


def test_max_tokens_5_ends_with_stop_reason_max_tokens(sdk, fake_anthropic):
    reply = sdk.messages.create(model="m", max_tokens=5, messages=LONG)
    assert reply.stop_reason == "max_tokens"
    assert upstream(fake_anthropic)["max_tokens"] == 5
    assert reply.usage.output_tokens == 5


def test_max_tokens_is_capped_by_the_owner(sdk, fake_anthropic):
    sdk.messages.create(model="m", max_tokens=20000, messages=LONG)
    assert upstream(fake_anthropic)["max_tokens"] == 1000


def test_a_stop_sequence_ends_with_stop_reason_stop_sequence(sdk, fake_anthropic):
    reply = sdk.messages.create(model="m", max_tokens=100, messages=LONG,
                                stop_sequences=["sky", "sea"])
    assert (reply.stop_reason, reply.stop_sequence) == ("stop_sequence", "sea")
    assert reply.content[0].text == "echo: tell me everything about the "
    with sdk.messages.stream(model="m", max_tokens=100, messages=LONG,
                             stop_sequences=["sky"]) as stream:
        final = stream.get_final_message()
    assert (final.stop_reason, final.stop_sequence) == ("stop_sequence", "sky")


def test_sampling_thinking_and_metadata_go_to_the_provider(sdk, gateway, fake_anthropic):
    gateway.service.agent.max_tokens = 3000  # room for the thinking budget
    sdk.messages.create(model="m", max_tokens=2000, messages=LONG, metadata={"user_id": "u-1"},
                        thinking={"type": "enabled", "budget_tokens": 1024},
                        extra_body={"temperature": 0.2, "top_p": 0.9, "top_k": 40})
    sent = upstream(fake_anthropic)
    assert (sent["temperature"], sent["top_p"], sent["top_k"]) == (0.2, 0.9, 40)
    assert sent["metadata"] == {"user_id": "u-1"}
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 1024}


def test_an_assistant_prefill_is_passed_on_and_the_reply_continues_it(gateway, sdk, fake_anthropic):
    raw = sdk.messages.with_raw_response.create(model="m", max_tokens=100, messages=[
        {"role": "user", "content": "name a colour"},
        {"role": "assistant", "content": "The colour is"}])
    reply = raw.parse()
    sent = upstream(fake_anthropic)["messages"]
    assert sent[-1]["role"] == "assistant" and sent[-1]["content"][0]["text"] == "The colour is"
    assert reply.content[0].text == "echo: name a colour"  # only the continuation
    stored = gateway.call(gateway.storage.get_messages(raw.headers["x-blufio-session"]))
    assert [b["text"] for b in stored[-1].content] == ["The colour is", "echo: name a colour"]


def test_models_list_and_retrieve_show_the_allowed_models(sdk):
    assert [model.id for model in sdk.models.list()] == MODELS
    assert sdk.models.retrieve("claude-haiku-4-5").type == "model"
    with pytest.raises(anthropic.NotFoundError):
        sdk.models.retrieve("gpt-4")


def test_an_allowed_model_is_used_and_any_other_name_gets_the_default(sdk, fake_anthropic):
    reply = sdk.messages.create(model="claude-haiku-4-5", max_tokens=50, messages=LONG)
    assert upstream(fake_anthropic)["model"] == reply.model == "claude-haiku-4-5"
    reply = sdk.messages.create(model="claude-opus-4-1-20250805", max_tokens=50, messages=LONG)
    assert upstream(fake_anthropic)["model"] == reply.model == "claude-sonnet-4-5"


def test_count_tokens_counts_what_the_provider_would_receive(sdk, fake_anthropic):
    tool = {"name": "lookup", "input_schema": {"type": "object"}}
    count = sdk.messages.count_tokens(model="m", messages=LONG, system="Be brief.", tools=[tool])
    assert count.input_tokens > 0
    sent = fake_anthropic.requests[-1]
    assert sent.path.split("?")[0] == "/v1/messages/count_tokens"
    assert [block["text"] for block in sent.json["system"]] == [OWNER, "Be brief."]
    assert {"lookup", "current_time"} <= {t["name"] for t in sent.json["tools"]}


def test_betas_the_provider_knows_are_forwarded_and_others_ignored(sdk, fake_anthropic):
    reply = sdk.beta.messages.create(model="m", max_tokens=50, messages=LONG, betas=[
        "interleaved-thinking-2025-05-14", "oauth-2025-04-20", "no-such-beta"])
    assert reply.content[0].text.startswith("echo:")
    assert upstream_header(fake_anthropic, "anthropic-beta") == "interleaved-thinking-2025-05-14"


def upstream_header(fake_anthropic, name):
    return fake_anthropic.message_requests[-1].headers.get(name)


def test_a_thinking_budget_the_owners_cap_leaves_no_room_for_is_lowered(sdk, fake_anthropic):
    """Claude Code asks for 31,999 thinking tokens; the owner allows 1,000 output tokens."""
    with sdk.messages.stream(model="m", max_tokens=32000, messages=LONG,
                             thinking={"type": "enabled", "budget_tokens": 31999}) as stream:
        reply = stream.get_final_message()
    assert reply.content[0].text.startswith("echo:")
    sent = upstream(fake_anthropic)
    assert sent["max_tokens"] == 1000 and "thinking" not in sent  # 999 < the 1,024 minimum


def test_a_thinking_budget_is_fitted_under_a_cap_with_room_for_it(sdk, gateway, fake_anthropic):
    gateway.service.agent.max_tokens = 3000
    with sdk.messages.stream(model="m", max_tokens=32000, messages=LONG,
                             thinking={"type": "enabled", "budget_tokens": 31999}) as stream:
        stream.get_final_message()
    assert upstream(fake_anthropic)["thinking"] == {"type": "enabled", "budget_tokens": 2999}
