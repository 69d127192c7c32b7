"""One retry budget for the whole path, Idempotency-Key, and no empty sessions left behind."""

import threading

import anthropic
import httpx
import pytest

from tests.fakes.anthropic_server import http_error, stalled, text_reply, wait_for

from .conftest import TOKEN, RunningGateway

HELLO = [{"role": "user", "content": "hello"}]


@pytest.fixture
def gateway(gateway_env, monkeypatch):
    monkeypatch.setenv("BLUFIO_ANTHROPIC__MAX_RETRIES", "2")
    running = RunningGateway().start()
    running.service.agent.provider.routes[0].provider.policy.backoff_base = 0.01  # anthropic
    yield running
    running.stop()


@pytest.mark.parametrize("status", [500, 529])
def test_an_sdk_with_default_retries_makes_no_more_calls_than_the_gateways_budget(
        gateway, fake_anthropic, status):
    fake_anthropic.default = http_error(status)
    sdk = anthropic.Anthropic(base_url=gateway.url, api_key=TOKEN)  # default: 2 retries
    with pytest.raises(anthropic.APIStatusError) as caught:
        sdk.messages.create(model="m", max_tokens=10, messages=HELLO)
    assert caught.value.status_code == status
    assert caught.value.response.headers["x-should-retry"] == "false"
    assert len(fake_anthropic.message_requests) == 3  # the gateway's 1 + 2 retries, once
    assert gateway.call(gateway.storage.count_sessions()) == 0  # no empty session


def test_an_overload_passed_on_carries_a_short_retry_after(gateway, fake_anthropic):
    fake_anthropic.default = http_error(529)
    response = httpx.post(f"{gateway.url}/v1/messages", headers=gateway.auth(), timeout=20,
                          json={"model": "m", "max_tokens": 10, "messages": HELLO})
    assert response.status_code == 529
    assert 0 < float(response.headers["retry-after"]) <= 5


def test_a_failed_first_turn_of_a_seeded_session_leaves_nothing(gateway, fake_anthropic):
    fake_anthropic.default = http_error(500)
    response = httpx.post(f"{gateway.url}/v1/messages", headers=gateway.auth(), timeout=20,
                          json={"model": "m", "max_tokens": 10, "stream": True, "messages": [
                              {"role": "user", "content": "a"},
                              {"role": "assistant", "content": "b"},
                              {"role": "user", "content": "c"}]})
    assert response.status_code == 500
    assert gateway.call(gateway.storage.count_sessions()) == 0


def test_a_repeated_idempotency_key_gets_the_first_answer_and_no_second_turn(
        gateway, fake_anthropic):
    fake_anthropic.add(text_reply("the first answer"))
    body = {"model": "m", "max_tokens": 10, "messages": HELLO}
    headers = {**gateway.auth(), "idempotency-key": "key-1"}
    first = httpx.post(f"{gateway.url}/v1/messages", json=body, headers=headers, timeout=20)
    again = httpx.post(f"{gateway.url}/v1/messages", json=body, headers=headers, timeout=20)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again.headers["x-blufio-session"] == first.headers["x-blufio-session"]
    assert len(fake_anthropic.message_requests) == 1
    streamed = {**body, "stream": True}
    headers["idempotency-key"] = "key-2"
    first = httpx.post(f"{gateway.url}/v1/messages", json=streamed, headers=headers, timeout=20)
    again = httpx.post(f"{gateway.url}/v1/messages", json=streamed, headers=headers, timeout=20)
    assert again.text == first.text and "message_stop" in again.text
    assert len(fake_anthropic.message_requests) == 2


@pytest.mark.slow  # waits out real time
def test_a_request_repeated_while_the_first_runs_gets_a_409(gateway, fake_anthropic):
    fake_anthropic.add(stalled(before_headers=True, seconds=1.0))
    body = {"model": "m", "max_tokens": 10, "messages": HELLO}
    headers = {**gateway.auth(), "idempotency-key": "key-3"}
    answers = []
    first = threading.Thread(target=lambda: answers.append(httpx.post(
        f"{gateway.url}/v1/messages", json=body, headers=headers, timeout=20)))
    first.start()
    assert wait_for(lambda: fake_anthropic.message_requests)
    conflict = httpx.post(f"{gateway.url}/v1/messages", json=body, headers=headers, timeout=20)
    first.join()
    assert conflict.status_code == 409
    assert answers[0].status_code == 200
    assert len(fake_anthropic.message_requests) == 1
