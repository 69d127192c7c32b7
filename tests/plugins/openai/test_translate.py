"""Anthropic's shapes to Chat Completions and back, as pure functions."""

import json

import pytest

from blufio.agent.stream import MessageBuilder
from blufio.errors import ProviderError
from blufio.plugins.openai.translate import ChunkTranslator, anthropic_usage, chat_request


def request(**overrides):
    kwargs = dict(model="gpt-4.1-mini", system=[{"type": "text", "text": "Be brief."}],
                  messages=[{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
                  tools=[], max_tokens=100)
    kwargs.update(overrides)
    return chat_request(**kwargs)


# --- requests ---------------------------------------------------------------------------------


def test_system_and_text_become_plain_string_messages():
    body = request()
    assert body["messages"] == [{"role": "system", "content": "Be brief."},
                                {"role": "user", "content": "hi"}]
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["max_tokens"] == 100 and "max_completion_tokens" not in body


def test_no_system_message_without_a_system_prompt():
    assert request(system=[])["messages"][0]["role"] == "user"


def test_the_output_limit_field_and_usage_request_are_chosen_by_the_caller():
    body = request(max_tokens_field="max_completion_tokens", include_usage=False)
    assert body["max_completion_tokens"] == 100 and "max_tokens" not in body
    assert "stream_options" not in body


def test_tool_round_trip_history_becomes_tool_calls_and_tool_messages():
    messages = [
        {"role": "user", "content": "what time is it?"},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "hmm", "signature": "x"},
            {"type": "text", "text": "Let me look."},
            {"type": "tool_use", "id": "toolu_1", "name": "current_time",
             "input": {"timezone": "UTC"}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "12:00"},
            {"type": "text", "text": "and in Paris?"}]},
    ]
    sent = request(messages=messages)["messages"][1:]
    assert sent[0] == {"role": "user", "content": "what time is it?"}
    assert sent[1] == {"role": "assistant", "content": "Let me look.", "tool_calls": [
        {"id": "toolu_1", "type": "function",
         "function": {"name": "current_time", "arguments": '{"timezone": "UTC"}'}}]}
    assert sent[2] == {"role": "tool", "tool_call_id": "toolu_1", "content": "12:00"}
    assert sent[3] == {"role": "user", "content": "and in Paris?"}


def test_an_assistant_message_of_only_tool_calls_has_null_content():
    messages = [{"role": "user", "content": "go"},
                {"role": "assistant", "content": [
                    {"type": "tool_use", "id": "a", "name": "f", "input": {}},
                    {"type": "tool_use", "id": "b", "name": "g", "input": {"x": 1}}]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "a",
                     "content": [{"type": "text", "text": "one"}]},
                    {"type": "tool_result", "tool_use_id": "b", "content": "boom",
                     "is_error": True}]}]
    sent = request(messages=messages)["messages"]
    assert sent[2]["content"] is None and len(sent[2]["tool_calls"]) == 2
    assert sent[3:] == [{"role": "tool", "tool_call_id": "a", "content": "one"},
                        {"role": "tool", "tool_call_id": "b", "content": "Error: boom"}]


def test_images_become_image_url_parts():
    messages = [{"role": "user", "content": [
        {"type": "text", "text": "what is this?"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg",
                                     "data": "AAAA"}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}]}]
    content = request(messages=messages)["messages"][-1]["content"]
    assert content == [{"type": "text", "text": "what is this?"},
                       {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,AAAA"}},
                       {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]


def test_images_in_a_tool_result_follow_as_a_user_message():
    messages = [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "a", "content": [
        {"type": "text", "text": "a chart"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "B"}}]}]}]
    sent = request(messages=messages)["messages"][1:]
    assert sent[0] == {"role": "tool", "tool_call_id": "a", "content": "a chart"}
    assert sent[1]["role"] == "user" and sent[1]["content"][0]["type"] == "image_url"


def test_tools_tool_choice_stop_and_temperature():
    tools = [{"name": "current_time", "description": "The time",
              "input_schema": {"type": "object", "properties": {}}}]
    body = request(tools=tools, tool_choice={"type": "any", "disable_parallel_tool_use": True},
                   stop_sequences=["END"], temperature=0.2)
    assert body["tools"] == [{"type": "function", "function": {
        "name": "current_time", "description": "The time",
        "parameters": {"type": "object", "properties": {}}}}]
    assert body["tool_choice"] == "required" and body["parallel_tool_calls"] is False
    assert body["stop"] == ["END"] and body["temperature"] == 0.2
    named = request(tools=tools, tool_choice={"type": "tool", "name": "current_time"})
    assert named["tool_choice"] == {"type": "function", "function": {"name": "current_time"}}
    assert request(tools=tools, tool_choice={"type": "none"})["tool_choice"] == "none"
    assert "tool_choice" not in request(tool_choice={"type": "any"})  # no tools, no choice


def test_unsupported_blocks_and_server_tools_are_clear_errors():
    with pytest.raises(ProviderError, match="'document'"):
        request(messages=[{"role": "user", "content": [{"type": "document", "source": {}}]}])
    with pytest.raises(ProviderError, match="web_search"):
        request(tools=[{"type": "web_search_20250305", "name": "web_search"}])


# --- the stream back --------------------------------------------------------------------------


def chunk(delta=None, finish_reason=None, **extra):
    return {"id": "chatcmpl-1", "model": "gpt-4.1-mini",
            "choices": [{"index": 0, "delta": delta or {}, "finish_reason": finish_reason}],
            **extra}


def translate(chunks):
    translator = ChunkTranslator()
    events = [event for c in chunks for event in translator.feed(c)]
    return events + translator.finish()


