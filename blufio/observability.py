"""The observer every component records through, and the one used when none is installed.

A build without an observability plugin runs the same code with ``NullObserver`` behind it.
"""


class NullObserver:
    """Implements ``blufio.contracts.Observability`` and records nothing."""

    name = "null"
    version = "0"
    adapter_type = "observability"

    def message(self, channel, direction):
        pass

    def tokens(self, model, kind, count):
        pass

    def turn_latency(self, channel, seconds):
        pass

    def first_token(self, channel, seconds):
        pass

    def provider_latency(self, model, seconds):
        pass

    def sessions_active(self, count):
        pass

    def budget_remaining(self, period, usd):
        pass

    def error(self, kind):
        pass

    def provider_call(self, provider, model, outcome):
        pass

    def fallback(self, failed, to):
        pass

    def schedule_run(self, outcome):
        pass

    def tool_call(self, source, tool, outcome, seconds):
        pass

    async def health_check(self):
        return {"status": "ok", "detail": "no observability plugin"}

    async def shutdown(self):
        pass
