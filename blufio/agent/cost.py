"""What a provider call costs, and whether the budgets allow another one.

Each provider plugin has its price table (``Provider.prices``: USD per million tokens by model
name prefix), and ``[cost.prices."<model>"]`` adds or overrides prices (``configured_prices``;
``price_table`` puts the two together). A dated model name (``claude-sonnet-4-5-20250929``)
is priced by its longest matching prefix; an unknown model is recorded with a warning (once)
and priced at the highest known rates, so it is never free against a budget.

``Budget`` checks the ledger against ``[cost] daily_budget_usd`` and ``monthly_budget_usd``
(UTC day and month) before every provider call and raises ``BudgetExceededError`` when
either is spent.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timezone

from blufio.errors import BudgetExceededError
from blufio.model import Usage

log = logging.getLogger("blufio.cost")


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million tokens."""

    input: float
    output: float
    cache_write: float
    cache_read: float


# What an unknown model costs when its provider's table is empty: the highest rates known.
FALLBACK = Price(15.0, 75.0, 18.75, 1.50)
_warned = set()


def price_of(model, prices):
    """The ``Price`` of ``model`` in ``prices`` (a provider's table, by model name prefix):
    the longest matching prefix, or the table's highest rates when none matches, so a budget
    errs on the safe side."""
    best = max((name for name in prices if model.startswith(name)), key=len, default=None)
    if best is not None:
        return prices[best]
    if model not in _warned:
        _warned.add(model)
        log.warning("no price known for model %r; costing it at the highest known rates",
                    model)
    if not prices:
        return FALLBACK
    return Price(*(max(getattr(price, kind) for price in prices.values())
                   for kind in Price.__slots__))


PRICE_FIELDS = ("input", "output", "cache_read", "cache_write")


def configured_prices(config):
    """``[cost.prices."<model>"]`` as ``{model: Price}``; a ConfigError names the model and
    the field at fault. ``input`` and ``output`` are required; the cache rates default to
    the input rate."""
    from blufio.config import did_you_mean
    from blufio.errors import ConfigError

    prices = {}
    for model, fields in (config.get("cost.prices") or {}).items():
        where = f'[cost.prices."{model}"]'
        if not isinstance(fields, dict):
            raise ConfigError(f"{where} must be a table of {', '.join(PRICE_FIELDS)}")
        for name, value in fields.items():
            if name not in PRICE_FIELDS:
                raise ConfigError(f"{where}: unknown key '{name}'{did_you_mean(name, PRICE_FIELDS)}"
                                  f"; it has: {', '.join(PRICE_FIELDS)}")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ConfigError(f"{where}: '{name}' must be a number of USD per million "
                                  f"tokens, 0 or more, got {value!r}")
        missing = [name for name in ("input", "output") if name not in fields]
        if missing:
            raise ConfigError(f"{where}: '{missing[0]}' is required (USD per million tokens)")
        prices[model] = Price(float(fields["input"]), float(fields["output"]),
                              float(fields.get("cache_write", fields["input"])),
                              float(fields.get("cache_read", fields["input"])))
    return prices


def price_table(config, provider_prices):
    """A provider's built-in prices with ``[cost.prices]`` over them."""
    return {**provider_prices, **configured_prices(config)}


def has_price(model, prices):
    """True when ``model`` has a price (its name or a prefix of it) in ``prices``."""
    return any(model.startswith(name) for name in prices)


def cost_usd(model, usage: Usage, prices):
    """USD for one call of ``model`` with ``usage``, at the rates of ``prices``."""
    price = price_of(model, prices)
    return (usage.input_tokens * price.input + usage.output_tokens * price.output
            + usage.cache_creation_input_tokens * price.cache_write
            + usage.cache_read_input_tokens * price.cache_read) / 1_000_000


def usd(amount):
    """``amount`` as dollars, with enough decimals to show small sums."""
    return f"${amount:.2f}" if amount >= 1 else f"${amount:.6f}".rstrip("0").rstrip(".") if amount else "$0"


def period_starts(now=None):
    """``(start of the UTC day, start of the UTC month)`` as ledger-comparable strings."""
    now = now or datetime.now(timezone.utc)
    return now.strftime("%Y-%m-%dT00:00:00"), now.strftime("%Y-%m-01T00:00:00")


class Budget:
    """The daily and monthly budgets of ``[cost]``, checked against the ledger.

    ``check()`` raises ``BudgetExceededError`` when a budget is spent and reports what
    remains to the observer. A budget left unset is no limit.
    """

    def __init__(self, storage, daily=None, monthly=None, observer=None, clock=None):
        self.storage = storage
        self.daily = daily
        self.monthly = monthly
        self.observer = observer
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self._used = None  # {period: USD} as of the last check, for spend() to update

    def spend(self, usd):
        """Note ``usd`` just recorded in the ledger, so the remaining budget reported to the
        observer is current without another query (the next check re-reads the ledger)."""
        if self._used is None:
            return
        for period, limit in (("daily", self.daily), ("monthly", self.monthly)):
            self._used[period] += usd
            if limit is not None:
                self._report(period, limit, self._used[period])

    def _report(self, period, limit, used):
        if self.observer is not None:
            self.observer.budget_remaining(period, max(0.0, limit - used))

    @classmethod
    def from_config(cls, config, storage, observer=None):
        return cls(storage, config.get("cost.daily_budget_usd"),
                   config.get("cost.monthly_budget_usd"), observer)

    async def spent(self):
        """``(today, this month)`` in USD."""
        day, month = period_starts(self.clock())
        return await self.storage.cost_since(day), await self.storage.cost_since(month)

    async def check(self):
        if self.daily is None and self.monthly is None:
            return
        today, month = await self.spent()
        self._used = {"daily": today, "monthly": month}
        for period, limit, used, resets in (("daily", self.daily, today, "at 00:00 UTC"),
                                            ("monthly", self.monthly, month,
                                             "on the 1st of next month (UTC)")):
            if limit is None:
                continue
            self._report(period, limit, used)
            if used >= limit:
                raise BudgetExceededError(
                    f"the {period} budget of {usd(limit)} is spent ({usd(used)} used); the agent "
                    f"will answer again {resets}, or raise [cost] {period}_budget_usd")