def built(events):
    builder = MessageBuilder()
    text = "".join(builder.feed(event) for event in events)
    return builder, text, builder.finish()


def test_text_streams_as_one_text_block_with_usage_at_the_end():
    usage = {"prompt_tokens": 30, "completion_tokens": 7,
             "prompt_tokens_details": {"cached_tokens": 20}}
    events = translate([chunk({"role": "assistant", "content": ""}), chunk({"content": "Hel"}),
                        chunk({"content": "lo"}), chunk({}, "stop"),
                        {"id": "chatcmpl-1", "model": "gpt-4.1-mini", "choices": [],
                         "usage": usage}])
    assert [e["type"] for e in events] == [
        "message_start", "content_block_start", "content_block_delta", "content_block_delta",
        "content_block_stop", "message_delta", "message_stop"]
    builder, text, content = built(events)
    assert text == "Hello" and content == [{"type": "text", "text": "Hello"}]
    assert builder.model == "gpt-4.1-mini" and builder.stop_reason == "end_turn"
    assert builder.usage.as_dict() == {"input_tokens": 10, "output_tokens": 7,
                                       "cache_creation_input_tokens": 0,
                                       "cache_read_input_tokens": 20}


def test_usage_before_the_finish_chunk_or_with_null_choices_is_kept():
    events = translate([{"id": "x", "model": "m", "choices": None,
                         "usage": {"prompt_tokens": 3, "completion_tokens": 2}},
                        chunk({"content": "ok"}, "stop")])
    assert built(events)[0].usage.output_tokens == 2


@pytest.mark.parametrize("finish,stop", [("stop", "end_turn"), ("length", "max_tokens"),
                                         ("tool_calls", "tool_use"),
                                         ("content_filter", "refusal"), ("other", "end_turn")])
def test_finish_reasons_map_to_stop_reasons(finish, stop):
    assert built(translate([chunk({"content": "x"}, finish)]))[0].stop_reason == stop


def test_tool_call_deltas_split_across_chunks_are_assembled_by_index():
    arguments = json.dumps({"timezone": "UTC", "nested": {"a": [1, 2]}})
    chunks = [chunk({"content": "Let me look."}),
              chunk({"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                                     "function": {"name": "current_time", "arguments": ""}}]}),
              chunk({"tool_calls": [{"index": 1, "id": "call_2", "type": "function",
                                     "function": {"name": "echo", "arguments": '{"a"'}}]})]
    chunks += [chunk({"tool_calls": [{"index": 0, "function": {"arguments": arguments[i:i + 5]}}]})
               for i in range(0, len(arguments), 5)]
    chunks += [chunk({"tool_calls": [{"index": 1, "function": {"arguments": ": 1}"}}]}),
               chunk({}, "tool_calls")]
    builder, text, content = built(translate(chunks))
    assert text == "Let me look."
    assert content[1:] == [
        {"type": "tool_use", "id": "call_1", "name": "current_time",
         "input": {"timezone": "UTC", "nested": {"a": [1, 2]}}},
        {"type": "tool_use", "id": "call_2", "name": "echo", "input": {"a": 1}}]
    assert builder.stop_reason == "tool_use"


def test_parallel_calls_all_at_index_0_are_told_apart_by_their_ids():
    chunks = [chunk({"tool_calls": [{"index": 0, "id": "a", "function": {"name": "f", "arguments": ""}}]}),
              chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"x": 1}'}}]}),
              chunk({"tool_calls": [{"index": 0, "id": "b", "function": {"name": "g", "arguments": ""}}]}),
              chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"y": 2}'}}]}),
              chunk({}, "tool_calls")]
    content = built(translate(chunks))[2]
    assert [(b["id"], b["name"], b["input"]) for b in content] == [("a", "f", {"x": 1}),
                                                                  ("b", "g", {"y": 2})]


def test_whole_calls_in_one_chunk_without_index_or_id_and_a_stop_finish():
    chunks = [chunk({"tool_calls": [{"function": {"name": "f", "arguments": '{"x": 1}'}}]}),
              chunk({"tool_calls": [{"function": {"name": "g", "arguments": {"y": 2}}}]}),
              chunk({}, "stop")]
    builder, _, content = built(translate(chunks))
    assert [(b["name"], b["input"]) for b in content] == [("f", {"x": 1}), ("g", {"y": 2})]
    assert len({b["id"] for b in content}) == 2
    assert builder.stop_reason == "tool_use"


def test_call_ids_are_made_safe_for_any_provider():
    chunks = [chunk({"tool_calls": [{"index": 0, "id": "fn:call/1", "function": {
        "name": "f", "arguments": "{}"}}]}), chunk({}, "tool_calls")]
    assert built(translate(chunks))[2][0]["id"] == "fn_call_1"


def test_a_stream_without_a_finish_reason_is_incomplete():
    translator = ChunkTranslator()
    translator.feed(chunk({"content": "Hel"}))
    with pytest.raises(ProviderError, match="ended before"):
        translator.finish()


def test_usage_without_details_and_missing_usage():
    assert anthropic_usage({"prompt_tokens": 5, "completion_tokens": 1})["input_tokens"] == 5
    assert anthropic_usage(None) == {"input_tokens": 0, "output_tokens": 0,
                                     "cache_creation_input_tokens": 0,
                                     "cache_read_input_tokens": 0}


def test_a_choice_that_finished_with_an_error_is_a_provider_error():
    translator = ChunkTranslator()
    translator.feed(chunk({"content": "Hel"}, "error"))
    with pytest.raises(ProviderError, match="with an error"):
        translator.finish()
