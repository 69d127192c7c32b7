"""Every provider plugin behaves the same behind the provider contract, over real HTTP.

Each provider of the catalog is created through the registry and pointed at a fake of its
vendor's API (``UPSTREAMS``: a new provider plugin adds its fake here). The same scenarios
run against each: streaming text, tool use across rounds, usage, each class of failure,
and a caller that stops or is cancelled mid-stream.
"""

import asyncio

import pytest

from blufio import build_record
from blufio.agent.stream import MessageBuilder
from blufio.errors import ProviderAuthError, ProviderError, ProviderUnavailableError
from blufio.registry import PluginRegistry
from tests.fakes import anthropic_server, openai_server
from tests.fakes.config import make_config

PROVIDERS = [entry["name"] for entry in build_record.catalog()["plugins"]
             if entry["adapter_type"] == "provider"]
KEY = "sk-contract"


class AnthropicUpstream:
    """The fake Messages API, scripted in the contract's terms."""

    def __init__(self):
        self.fake = anthropic_server.FakeAnthropic(api_key=KEY)
        self.environ = {"ANTHROPIC_API_KEY": KEY}

    def config(self):
        return f'[anthropic]\nbase_url = "{self.fake.base_url}"\n'

    def text(self, text, input_tokens=10, output_tokens=5):
        return anthropic_server.text_reply(text, usage={"input_tokens": input_tokens,
                                                        "output_tokens": output_tokens})

    def tool_call(self, name, tool_input, call_id):
        return anthropic_server.tool_use_reply(name, tool_input, tool_id=call_id)

    def partial_then_stall(self, text):
        return anthropic_server.stalled(text)

    def failure(self, kind):
        return {"auth": lambda: anthropic_server.http_error(401),
                "invalid": lambda: anthropic_server.http_error(400),
                "rate_limited": lambda: anthropic_server.http_error(429),
                "overloaded": lambda: anthropic_server.http_error(529),
                "server": lambda: anthropic_server.http_error(500),
                "dropped": lambda: anthropic_server.dropped("Hel")}[kind]()

    def tool_result_sent(self, body, call_id):
        for message in body["messages"]:
            for block in message["content"] if isinstance(message["content"], list) else ():
                if block.get("type") == "tool_result" and block["tool_use_id"] == call_id:
                    return block["content"]
        return None


class OpenAIUpstream:
    """The fake Chat Completions API, scripted in the contract's terms."""

    def __init__(self):
        self.fake = openai_server.FakeOpenAI(api_key=KEY)
        self.environ = {"OPENAI_API_KEY": KEY}

    def config(self):
        return f'[openai]\nbase_url = "{self.fake.base_url}"\n'

    def text(self, text, input_tokens=10, output_tokens=5):
        return openai_server.text_reply(text, usage={"prompt_tokens": input_tokens,
                                                     "completion_tokens": output_tokens})

    def tool_call(self, name, tool_input, call_id):
        return openai_server.tool_calls_reply([(name, tool_input, call_id)])

    def partial_then_stall(self, text):
        return openai_server.stalled(text)

    def failure(self, kind):
        return {"auth": lambda: openai_server.http_error(401),
                "invalid": lambda: openai_server.http_error(400),
                "rate_limited": lambda: openai_server.http_error(429),
                "overloaded": lambda: openai_server.http_error(529),
                "server": lambda: openai_server.http_error(500),
                "dropped": lambda: openai_server.dropped("Hel")}[kind]()

    def tool_result_sent(self, body, call_id):
        return next((m["content"] for m in body["messages"]
                     if m["role"] == "tool" and m["tool_call_id"] == call_id), None)


UPSTREAMS = {"anthropic": AnthropicUpstream, "openai": OpenAIUpstream}


@pytest.fixture(params=PROVIDERS)
async def case(request, tmp_path):
    """``(provider, upstream)``: the plugin made by the registry, and its fake vendor."""
    if request.param not in UPSTREAMS:
        pytest.fail(f"provider plugin {request.param!r} has no fake upstream in UPSTREAMS")
    upstream = UPSTREAMS[request.param]()
    with upstream.fake:
        config = make_config(tmp_path, upstream.config() + "read_timeout = 1.0\nmax_retries = 0\n",
                             environ=upstream.environ, features=PROVIDERS)
        registry = PluginRegistry(config, build={**build_record.current(), "features": PROVIDERS})
        provider = registry.create(request.param)
        yield provider, upstream
        await provider.shutdown()


def call(provider, messages, tools=()):
    return provider.stream(model=provider.default_model, system=[{"type": "text", "text": "Be brief."}],
                           messages=messages, tools=list(tools), max_tokens=100)


