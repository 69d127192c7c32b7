"""The gateway's other routes: auth everywhere but health, sessions, errors, OpenAPI."""

import re

import anthropic
import httpx
import pytest

from .conftest import TOKEN, RunningGateway

PROTECTED = [("GET", "/v1/sessions"), ("GET", "/v1/sessions/abc"), ("POST", "/v1/messages"),
             ("GET", "/v1/openapi.json"), ("GET", "/metrics"), ("GET", "/ws"),
             ("GET", "/v1/memories"), ("POST", "/v1/memories"), ("DELETE", "/v1/memories/mem_1")]


def test_health_without_a_token_says_only_the_overall_status(gateway):
    response = httpx.get(f"{gateway.url}/v1/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}  # no versions, addresses or plugin details


def test_health_with_a_token_reports_each_plugin(gateway):
    response = httpx.get(f"{gateway.url}/v1/health", headers=gateway.auth())
    report = response.json()
    assert report["status"] == "ok" and report["version"]
    assert set(report["plugins"]) >= {"sqlite", "anthropic", "gateway"}
    assert all(p["status"] == "ok" for p in report["plugins"].values())
    assert report["plugins"]["gateway"]["detail"] == f"listening on {gateway.url}"


def test_health_never_shows_credentials_in_a_url(monkeypatch, gateway_env, fake_anthropic):
    with_userinfo = fake_anthropic.base_url.replace("http://", "http://user:s3cr%40t@")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", with_userinfo)
    running = RunningGateway().start()
    try:
        public = httpx.get(f"{running.url}/v1/health")
        detailed = httpx.get(f"{running.url}/v1/health", headers=running.auth())
    finally:
        running.stop()
    assert public.json() == {"status": "ok"}
    assert "s3cr" not in detailed.text and "user" not in detailed.text
    assert detailed.json()["plugins"]["anthropic"]["detail"] == fake_anthropic.base_url


@pytest.mark.parametrize("method, path", PROTECTED)
def test_every_other_route_needs_a_token(gateway, method, path):
    response = httpx.request(method, f"{gateway.url}{path}")
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "authentication_error"


@pytest.mark.parametrize("header", ["authorization", "x-api-key"])
def test_the_token_is_accepted_as_bearer_or_x_api_key(gateway, header):
    value = f"Bearer {TOKEN}" if header == "authorization" else TOKEN
    assert httpx.get(f"{gateway.url}/v1/sessions", headers={header: value}).status_code == 200


def test_unknown_routes_and_methods_get_the_envelope(gateway):
    missing = httpx.get(f"{gateway.url}/v2/anything", headers=gateway.auth())
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found_error"
    wrong = httpx.put(f"{gateway.url}/v1/sessions", headers=gateway.auth())
    assert wrong.status_code == 405 and wrong.json()["type"] == "error"


def test_sessions_are_listed_newest_first_and_paginated(gateway):
    sdk = anthropic.Anthropic(base_url=gateway.url, api_key=TOKEN, max_retries=0)
    ids = [sdk.messages.with_raw_response.create(
        model="m", max_tokens=5, messages=[{"role": "user", "content": f"n{i}"}]
    ).headers["x-blufio-session"] for i in range(3)]
    page = httpx.get(f"{gateway.url}/v1/sessions?limit=2", headers=gateway.auth()).json()
    assert [s["id"] for s in page["data"]] == [ids[2], ids[1]]
    assert page["has_more"] is True and page["total"] == 3
    assert page["data"][0]["message_count"] == 2 and page["data"][0]["channel"] == "gateway"
    rest = httpx.get(f"{gateway.url}/v1/sessions?limit=2&offset=2", headers=gateway.auth()).json()
    assert [s["id"] for s in rest["data"]] == [ids[0]] and rest["has_more"] is False

    one = httpx.get(f"{gateway.url}/v1/sessions/{ids[0]}", headers=gateway.auth()).json()
    assert [m["role"] for m in one["messages"]] == ["user", "assistant"]
    assert one["messages"][1]["content"] == [{"type": "text", "text": "echo: n0"}]


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=x", "offset=-1"])
def test_bad_pagination_is_a_400(gateway, query):
    response = httpx.get(f"{gateway.url}/v1/sessions?{query}", headers=gateway.auth())
    assert response.status_code == 400


def test_an_unknown_session_is_404(gateway):
    response = httpx.get(f"{gateway.url}/v1/sessions/nope", headers=gateway.auth())
    assert response.status_code == 404 and "nope" in response.json()["error"]["message"]


def test_the_openapi_document_describes_every_route_and_no_other(gateway):
    document = httpx.get(f"{gateway.url}/v1/openapi.json", headers=gateway.auth()).json()
    app = gateway.service.channels["gateway"]._app
    served = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        methods = {"get"} if rule.websocket else {m.lower() for m in rule.methods} - {"head", "options"}
        served.setdefault(path, set()).update(methods)
    documented = {path: set(ops) for path, ops in document["paths"].items()}
    assert documented == served
