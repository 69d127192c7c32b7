"""Values too deep or too large to handle are a 400 in the error envelope, on HTTP and /ws
alike, and never an unexpected error in the log."""

import json
import logging

import httpx
import pytest
from websockets.sync.client import connect

from .conftest import TOKEN


def nested(depth):
    return "[" * depth + "]" * depth


def body_with(value):
    """A Messages API body whose client tool's input schema holds ``value`` (raw JSON)."""
    return ('{"model": "any", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}], '
            '"tools": [{"name": "lookup", "description": "d", "input_schema": {"type": "object",'
            ' "properties": {"v": {"type": "array", "default": ' + value + '}}}}]}')


def blufio_errors(caplog):
    """Error records the server logged (not, say, asyncio's report of another test's task)."""
    return [r for r in caplog.records if r.levelno >= logging.ERROR
            and r.name.split(".")[0] in ("blufio", "hypercorn", "quart")]


@pytest.mark.parametrize("depth", [150, 1_000, 100_000])
def test_a_body_nested_too_deeply_is_a_400(gateway, caplog, depth):
    caplog.set_level(logging.ERROR)
    response = httpx.post(f"{gateway.url}/v1/messages", content=body_with(nested(depth)),
                          headers={**gateway.auth(), "content-type": "application/json"})
    assert response.status_code == 400
    body = response.json()
    assert body["error"]["type"] == "invalid_request_error"
    assert body["error"]["message"].startswith("the request body is nested too deeply")
    assert body["request_id"] == response.headers["request-id"]
    assert not blufio_errors(caplog)


def test_nesting_within_the_limit_is_accepted(gateway):
    response = httpx.post(f"{gateway.url}/v1/messages", content=body_with(nested(20)),
                          headers={**gateway.auth(), "content-type": "application/json"})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("depth", [150, 5_000])
def test_a_frame_nested_too_deeply_is_an_error_frame_and_the_socket_stays_open(gateway, caplog,
                                                                              depth):
    caplog.set_level(logging.ERROR)
    url = gateway.url.replace("http://", "ws://") + f"/ws?token={TOKEN}"
    with connect(url) as socket:
        socket.send('{"type": "message", "id": "m", "content": ' + nested(depth) + "}")
        error = json.loads(socket.recv(timeout=10))
        socket.send(json.dumps({"type": "ping", "id": "after"}))
        assert json.loads(socket.recv(timeout=10)) == {"type": "pong", "id": "after"}
    assert error["type"] == "error"
    assert error["error"]["type"] == "invalid_request_error"
    assert error["error"]["message"].startswith("a frame is nested too deeply")
    assert not blufio_errors(caplog)


@pytest.mark.parametrize("offset", [2**63, 10**30])
def test_an_offset_sqlite_cannot_hold_is_a_400(gateway, offset):
    response = httpx.get(f"{gateway.url}/v1/sessions", params={"offset": offset},
                         headers=gateway.auth())
    assert response.status_code == 400
    assert response.json()["error"] == {
        "type": "invalid_request_error",
        "message": f"offset: must be a whole number from 0 to {2**63 - 1}"}


def test_the_largest_offset_sqlite_holds_lists_nothing(gateway):
    response = httpx.get(f"{gateway.url}/v1/sessions", params={"offset": 2**63 - 1},
                         headers=gateway.auth())
    assert response.status_code == 200 and response.json()["data"] == []
