"""Choosing a provider per call, falling back to the next, and skipping one that keeps failing.

``ProviderChain`` implements the provider contract over the providers named by ``[agent]
provider`` and ``[agent] fallback``, in that order. A call goes to the first provider whose
circuit is closed; when it fails *before any output* (events up to the first content delta
are held back until then) with a failure another provider could avoid (overload, 5xx, 429,
timeout, connection), the same call goes to the next one. A failure once output has started
is raised as it is: the caller has seen text.

The first provider is asked for the model the caller names (``[agent] model``); a fallback
is asked for its own configured model (its ``default_model``). The ``message_start`` event
says who answered: ``message.model`` is the model that was asked for (the name prices and
the ledger use) and ``message.provider`` the provider's name.

``CircuitBreaker``: a provider that failed ``failures`` times within ``window`` seconds is
skipped for ``cooldown`` seconds; then one call is let through (half-open): success closes
the circuit, failure opens it again. When every circuit is open, the providers are tried
anyway, in order: a call is never refused without asking anyone.
"""

import logging
import time
from collections import deque
from contextlib import aclosing
from dataclasses import dataclass

from blufio.errors import ProviderError, ProviderUnavailableError

log = logging.getLogger("blufio.agent.fallback")

_FAILOVER_TYPES = frozenset({"overloaded_error", "api_connection_error", "timeout_error",
                             "rate_limit_error", "api_error"})


# Events that are not yet output: a failure after only these may still fall back.
_PREAMBLE = frozenset({"message_start", "content_block_start"})


def fails_over(exc):
    """True when another provider might answer where this failure happened: overload,
    rate limiting, a server error, a timeout or no connection (not a rejected request)."""
    if isinstance(exc, ProviderUnavailableError):
        return True
    if not isinstance(exc, ProviderError):
        return False
    if exc.status is None:
        return exc.error_type in _FAILOVER_TYPES
    return exc.status in (408, 429) or exc.status >= 500


class CircuitBreaker:
    """Counts recent failures of one provider (see the module docstring)."""

    def __init__(self, failures=3, window=60.0, cooldown=30.0, clock=time.monotonic):
        self.failures = max(1, int(failures))
        self.window = window
        self.cooldown = cooldown
        self.clock = clock
        self._recent = deque()
        self._opened_at = None

    @property
    def state(self):
        """``closed``, ``open`` or ``half-open`` (the cooldown is over; one trial may pass)."""
        if self._opened_at is None:
            return "closed"
        return "half-open" if self.clock() - self._opened_at >= self.cooldown else "open"

    def allows(self):
        return self.state != "open"

    def failed(self):
        now = self.clock()
        if self._opened_at is not None:
            self._opened_at = now  # the trial failed: another cooldown
            return
        self._recent.append(now)
        while self._recent and now - self._recent[0] > self.window:
            self._recent.popleft()
        if len(self._recent) >= self.failures:
            self._opened_at = now
            self._recent.clear()

    def succeeded(self):
        self._opened_at = None
        self._recent.clear()


@dataclass
class Route:
    """One provider of the chain, the model it is asked for, and its breaker."""

    name: str
    provider: object
    model: str
    breaker: CircuitBreaker


class ProviderChain:
    """The provider contract over an ordered list of ``Route``s (the first is the main one).

    Each call to a provider is reported to ``observer`` (``provider_call``, and ``fallback``
    when a call moves on). ``prices`` is every provider's table together.
    """

    name = "chain"
    adapter_type = "provider"

    def __init__(self, routes, observer=None):
        from blufio.observability import NullObserver

        if not routes:
            raise ValueError("a provider chain needs at least one provider")
        self.routes = list(routes)
        self.observer = observer or NullObserver()
        self.version = getattr(self.routes[0].provider, "version", "")
        self.prices = {}
        for route in reversed(self.routes):  # the main provider's prices win a clash
            self.prices.update(route.provider.prices)

    @property
    def default_model(self):
        return self.routes[0].model

    def order(self):
        """The routes to try for one call: those whose circuit lets calls through, else all."""
        open_now = [route for route in self.routes if route.breaker.allows()]
        return open_now or list(self.routes)

    async def stream(self, *, model, system, messages, tools, max_tokens, options=None):
        """Yield one call's events from the first provider that answers (see the module)."""
        routes = self.order()
        for position, route in enumerate(routes):
            asked = model if route is self.routes[0] and model else route.model
            call = _Call(route.name, asked)
            try:
                async with aclosing(call.relay(route.provider.stream(
                        model=asked, system=system, messages=messages, tools=tools,
                        max_tokens=max_tokens, options=options))) as events:
                    async for event in events:
                        yield event
            except ProviderError as exc:
                self.observer.provider_call(route.name, asked, "error")
                following = routes[position + 1] if position + 1 < len(routes) else None
                if not self._moves_on(route, exc, call.started, following):
                    raise
                continue
            self.observer.provider_call(route.name, asked, "ok")
            route.breaker.succeeded()
            return

    async def count_tokens(self, *, model, system, messages, tools, options=None):
        """The input tokens as the first provider that answers counts them."""
        routes = self.order()
        for position, route in enumerate(routes):
            asked = model if route is self.routes[0] and model else route.model
            try:
                return await route.provider.count_tokens(model=asked, system=system,
                                                         messages=messages, tools=tools,
                                                         options=options)
            except ProviderError as exc:
                if not fails_over(exc) or position == len(routes) - 1:
                    raise

    def _moves_on(self, route, exc, started, following):
        """Count a failure against ``route``; True when the call goes to ``following``."""
        transient = fails_over(exc)
        if transient:
            route.breaker.failed()
        if started or not transient or following is None:
            return False
        log.warning("provider %s failed before answering (%s); trying %s", route.name, exc,
                    following.name)
        self.observer.fallback(route.name, following.name)
        return True

    async def health_check(self):
        """The main provider's health, with every circuit's state in the detail."""
        health = dict(await self.routes[0].provider.health_check())
        states = ", ".join(f"{r.name} {r.breaker.state}" for r in self.routes)
        health["detail"] = f"{health.get('detail', '')} (circuits: {states})".strip()
        return health

    async def shutdown(self):
        for route in self.routes:
            await route.provider.shutdown()


class _Call:
    """One provider's stream, relayed with its preamble held back until the first output."""

    def __init__(self, provider, model):
        self.provider = provider
        self.model = model
        self.started = False

    async def relay(self, events):
        held = []
        async with aclosing(events):
            async for event in events:
                if event.get("type") == "message_start":
                    event = _answered_by(event, self.provider, self.model)
                if self.started:
                    yield event
                    continue
                held.append(event)
                if event.get("type") not in _PREAMBLE:
                    self.started = True
                    for held_event in held:
                        yield held_event
        if not self.started:
            for held_event in held:
                yield held_event


def _answered_by(event, provider, model):
    message = dict(event.get("message") or {})
    message["model"] = model
    message["provider"] = provider
    return {**event, "message": message}
