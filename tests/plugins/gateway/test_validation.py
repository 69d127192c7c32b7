"""Requests are checked like Anthropic checks them, before anything is stored: a 400 naming
the path at fault, the same words on HTTP and on /ws."""

import json

import httpx
import pytest
from websockets.sync.client import connect

from .conftest import TOKEN

BAD_CONTENT = {
    "an empty text block": ([{"type": "text", "text": ""}], "content.0.text: text content "
                                                             "blocks must contain non-whitespace text"),
    "a blank string": ("   ", "content: must not be empty or only whitespace"),
    "an unknown block type": ([{"type": "text", "text": "hi"}, {"type": "hologram"}],
                              "content.1.type: unknown content block type 'hologram'"),
    "a tool_use from the user": ([{"type": "tool_use", "id": "t", "name": "x", "input": {}}],
                                 "content.0: a 'tool_use' block belongs in an assistant message"),
    "an image without a source": ([{"type": "image"}], "content.0.source: field required"),
    "an image of an odd type": ([{"type": "image", "source": {
        "type": "base64", "media_type": "image/bmp", "data": "AAAA"}}],
        "content.0.source.media_type: must be one of"),
}


def post(gateway, body):
    return httpx.post(f"{gateway.url}/v1/messages", json=body, headers=gateway.auth(), timeout=20)


def ws_error(gateway, content):
    with connect(gateway.url.replace("http://", "ws://") + f"/ws?token={TOKEN}") as socket:
        socket.send(json.dumps({"type": "message", "content": content}))
        frame = json.loads(socket.recv(timeout=10))
    assert frame["type"] == "error"
    return frame["error"]


@pytest.mark.parametrize("case", BAD_CONTENT)
def test_malformed_content_gets_the_same_400_on_http_and_ws_and_nothing_is_stored(gateway, case):
    content, problem = BAD_CONTENT[case]
    response = post(gateway, {"model": "m", "max_tokens": 10,
                              "messages": [{"role": "user", "content": content}]})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"].startswith("messages.0." + problem)
    socket_error = ws_error(gateway, content)
    assert "messages.0." + socket_error["message"] == error["message"]
    assert socket_error["type"] == error["type"]
    assert gateway.call(gateway.storage.count_sessions()) == 0


CONVERSATIONS = {
    "a tool_result without its tool_use": (
        [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"},
         {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1",
                                       "content": "x"}]}],
        "messages.2.content.0.tool_use_id: no tool_use with id 'toolu_1' in the previous "
        "assistant message"),
    "a tool_use left unanswered": (
        [{"role": "user", "content": "hi"},
         {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_2", "name": "f",
                                            "input": {}}]},
         {"role": "user", "content": "never mind"}],
        "messages.2: tool_use ids were found without tool_result blocks immediately after: "
        "toolu_2"),
    "an assistant first": ([{"role": "assistant", "content": "hi"}],
                           "messages.0.role: the first message must use the 'user' role"),
    "an unknown role": ([{"role": "user", "content": "hi"}, {"role": "robot", "content": "x"}],
                        "messages.1.role: must be 'user', 'assistant' or 'system'"),
    "a system message with an image": (
        [{"role": "system", "content": [{"type": "image"}]}, {"role": "user", "content": "hi"}],
        "messages.0.content.0: must be a text block ({\"type\": \"text\", \"text\": ...})"),
    "an empty text in a later message": (
        [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "ok"},
         {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": ""}]}],
        "messages.2.content.1.text: text content blocks must contain non-whitespace text"),
}


@pytest.mark.parametrize("case", CONVERSATIONS)
def test_conversations_out_of_order_are_refused_with_the_path(gateway, case):
    messages, message = CONVERSATIONS[case]
    response = post(gateway, {"model": "m", "max_tokens": 10, "messages": messages})
    assert response.status_code == 400
    assert response.json()["error"]["message"] == message
    assert gateway.call(gateway.storage.count_sessions()) == 0


FIELDS = {
    "temperature": ({"temperature": 1.5}, "temperature: must be a number from 0 to 1"),
    "top_k": ({"top_k": -1}, "top_k: must be an integer of at least 0"),
    "stop_sequences": ({"stop_sequences": ["ok", " "]}, "stop_sequences.1: each stop sequence"),
    "thinking": ({"thinking": {"type": "enabled", "budget_tokens": 10}},
                 "thinking.budget_tokens: field required: an integer of at least 1024"),
    "tools": ({"tools": [{"name": "f"}]}, "tools.0.input_schema: field required"),
    "tool names": ({"tools": [{"name": "has space", "input_schema": {"type": "object"}}]},
                   "tools.0.name"),
    "tool_choice": ({"tool_choice": {"type": "sometimes"}}, "tool_choice.type: must be one of"),
    "system": ({"system": [{"type": "text", "text": " "}]},
               "system.0.text: text content blocks must contain non-whitespace text"),
    "metadata": ({"metadata": "me"}, "metadata: must be an object"),
}


@pytest.mark.parametrize("case", FIELDS)
def test_bad_fields_beside_messages_are_refused_with_their_path(gateway, case):
    extra, message = FIELDS[case]
    response = post(gateway, {"model": "m", "max_tokens": 10,
                              "messages": [{"role": "user", "content": "hi"}], **extra})
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith(message)


def test_unknown_top_level_fields_are_ignored(gateway):
    response = post(gateway, {"model": "m", "max_tokens": 10, "service_tier": "auto",
                              "messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 200
