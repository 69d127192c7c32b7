"""Waiting between attempts: one backoff formula and one reading of ``retry-after``.

Every client that retries (the providers, Telegram's polling, MCP servers, deliveries) uses
these, so they all back off the same way: exponential, capped, with jitter so that clients
that failed together do not retry together.
"""

import random
import time

_MAX_DOUBLINGS = 60  # beyond this the cap has long been reached (and 2**n stays a float)


def backoff_delay(attempt, initial, maximum):
    """Seconds to wait after failed attempt number ``attempt`` (0 for the first): a random
    value between half and all of ``initial * 2**attempt``, capped at ``maximum``."""
    ceiling = min(maximum, initial * (2 ** min(attempt, _MAX_DOUBLINGS)))
    return random.uniform(ceiling / 2, ceiling)


class Backoff:
    """Successive ``backoff_delay``s for a loop that retries; ``reset()`` after a success."""

    def __init__(self, initial=1.0, maximum=30.0):
        self.initial = initial
        self.maximum = maximum
        self._attempt = 0

    def next_delay(self, retry_after=None):
        """The next delay; at least ``retry_after`` when the server asked for it."""
        delay = backoff_delay(self._attempt, self.initial, self.maximum)
        self._attempt += 1
        if retry_after:
            delay = max(delay, float(retry_after))
        return delay

    def reset(self):
        self._attempt = 0


def retry_after(headers):
    """Seconds asked for by ``retry-after-ms`` or ``retry-after`` (seconds or an HTTP date)
    in ``headers``; None when neither is there or readable."""
    raw = headers.get("retry-after-ms")
    if raw:
        try:
            return max(0.0, float(raw) / 1000)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            return max(0.0, parsedate_to_datetime(raw).timestamp() - time.time())
        except (TypeError, ValueError):
            return None