async def ask(provider, messages, tools=()):
    builder = MessageBuilder()
    text = ""
    async for event in call(provider, messages, tools):
        assert event["type"] in {"message_start", "content_block_start", "content_block_delta",
                                 "content_block_stop", "message_delta", "message_stop"}
        text += builder.feed(event)
    return builder, text, builder.finish()


HI = [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]
TIME_TOOL = {"name": "current_time", "description": "The current time",
             "input_schema": {"type": "object", "properties": {"timezone": {"type": "string"}}}}


async def test_text_streams_in_pieces_with_its_usage(case):
    provider, upstream = case
    upstream.fake.add(upstream.text("Hello there, friend.", input_tokens=12, output_tokens=6))
    pieces = []
    builder = MessageBuilder()
    async for event in call(provider, HI):
        piece = builder.feed(event)
        if piece:
            pieces.append(piece)
    assert builder.finish() == [{"type": "text", "text": "Hello there, friend."}]
    assert len(pieces) > 1
    assert builder.stop_reason == "end_turn" and builder.model
    assert (builder.usage.input_tokens, builder.usage.output_tokens) == (12, 6)


async def test_tool_use_across_rounds(case):
    provider, upstream = case
    upstream.fake.add(upstream.tool_call("current_time", {"timezone": "UTC"}, "call_7"),
                      upstream.text("It is noon."))
    builder, _, content = await ask(provider, HI, [TIME_TOOL])
    assert builder.stop_reason == "tool_use"
    [use] = [block for block in content if block["type"] == "tool_use"]
    assert (use["id"], use["name"], use["input"]) == ("call_7", "current_time", {"timezone": "UTC"})

    messages = [*HI, {"role": "assistant", "content": content},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_7",
                                              "content": "12:00 UTC"}]}]
    builder, text, _ = await ask(provider, messages, [TIME_TOOL])
    assert text == "It is noon." and builder.stop_reason == "end_turn"
    assert upstream.tool_result_sent(upstream.fake.route_requests[-1].json, "call_7") == "12:00 UTC"


@pytest.mark.parametrize("kind,cls,http_status", [
    ("auth", ProviderAuthError, 502), ("invalid", ProviderError, 400),
    ("rate_limited", ProviderError, 429), ("overloaded", ProviderError, 529),
    ("server", ProviderError, 500)])
async def test_each_failure_before_output_is_raised_as_what_it_means(case, kind, cls, http_status):
    provider, upstream = case
    upstream.fake.add(upstream.failure(kind))
    with pytest.raises(ProviderError) as caught:
        await ask(provider, HI)
    assert type(caught.value) is cls and caught.value.http_status == http_status
    assert KEY not in str(caught.value)


async def test_a_connection_cut_mid_stream_is_unavailable_after_the_partial_output(case):
    provider, upstream = case
    upstream.fake.add(upstream.failure("dropped"))
    seen = MessageBuilder()
    text = ""
    with pytest.raises(ProviderUnavailableError):
        async for event in call(provider, HI):
            text += seen.feed(event)
    assert text == "Hel" and len(upstream.fake.route_requests) == 1


@pytest.mark.slow  # waits out real time
async def test_a_silent_stream_times_out_as_unavailable(case):
    provider, upstream = case
    upstream.fake.add(upstream.partial_then_stall("Hi"))
    with pytest.raises(ProviderUnavailableError, match="sent nothing for 1s"):
        await ask(provider, HI)


async def test_a_caller_cancelled_mid_stream_leaves_the_provider_usable(case):
    provider, upstream = case
    upstream.fake.add(upstream.partial_then_stall("Hello"), upstream.text("again"))
    first_text = asyncio.Event()

    async def consume():
        builder = MessageBuilder()
        async for event in call(provider, HI):
            if builder.feed(event):
                first_text.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first_text.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert (await ask(provider, HI))[1] == "again"


async def test_a_caller_that_stops_reading_leaves_the_provider_usable(case):
    provider, upstream = case
    upstream.fake.add(upstream.text("a long answer that nobody reads"), upstream.text("next"))
    stream = call(provider, HI)
    async for event in stream:
        if event["type"] == "content_block_delta":
            break
    await stream.aclose()
    assert (await ask(provider, HI))[1] == "next"


async def test_counting_tokens_grows_with_the_request(case):
    provider, upstream = case
    short = await provider.count_tokens(model=provider.default_model, system=[], tools=[],
                                        messages=HI)
    longer = await provider.count_tokens(model=provider.default_model, system=[],
                                         tools=[TIME_TOOL], messages=[
                                             {"role": "user", "content": "many words " * 50}])
    assert isinstance(short, int) and 0 < short < longer
