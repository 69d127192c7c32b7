"""Client tools with Anthropic's SDK: the model's call ends the response with
``stop_reason: "tool_use"``, the client's ``tool_result`` continues the turn."""

import anthropic
import pytest

from tests.fakes.anthropic_server import tool_use_reply

from .conftest import TOKEN

WEATHER = {"name": "get_weather", "description": "The weather in a city",
           "input_schema": {"type": "object", "properties": {"city": {"type": "string"}},
                            "required": ["city"]}}
ASK = [{"role": "user", "content": "use get_weather"}]


def client(gateway, **kwargs):
    return anthropic.Anthropic(base_url=gateway.url, api_key=TOKEN, max_retries=0, **kwargs)


def answer_tool(messages, reply, result="18 degrees and sunny"):
    """The conversation after the client ran the tool ``reply`` asked for."""
    call = next(block for block in reply.content if block.type == "tool_use")
    return [*messages, {"role": "assistant", "content": [b.model_dump() for b in reply.content]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id,
                                          "content": result}]}]


def test_a_client_tool_round_trip_with_create(gateway, fake_anthropic):
    sdk = client(gateway)
    first = sdk.messages.with_raw_response.create(model="m", max_tokens=100, messages=ASK,
                                                  tools=[WEATHER])
    reply = first.parse()
    assert reply.stop_reason == "tool_use"
    call = reply.content[-1]
    assert (call.type, call.name, call.input) == ("tool_use", "get_weather", {"city": "Paris"})
    sent = fake_anthropic.message_requests[-1].json
    assert "get_weather" in [tool["name"] for tool in sent["tools"]]
    assert "current_time" in [tool["name"] for tool in sent["tools"]]  # beside the agent's own

    final = sdk.messages.create(model="m", max_tokens=100, tools=[WEATHER],
                                messages=answer_tool(ASK, reply))
    assert final.stop_reason == "end_turn"
    assert final.content[0].text == "the tool said: 18 degrees and sunny"
    session_id = first.headers["x-blufio-session"]
    stored = gateway.call(gateway.storage.get_messages(session_id))
    assert [m.role for m in stored] == ["user", "assistant", "user", "assistant"]
    assert stored[2].content[0]["type"] == "tool_result"
    assert gateway.call(gateway.storage.count_sessions()) == 1


def test_a_client_tool_round_trip_with_stream(gateway):
    sdk = client(gateway)
    with sdk.messages.stream(model="m", max_tokens=100, messages=ASK, tools=[WEATHER]) as stream:
        reply = stream.get_final_message()
    assert reply.stop_reason == "tool_use"
    assert reply.content[-1].input == {"city": "Paris"}
    with sdk.messages.stream(model="m", max_tokens=100, tools=[WEATHER],
                             messages=answer_tool(ASK, reply)) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "the tool said: 18 degrees and sunny" and final.stop_reason == "end_turn"


def test_tool_choice_is_passed_on_for_the_first_call_of_the_turn(gateway, fake_anthropic):
    reply = client(gateway).messages.create(
        model="m", max_tokens=100, tools=[WEATHER],
        tool_choice={"type": "tool", "name": "get_weather"},
        messages=[{"role": "user", "content": "what is it like outside?"}])
    assert reply.stop_reason == "tool_use" and reply.content[-1].name == "get_weather"
    assert fake_anthropic.message_requests[-1].json["tool_choice"] == {
        "type": "tool", "name": "get_weather"}


def test_a_server_tool_runs_inside_and_a_client_tool_ends_the_turn(gateway, fake_anthropic):
    fake_anthropic.add(tool_use_reply("current_time", {}, text="Let me check. "),
                       tool_use_reply("get_weather", {"city": "Oslo"}, text="Now the weather."))
    reply = client(gateway).messages.create(model="m", max_tokens=100, tools=[WEATHER],
                                            messages=[{"role": "user", "content": "time?"}])
    assert reply.stop_reason == "tool_use"
    assert [block.type for block in reply.content] == ["text", "tool_use"]  # no server rounds
    assert reply.content[0].text == "Let me check. \n\nNow the weather."
    second = fake_anthropic.message_requests[-1].json["messages"]
    assert second[-1]["content"][0]["type"] == "tool_result"  # the server tool's result


def test_a_client_tool_named_like_a_server_tool_is_a_400(gateway):
    clash = {**WEATHER, "name": "current_time"}
    with pytest.raises(anthropic.BadRequestError, match="tools.1.name: 'current_time' is the "
                                                        "name of one of the agent's own tools"):
        client(gateway).messages.create(model="m", max_tokens=10, messages=ASK,
                                        tools=[WEATHER, clash])
    assert gateway.call(gateway.storage.count_sessions()) == 0


def test_tool_choice_naming_no_offered_tool_is_a_400(gateway):
    with pytest.raises(anthropic.BadRequestError, match="tool_choice.name"):
        client(gateway).messages.create(model="m", max_tokens=10, messages=ASK, tools=[WEATHER],
                                        tool_choice={"type": "tool", "name": "nope"})


def test_with_a_session_header_the_tool_result_alone_continues_the_turn(gateway):
    first = client(gateway).messages.with_raw_response.create(
        model="m", max_tokens=100, messages=ASK, tools=[WEATHER])
    call = first.parse().content[-1]
    session = client(gateway, default_headers={"x-blufio-session": first.headers["x-blufio-session"]})
    result = [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id,
                                            "content": "rain"}]}]
    final = session.messages.create(model="m", max_tokens=100, tools=[WEATHER], messages=result)
    assert final.content[0].text == "the tool said: rain"
    result[0]["content"][0]["tool_use_id"] = "toolu_unknown"
    with pytest.raises(anthropic.BadRequestError, match="messages.0.content.0.tool_use_id"):
        session.messages.create(model="m", max_tokens=100, tools=[WEATHER], messages=result)
