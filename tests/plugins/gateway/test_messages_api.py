"""POST /v1/messages with Anthropic's own SDK: replies, streams, sessions and errors."""

import json
import threading

import anthropic
import httpx
import pytest

from tests.fakes.anthropic_server import (http_error, paused_text_reply)

from .conftest import TOKEN

HELLO = [{"role": "user", "content": "hello"}]


def client(gateway, token=TOKEN, **kwargs):
    return anthropic.Anthropic(base_url=gateway.url, api_key=token, max_retries=0, **kwargs)


def test_create_returns_the_agents_reply_with_a_session_and_request_id(gateway):
    raw = client(gateway).messages.with_raw_response.create(
        model="any", max_tokens=50, messages=HELLO)
    message = raw.parse()
    assert message.content[0].text == "echo: hello"
    assert message.stop_reason == "end_turn"
    assert message.usage.output_tokens > 0
    assert message._request_id.startswith("req_")
    session_id = raw.headers["x-blufio-session"]
    stored = gateway.call(gateway.storage.get_messages(session_id))
    assert [m.role for m in stored] == ["user", "assistant"]


def test_stream_yields_text_as_it_comes_and_a_final_message(gateway):
    with client(gateway).messages.stream(model="any", max_tokens=50, messages=HELLO) as stream:
        chunks = list(stream.text_stream)
        final = stream.get_final_message()
        assert stream.response.headers["request-id"].startswith("req_")
    assert len(chunks) > 1 and "".join(chunks) == "echo: hello"
    assert final.content[0].text == "echo: hello"
    assert final.usage.output_tokens > 0


def test_create_with_stream_true_sends_the_documented_event_sequence(gateway):
    events = list(client(gateway).messages.create(model="any", max_tokens=50, messages=HELLO,
                                                  stream=True))
    kinds = [e.type for e in events]
    assert kinds[0] == "message_start" and kinds[-2:] == ["message_delta", "message_stop"]
    assert kinds[1] == "content_block_start" and "content_block_stop" in kinds
    assert events[0].message.content == [] and events[0].message.usage is not None


async def test_the_async_client_streams_too(gateway):
    async_client = anthropic.AsyncAnthropic(base_url=gateway.url, api_key=TOKEN, max_retries=0)
    async with async_client.messages.stream(model="any", max_tokens=50, messages=HELLO) as stream:
        text = "".join([chunk async for chunk in stream.text_stream])
    assert text == "echo: hello"
    reply = await async_client.messages.create(model="any", max_tokens=50, messages=HELLO)
    assert reply.content[0].text == "echo: hello"


def test_the_first_words_arrive_before_the_model_has_finished(gateway, fake_anthropic):
    finished = threading.Event()  # the model pauses after its first delta until this is set
    fake_anthropic.add(paused_text_reply("first words, then more", finished, chunk_size=12))
    with client(gateway).messages.stream(model="any", max_tokens=50, messages=HELLO) as stream:
        first = next(iter(stream.text_stream))
        paused = not finished.is_set()
        finished.set()
        rest = "".join(stream.text_stream)
    assert first == "first words,"
    assert paused, "the first delta waited for the whole reply"
    assert first + rest == "first words, then more"


