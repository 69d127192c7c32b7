"""Whatever a client sends, the gateway answers in Anthropic's envelope and never fails.

Hypothesis generates request bodies (arbitrary JSON, and Messages-shaped bodies with wrong
parts) and WebSocket frames; every answer must be a 200 or a 4xx in the envelope, never a
5xx, and the server must keep answering.
"""

import json

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.sync.client import connect

from .conftest import TOKEN

pytestmark = pytest.mark.slow  # hundreds of generated requests

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12)

messages_like = st.fixed_dictionaries(
    {"model": st.one_of(st.just("m"), json_values),
     "max_tokens": st.one_of(st.integers(-5, 50), json_values),
     "messages": st.one_of(
         st.lists(st.fixed_dictionaries({"role": st.sampled_from(["user", "assistant", "bot"]),
                                         "content": st.one_of(st.text(max_size=10), json_values)}),
                  max_size=3),
         json_values)},
    optional={"stream": json_values, "system": json_values})


def assert_envelope_or_success(response):
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        body = response.json()
        assert body["type"] == "error" and body["error"]["type"] and body["error"]["message"]
        assert response.headers["request-id"] == body["request_id"]


@SETTINGS
@given(body=st.one_of(json_values, messages_like))
def test_any_json_body_gets_a_reply_or_a_4xx_envelope(gateway, body):
    response = httpx.post(f"{gateway.url}/v1/messages", json=body,
                          headers={"x-api-key": TOKEN}, timeout=30)
    assert_envelope_or_success(response)


@SETTINGS
@given(raw=st.binary(max_size=200))
def test_any_bytes_get_a_4xx_envelope(gateway, raw):
    response = httpx.post(f"{gateway.url}/v1/messages", content=raw,
                          headers={"x-api-key": TOKEN}, timeout=30)
    assert_envelope_or_success(response)


@SETTINGS
@given(frame=st.one_of(json_values.map(json.dumps), st.text(max_size=50)))
def test_any_websocket_frame_gets_an_answer_and_the_socket_stays_open(gateway, frame):
    with connect(gateway.url.replace("http", "ws") + f"/ws?token={TOKEN}") as socket:
        socket.send(frame)
        answer = json.loads(socket.recv(timeout=20))
        assert answer["type"] in ("error", "pong", "session", "typing")
        socket.send(json.dumps({"type": "ping", "id": "still-there"}))
        while (reply := json.loads(socket.recv(timeout=20)))["type"] != "pong":
            assert reply["type"] != "error" or reply.get("id") != "still-there"
