"""A real gateway for the tests: ``Service`` (storage, agent, every enabled plugin) serving on
127.0.0.1:<ephemeral> from a background thread, over a fake Anthropic API."""

import asyncio
import threading

import pytest


TOKEN = "gw-test-token"


class RunningGateway:
    """A ``Service`` running on its own event loop in a thread."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.service = None

    def start(self):
        from blufio.config import load_config
        from blufio.service import Service

        self.thread.start()
        self.service = Service(load_config())
        self.call(self.service.start())
        return self

    def call(self, coroutine, timeout=30):
        """Run ``coroutine`` on the gateway's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def stop(self):
        self.call(self.service.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    @property
    def url(self):
        return self.service.channels["gateway"].url

    @property
    def storage(self):
        return self.service.storage

    def auth(self, token=TOKEN):
        return {"authorization": f"Bearer {token}"}


@pytest.fixture
def gateway_env(monkeypatch, fake_anthropic):
    """The environment of a user running the gateway against the fake Anthropic API."""
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake_anthropic.base_url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    monkeypatch.setenv("BLUFIO_GATEWAY__PORT", "0")
    monkeypatch.setenv("BLUFIO_GATEWAY__BEARER_TOKEN", TOKEN)
    monkeypatch.setenv("BLUFIO_PLUGINS__TELEGRAM", "false")
    monkeypatch.setenv("BLUFIO_ANTHROPIC__MAX_RETRIES", "0")


@pytest.fixture
def gateway(gateway_env):
    running = RunningGateway().start()
    yield running
    running.stop()


@pytest.fixture
def budgeted_gateway(gateway_env, monkeypatch):
    """The gateway with a daily budget of $5 and a monthly one of $50."""
    monkeypatch.setenv("BLUFIO_COST__DAILY_BUDGET_USD", "5")
    monkeypatch.setenv("BLUFIO_COST__MONTHLY_BUDGET_USD", "50")
    running = RunningGateway().start()
    yield running
    running.stop()
