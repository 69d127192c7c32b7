"""Prices, the cost of a call, and budgets over the ledger."""

from datetime import datetime, timezone

import pytest

from blufio.agent.cost import FALLBACK, Budget, cost_usd, period_starts, price_of
from blufio.errors import BudgetExceededError
from blufio.model import Usage
from blufio.plugins.anthropic.prices import PRICES


def test_dated_model_names_use_their_family_price():
    assert price_of("claude-sonnet-4-5-20250929", PRICES) == price_of("claude-sonnet-4-5", PRICES)
    assert price_of("claude-opus-4-5-20251101", PRICES).input == 5.0
    assert price_of("claude-opus-4-1-20250805", PRICES).input == 15.0


def test_unknown_model_is_priced_high():
    assert price_of("some-new-model", PRICES) == FALLBACK


def test_cost_counts_all_four_kinds():
    usage = Usage(input_tokens=1_000_000, output_tokens=1_000_000,
                  cache_creation_input_tokens=1_000_000, cache_read_input_tokens=1_000_000)
    assert cost_usd("claude-sonnet-4-5", usage, PRICES) == pytest.approx(3 + 15 + 3.75 + 0.30)


def test_periods_are_utc_day_and_month():
    now = datetime(2025, 3, 17, 23, 59, tzinfo=timezone.utc)
    assert period_starts(now) == ("2025-03-17T00:00:00", "2025-03-01T00:00:00")
    # ledger times sort after the period start, whatever their precision
    assert "2025-03-17T00:00:00.000001Z" >= period_starts(now)[0]


class Ledger:
    def __init__(self, rows):
        self.rows = rows  # (created_at, usd)

    async def cost_since(self, since, *, session_id=None):
        return sum(usd for at, usd in self.rows if at >= since)


class Observer:
    def __init__(self):
        self.remaining = {}

    def budget_remaining(self, period, usd):
        self.remaining[period] = usd


async def test_no_budget_means_no_limit():
    await Budget(Ledger([("2025-01-01T00:00:00Z", 1e9)])).check()


async def test_daily_budget_spent_refuses():
    clock = lambda: datetime(2025, 3, 17, 12, tzinfo=timezone.utc)
    ledger = Ledger([("2025-03-16T23:00:00.000000Z", 5.0), ("2025-03-17T01:00:00.000000Z", 0.0002)])
    observer = Observer()
    with pytest.raises(BudgetExceededError, match="daily budget"):
        await Budget(ledger, daily=0.0001, observer=observer, clock=clock).check()
    assert observer.remaining["daily"] == 0.0
    await Budget(ledger, daily=1.0, clock=clock).check()
    assert True


async def test_monthly_budget_counts_the_whole_month():
    clock = lambda: datetime(2025, 3, 17, 12, tzinfo=timezone.utc)
    ledger = Ledger([("2025-03-02T00:00:00.000000Z", 3.0), ("2025-02-28T00:00:00.000000Z", 100.0)])
    await Budget(ledger, monthly=3.5, clock=clock).check()
    with pytest.raises(BudgetExceededError, match="monthly budget of \\$3.00"):
        await Budget(ledger, monthly=3.0, clock=clock).check()
