"""``GET /v1/usage``: today's and this month's spend against the budgets, a session's calls."""

import json

import httpx
import pytest
from websockets.sync.client import connect

from tests.fakes.anthropic_server import text_reply

from .conftest import TOKEN


@pytest.fixture
def budgeted(budgeted_gateway):
    return budgeted_gateway


def usage(gateway, query=""):
    response = httpx.get(f"{gateway.url}/v1/usage{query}", headers=gateway.auth())
    assert response.status_code == 200, response.text
    return response.json()


def test_spend_starts_at_zero_against_the_budgets(budgeted):
    report = usage(budgeted)
    assert report["currency"] == "USD" and "session" not in report
    assert report["today"]["cost_usd"] == 0 and report["today"]["budget_usd"] == 5
    assert report["today"]["remaining_usd"] == 5 and report["today"]["since"].endswith("T00:00:00Z")
    assert report["month"]["budget_usd"] == 50 and report["month"]["since"][8:10] == "01"


def test_without_budgets_there_is_nothing_remaining_to_report(gateway):
    report = usage(gateway)
    assert report["today"]["budget_usd"] is None and report["today"]["remaining_usd"] is None


def test_a_turn_moves_the_spend_and_shows_in_its_session(budgeted, fake_anthropic):
    fake_anthropic.add(text_reply("hi", usage={"input_tokens": 1000, "output_tokens": 200}))
    with connect(budgeted.url.replace("http", "ws") + f"/ws?token={TOKEN}") as socket:
        socket.send(json.dumps({"type": "message", "content": "hello"}))
        while (frame := json.loads(socket.recv(timeout=10)))["type"] != "message":
            pass
    report = usage(budgeted, f"?session_id={frame['session_id']}")
    today, session = report["today"], report["session"]
    assert frame["cost_usd"] == pytest.approx((1000 * 3 + 200 * 15) / 1e6)  # Sonnet's prices
    assert today["cost_usd"] >= frame["cost_usd"] - 1e-9  # the ledger: every call, at once
    assert today["remaining_usd"] == pytest.approx(5 - today["cost_usd"])
    assert session["cost_usd"] == pytest.approx(sum(c["cost_usd"] for c in session["calls"]))
    assert any(c["usage"]["input_tokens"] == 1000 for c in session["calls"])
    assert session["usage"]["input_tokens"] >= 1000


def test_usage_needs_a_token_and_a_known_session(gateway):
    assert httpx.get(f"{gateway.url}/v1/usage").status_code == 401
    missing = httpx.get(f"{gateway.url}/v1/usage?session_id=nope", headers=gateway.auth())
    assert missing.status_code == 404 and "nope" in missing.json()["error"]["message"]
