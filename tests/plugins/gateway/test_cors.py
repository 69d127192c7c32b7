"""Browser access: CORS for the listed origins only, and /ws refusing other origins."""

import json

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from .conftest import TOKEN, RunningGateway

PAGE = "http://page.example:3000"
OTHER = "http://evil.example"
BODY = {"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def gateway(gateway_env, monkeypatch):
    monkeypatch.setenv("BLUFIO_GATEWAY__CORS_ORIGINS", f'["{PAGE}"]')
    running = RunningGateway().start()
    yield running
    running.stop()


def preflight(gateway, origin, path="/v1/messages"):
    return httpx.options(f"{gateway.url}{path}", headers={
        "origin": origin, "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type, x-blufio-session"})


def test_a_listed_origins_preflight_is_answered_without_a_token(gateway):
    response = preflight(gateway, PAGE)
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == PAGE
    assert "POST" in response.headers["access-control-allow-methods"]
    assert "x-blufio-session" in response.headers["access-control-allow-headers"]


def test_a_listed_origin_may_read_the_reply_and_its_headers(gateway):
    response = httpx.post(f"{gateway.url}/v1/messages", json=BODY, timeout=20,
                          headers={**gateway.auth(), "origin": PAGE})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == PAGE
    exposed = response.headers["access-control-expose-headers"]
    assert "request-id" in exposed and "x-blufio-session" in exposed
    refused = httpx.post(f"{gateway.url}/v1/messages", json=BODY, headers={"origin": PAGE})
    assert refused.status_code == 401  # CORS is no substitute for the token
    assert refused.headers["access-control-allow-origin"] == PAGE  # the page can read why


def test_another_origin_gets_no_cors_headers(gateway):
    response = preflight(gateway, OTHER)
    assert response.status_code == 401
    assert not any(name.startswith("access-control-") for name in response.headers)
    response = httpx.post(f"{gateway.url}/v1/messages", json=BODY, timeout=20,
                          headers={**gateway.auth(), "origin": OTHER})
    assert not any(name.startswith("access-control-") for name in response.headers)


def ws(gateway, origin=None):
    headers = {"Origin": origin} if origin else {}
    return connect(gateway.url.replace("http://", "ws://") + f"/ws?token={TOKEN}",
                   additional_headers=headers, origin=None)


def test_ws_accepts_a_listed_origin_its_own_origin_and_non_browser_clients(gateway):
    for origin in (PAGE, gateway.url, None):
        with ws(gateway, origin) as socket:
            socket.send(json.dumps({"type": "ping"}))
            assert json.loads(socket.recv(timeout=10))["type"] == "pong"


def test_ws_refuses_a_browser_origin_that_is_not_listed(gateway):
    with pytest.raises(InvalidStatus) as caught:
        with ws(gateway, OTHER):
            pass
    assert caught.value.response.status_code == 403
    assert "cors_origins" in caught.value.response.body.decode()


def test_without_cors_origins_no_origin_is_allowed(gateway_env):
    running = RunningGateway().start()
    try:
        assert preflight(running, PAGE).status_code == 401
        with pytest.raises(InvalidStatus):
            with ws(running, PAGE):
                pass
    finally:
        running.stop()
