"""How the gateway answers a failed turn: the status, Anthropic error type, message and
``x-should-retry`` its error's class says, the same over JSON, SSE and /ws; unexpected
errors are logged the same way for HTTP and /ws."""

import json
import logging

import httpx
import pytest
from websockets.sync.client import connect

from tests.fakes.anthropic_server import dropped, http_error, malformed, stream_error

from .conftest import TOKEN

HELLO = {"model": "any", "max_tokens": 5, "messages": [{"role": "user", "content": "hello"}]}
GENERIC = "internal error while answering; the server log has the details"
UNREACHABLE = "the model provider could not be reached: "

# What Anthropic answered -> what the gateway answers: status, error type, the start of the
# message, and x-should-retry: always "false", as the provider plugin has already spent the
# one retry budget.
PROVIDER_FAILURES = {
    "400": (lambda: http_error(400), 400, "invalid_request_error",
            "the Anthropic API rejected the request (HTTP 400", "false"),
    "401": (lambda: http_error(401), 502, "api_error",
            "the model provider refused Blufio's credentials: the Anthropic API refused", "false"),
    "403": (lambda: http_error(403), 502, "api_error",
            "the model provider refused Blufio's credentials: the Anthropic API denied", "false"),
    "404": (lambda: http_error(404), 400, "not_found_error",
            "the Anthropic API does not know that resource", "false"),
    "413": (lambda: http_error(413, "request_too_large"), 413, "request_too_large",
            "the Anthropic API found the request too large", "false"),
    "429": (lambda: http_error(429), 429, "rate_limit_error",
            "the Anthropic API is rate limiting this key", "false"),
    "500": (lambda: http_error(500), 500, "api_error", "the Anthropic API failed (HTTP 500", "false"),
    "504": (lambda: http_error(504, "timeout_error"), 504, "timeout_error",
            "the Anthropic API failed (HTTP 504", "false"),
    "529": (lambda: http_error(529), 529, "overloaded_error", "the Anthropic API is overloaded",
            "false"),
    "overloaded mid-stream": (lambda: stream_error("Hel", "overloaded_error"), 529,
                              "overloaded_error", "the Anthropic API failed mid-stream", "false"),
    "odd error mid-stream": (lambda: stream_error("Hel", "invalid_request_error"), 503,
                             "api_error", UNREACHABLE + "the Anthropic API failed mid-stream",
                             "false"),
    "dropped stream": (lambda: dropped("Hel"), 503, "api_error",
                       UNREACHABLE + "the connection to the Anthropic API failed", "false"),
    "malformed stream": (lambda: malformed("Hel"), 500, "api_error",
                         "the Anthropic API sent a malformed event", "false"),
}


def post(gateway, body=HELLO, **headers):
    return httpx.post(f"{gateway.url}/v1/messages", json=body, timeout=20,
                      headers={**gateway.auth(), **headers})


def ws_error(gateway, content="hello"):
    """The error frame a /ws message gets."""
    url = gateway.url.replace("http://", "ws://") + f"/ws?token={TOKEN}"
    with connect(url) as socket:
        socket.send(json.dumps({"type": "message", "content": content, "id": "m"}))
        while True:
            frame = json.loads(socket.recv(timeout=20))
            if frame["type"] in ("error", "message"):
                return frame


@pytest.mark.parametrize("failure", PROVIDER_FAILURES)
def test_a_provider_failure_is_answered_as_its_class_says(gateway, fake_anthropic, failure):
    respond, status, error_type, message, retry = PROVIDER_FAILURES[failure]
    fake_anthropic.add(respond(), respond())

    response = post(gateway)
    assert response.status_code == status
    body = response.json()
    assert body["type"] == "error" and body["request_id"] == response.headers["request-id"]
    assert body["error"]["type"] == error_type
    assert body["error"]["message"].startswith(message)
    assert response.headers.get("x-should-retry") == retry

    frame = ws_error(gateway)  # the same answer as a /ws error frame
    assert frame["type"] == "error" and frame["id"] == "m"
    assert frame["error"]["type"] == error_type and frame["error"]["message"].startswith(message)


def test_a_failure_after_streamed_output_is_an_sse_error_event(gateway, fake_anthropic):
    fake_anthropic.add(stream_error("Hel", "overloaded_error", "Overloaded"))
    response = post(gateway, {**HELLO, "stream": True})
    assert response.status_code == 200
    events = [block.split("\n") for block in response.text.strip().split("\n\n")]
    assert events[0][0] == "event: message_start"
    assert ["event: content_block_stop"] == events[-2][:1]  # the open block is closed first
    assert events[-1][0] == "event: error"
    error = json.loads(events[-1][1].removeprefix("data: "))
    assert error["error"]["type"] == "overloaded_error"
    assert error["error"]["message"].startswith("the Anthropic API failed mid-stream")


def test_a_missing_provider_key_is_503_without_retry(gateway, monkeypatch):
    anthropic = gateway.service.agent.provider.routes[0].provider  # the chain's main provider
    from blufio.plugins.anthropic.provider import MISSING_KEY

    monkeypatch.setattr(anthropic, "missing_key", MISSING_KEY)
    response = post(gateway)
    assert response.status_code == 503 and response.headers["x-should-retry"] == "false"
    assert "ANTHROPIC_API_KEY" in response.json()["error"]["message"]


def test_an_unexpected_error_is_logged_and_the_client_told_only_that(gateway, monkeypatch,
                                                                      caplog):
    async def broken(*args, **kwargs):
        raise RuntimeError("the secret inside of the server")

    monkeypatch.setattr(gateway.service.agent, "new_session", broken)
    caplog.set_level(logging.ERROR, logger="blufio.gateway")

    response = post(gateway)
    assert response.status_code == 500
    assert response.json()["error"] == {"type": "api_error", "message": GENERIC}
    assert "x-should-retry" not in response.headers
    frame = ws_error(gateway)
    assert frame["error"] == {"type": "api_error", "message": GENERIC}

    logged = [r for r in caplog.records if r.name == "blufio.gateway"]
    assert [r.getMessage() for r in logged] == ["unexpected error answering POST /v1/messages",
                                                "unexpected error answering a /ws message"]
    assert all(r.exc_info and "the secret inside" in str(r.exc_info[1]) for r in logged)