def test_a_session_header_continues_that_session(gateway, fake_anthropic):
    first = client(gateway).messages.with_raw_response.create(
        model="any", max_tokens=50, messages=HELLO)
    session_id = first.headers["x-blufio-session"]
    second = client(gateway, default_headers={"x-blufio-session": session_id}).messages \
        .with_raw_response.create(model="any", max_tokens=50,
                                  messages=[{"role": "user", "content": "again"}])
    assert second.headers["x-blufio-session"] == session_id
    sent = fake_anthropic.message_requests[-1].json["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]  # history went up
    session = gateway.call(gateway.storage.get_session(session_id))
    assert session.message_count == 4


def test_without_a_header_a_new_session_is_seeded_with_the_request_history(gateway):
    raw = client(gateway).messages.with_raw_response.create(model="any", max_tokens=50, messages=[
        {"role": "user", "content": "my name is Ada"},
        {"role": "assistant", "content": "Hello Ada"},
        {"role": "user", "content": "what is my name?"}])
    stored = gateway.call(gateway.storage.get_messages(raw.headers["x-blufio-session"]))
    assert [m.content[0]["text"] for m in stored] == [
        "my name is Ada", "Hello Ada", "what is my name?", "echo: what is my name?"]


def test_an_unknown_session_is_not_found(gateway):
    with pytest.raises(anthropic.NotFoundError, match="no session"):
        client(gateway, default_headers={"x-blufio-session": "nope"}).messages.create(
            model="any", max_tokens=50, messages=HELLO)


def test_a_wrong_token_is_an_authentication_error(gateway):
    with pytest.raises(anthropic.AuthenticationError) as caught:
        client(gateway, token="wrong").messages.create(model="any", max_tokens=5, messages=HELLO)
    assert caught.value.body["error"]["type"] == "authentication_error"
    assert "wrong" not in caught.value.message


def test_a_bad_body_is_a_bad_request_and_stores_nothing(gateway):
    with pytest.raises(anthropic.BadRequestError, match="messages"):
        client(gateway).messages.create(model="any", max_tokens=5, messages=[])
    assert gateway.call(gateway.storage.count_sessions()) == 0


@pytest.mark.parametrize("body, field", [
    (b"{not json", "not valid JSON"),
    (b"", "empty"),
    (b"[1, 2]", "JSON object"),
    (json.dumps({"model": "m", "max_tokens": "5", "messages": HELLO}).encode(), "max_tokens"),
    (json.dumps({"max_tokens": 5, "messages": HELLO}).encode(), "model"),
    (json.dumps({"model": "m", "max_tokens": 5, "messages": [{"role": "bot", "content": "x"}]}).encode(),
     "messages.0.role"),
    (json.dumps({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": 7}]}).encode(),
     "messages.0.content"),
    (json.dumps({"model": "m", "max_tokens": 5,
                 "messages": [{"role": "assistant", "content": "x"}]}).encode(), "messages.0.role"),
])
def test_malformed_requests_get_a_400_envelope_and_change_nothing(gateway, body, field):
    response = httpx.post(f"{gateway.url}/v1/messages", content=body, headers=gateway.auth())
    assert response.status_code == 400
    error = response.json()
    assert error["type"] == "error" and error["error"]["type"] == "invalid_request_error"
    assert field in error["error"]["message"]
    assert response.headers["request-id"] == error["request_id"]
    assert gateway.call(gateway.storage.count_sessions()) == 0


def test_an_oversized_body_is_413(gateway):
    big = json.dumps({"model": "m", "max_tokens": 5,
                      "messages": [{"role": "user", "content": "x" * 2_000_000}]})
    response = httpx.post(f"{gateway.url}/v1/messages", content=big, headers=gateway.auth())
    assert response.status_code == 413
    assert response.json()["error"]["type"] == "request_too_large"
    assert gateway.call(gateway.storage.count_sessions()) == 0


def test_unknown_fields_are_ignored(gateway):
    reply = client(gateway).messages.create(model="any", max_tokens=50, messages=HELLO,
                                            metadata={"user_id": "u"},
                                            extra_body={"temperature": 0.2, "top_k": 3,
                                                        "whatever": True})
    assert reply.content[0].text == "echo: hello"


def test_an_overloaded_provider_is_529_and_never_a_hang(gateway, fake_anthropic):
    fake_anthropic.add(http_error(529))
    with pytest.raises(anthropic.InternalServerError) as caught:
        client(gateway, timeout=20).messages.create(model="any", max_tokens=5, messages=HELLO)
    assert caught.value.status_code == 529
    assert caught.value.body["error"]["type"] == "overloaded_error"


def test_a_failing_provider_is_a_5xx_error_before_the_stream_starts(gateway, fake_anthropic):
    fake_anthropic.add(http_error(500))
    with pytest.raises(anthropic.InternalServerError):
        with client(gateway, timeout=20).messages.stream(model="any", max_tokens=5,
                                                         messages=HELLO) as stream:
            list(stream.text_stream)


def test_a_spent_budget_is_402_billing_error(gateway, fake_anthropic, monkeypatch):
    from blufio.model import CostEntry, Usage, utc_now

    gateway.call(gateway.storage.record_cost(CostEntry("s", "m", Usage(1, 1), 5.0, utc_now())))
    gateway.service.agent.budget.daily = 1.0
    before = len(fake_anthropic.message_requests)
    with pytest.raises(anthropic.APIStatusError) as caught:
        client(gateway).messages.create(model="any", max_tokens=5, messages=HELLO)
    assert caught.value.status_code == 402
    assert caught.value.body["error"]["type"] == "billing_error"
    assert caught.value.response.headers["x-blufio-session"]  # the session it was refused in
    assert len(fake_anthropic.message_requests) == before  # no provider call


def test_every_response_carries_a_request_id(gateway):
    for response in (httpx.get(f"{gateway.url}/v1/health"),
                     httpx.get(f"{gateway.url}/v1/sessions", headers=gateway.auth()),
                     httpx.get(f"{gateway.url}/nowhere", headers=gateway.auth())):
        assert response.headers["request-id"].startswith("req_")
