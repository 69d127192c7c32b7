"""/metrics and device-key tokens on a running gateway, after real HTTP and WebSocket turns."""

import json
import shutil
import subprocess

import anthropic
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.sync.client import connect

from .conftest import TOKEN, RunningGateway


def scrape(gateway, headers=None):
    return httpx.get(f"{gateway.url}/metrics", headers=gateway.auth() if headers is None else headers)


def samples(text):
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_metrics_count_gateway_and_websocket_turns(gateway):
    sdk = anthropic.Anthropic(base_url=gateway.url, api_key=TOKEN, max_retries=0)
    for text in ("one", "two"):
        sdk.messages.create(model="m", max_tokens=20, messages=[{"role": "user", "content": text}])
    with connect(gateway.url.replace("http", "ws") + f"/ws?token={TOKEN}") as socket:
        socket.send(json.dumps({"type": "message", "content": "three"}))
        while json.loads(socket.recv(timeout=10))["type"] != "message":
            pass

    response = scrape(gateway)
    assert response.status_code == 200
    values = samples(response.text)
    model = gateway.service.agent.model
    assert values[("blufio_messages_total", frozenset({("channel", "gateway"), ("direction", "in")}))] == 3
    assert values[("blufio_messages_total", frozenset({("channel", "gateway"), ("direction", "out")}))] == 3
    # the fake reports 10 input and 5 output tokens for each call
    assert values[("blufio_tokens_total", frozenset({("model", model), ("kind", "input")}))] == 30
    assert values[("blufio_tokens_total", frozenset({("model", model), ("kind", "output")}))] == 15
    assert values[("blufio_response_latency_seconds_count", frozenset({("channel", "gateway")}))] == 3
    assert values[("blufio_time_to_first_token_seconds_count", frozenset({("channel", "gateway")}))] == 3
    assert values[("blufio_provider_latency_seconds_count", frozenset({("model", model)}))] == 3
    assert ("blufio_sessions_active", frozenset()) in values
    assert not any("three" in str(labels) for _, labels in values)  # no user text in labels


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")
def test_promtool_accepts_the_live_exposition(gateway):
    anthropic.Anthropic(base_url=gateway.url, api_key=TOKEN, max_retries=0).messages.create(
        model="m", max_tokens=20, messages=[{"role": "user", "content": "hi"}])
    result = subprocess.run(["promtool", "check", "metrics"], input=scrape(gateway).content,
                            capture_output=True)
    assert result.returncode == 0, result.stderr.decode() + result.stdout.decode()


def test_metrics_need_a_token_unless_public(gateway_env, monkeypatch):
    running = RunningGateway().start()
    try:
        assert scrape(running, headers={}).status_code == 401
    finally:
        running.stop()
    monkeypatch.setenv("BLUFIO_PROMETHEUS__PUBLIC", "true")
    running = RunningGateway().start()
    try:
        assert scrape(running, headers={}).status_code == 200
    finally:
        running.stop()


def test_without_the_prometheus_plugin_there_is_no_metrics_route(gateway_env, monkeypatch):
    monkeypatch.setenv("BLUFIO_PLUGINS__PROMETHEUS", "false")
    running = RunningGateway().start()
    try:
        assert scrape(running).status_code == 404
    finally:
        running.stop()


def issue_token(blufio, *args):
    result = blufio("auth", "token", *args)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_device_key_tokens_work_with_the_sdk_until_revoked_or_rotated(gateway, blufio):
    def reply(token):
        sdk = anthropic.Anthropic(base_url=gateway.url, api_key=token, max_retries=0)
        return sdk.messages.create(model="m", max_tokens=20,
                                   messages=[{"role": "user", "content": "hi"}])

    laptop = issue_token(blufio, "--name", "laptop", "--expires", "1h")
    phone = issue_token(blufio, "--name", "phone")
    assert reply(laptop).content[0].text == "echo: hi"
    assert reply(phone).content[0].text == "echo: hi"

    listed = blufio("auth", "list", "--json")
    laptop_id = next(t["id"] for t in json.loads(listed.stdout) if t["name"] == "laptop")
    assert blufio("auth", "revoke", laptop_id).returncode == 0
    with pytest.raises(anthropic.AuthenticationError):
        reply(laptop)
    assert reply(phone).content[0].text == "echo: hi"

    assert blufio("auth", "rotate").returncode == 0
    with pytest.raises(anthropic.AuthenticationError):
        reply(phone)
    assert reply(TOKEN).content[0].text == "echo: hi"  # the static token still works


def test_budget_remaining_follows_the_ledger(gateway_env, monkeypatch):
    monkeypatch.setenv("BLUFIO_COST__DAILY_BUDGET_USD", "10")
    monkeypatch.setenv("BLUFIO_COST__MONTHLY_BUDGET_USD", "100")
    running = RunningGateway().start()
    try:
        sdk = anthropic.Anthropic(base_url=running.url, api_key=TOKEN, max_retries=0)
        for text in ("one", "two"):
            sdk.messages.create(model="m", max_tokens=20, messages=[{"role": "user", "content": text}])
        spent = sum(e.cost_usd for e in running.call(running.storage.cost_entries()))
        values = samples(scrape(running).text)
    finally:
        running.stop()
    assert spent > 0
    daily = values[("blufio_budget_remaining_usd", frozenset({("period", "daily")}))]
    monthly = values[("blufio_budget_remaining_usd", frozenset({("period", "monthly")}))]
    assert daily == pytest.approx(10 - spent) and monthly == pytest.approx(100 - spent)
    assert values[("blufio_sessions_active", frozenset())] == 0  # nothing in flight now
