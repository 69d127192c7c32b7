"""A scheduler over real parts: SQLite storage, the agent, the Anthropic provider talking
HTTP to the fake Messages API, and a clock the test moves. Targets record what reaches them
(and can be told to fail), as a channel would see it."""

from datetime import datetime, timezone

import pytest

from blufio.agent.events import TextDelta, TurnComplete
from blufio.agent.loop import Agent
from blufio.errors import BlufioError, ScheduleError
from blufio.observability import NullObserver
from blufio.plugins.anthropic.provider import AnthropicProvider
from blufio.plugins.sqlite.storage import SqliteStorage
from blufio.scheduler.book import ScheduleBook
from blufio.scheduler.engine import Scheduler
from blufio.scheduler.targets import stored_session
from tests.fakes.clock import FakeClock
from tests.fakes.config import make_config

START = datetime(2026, 11, 25, 8, 0, tzinfo=timezone.utc)


class RecordingTargets:
    """What reached each target: rendered replies and plain messages."""

    def __init__(self, storage):
        self.storage = storage
        self.delivered = []  # (target, text)
        self.sent = []  # (target, text)
        self.deliver_failures = 0  # how many deliveries fail before one works
        self.send_failures = 0

    async def session_for(self, target):
        session_id = await stored_session(self.storage, target)
        if session_id is None:
            raise ScheduleError("target", f"{target} is gone")
        return session_id

    async def deliver(self, target, inbound, events):
        if self.deliver_failures:
            self.deliver_failures -= 1
            raise BlufioError("the chat cannot be reached")
        text = []
        async for event in events:
            if isinstance(event, TextDelta):
                text.append(event.text)
            elif isinstance(event, TurnComplete):
                self.delivered.append((target, "".join(text)))

    async def send(self, target, text):
        if self.send_failures:
            self.send_failures -= 1
            raise BlufioError("the chat cannot be reached")
        self.sent.append((target, text))


class CountingObserver(NullObserver):
    def __init__(self):
        self.runs = {}

    def schedule_run(self, outcome):
        self.runs[outcome] = self.runs.get(outcome, 0) + 1


class Harness:
    """Everything a running scheduler has; ``restart`` is a process starting again."""

    def __init__(self, tmp_path, fake_anthropic, toml=""):
        self.config = make_config(
            tmp_path, f'[anthropic]\nbase_url = "{fake_anthropic.base_url}"\n'
            f'read_timeout = 5.0\n[storage]\npath = "{tmp_path / "blufio.db"}"\n{toml}',
            environ={"ANTHROPIC_API_KEY": "sk-test"})
        self.clock = FakeClock(START)
        self.scheduler = None

    async def open(self, daily_budget=None):
        self.storage = SqliteStorage(self.config)
        await self.storage.open()
        self.provider = AnthropicProvider(self.config)
        self.observer = CountingObserver()
        self.agent = Agent.from_config(self.config, provider=self.provider,
                                       storage=self.storage, observer=self.observer)
        self.targets = RecordingTargets(self.storage)
        self.scheduler = Scheduler(self.storage, self.agent, self.targets, clock=self.clock,
                                   observer=self.observer, daily_budget=daily_budget)
        self.book = ScheduleBook(self.storage, clock=self.clock, on_change=self.scheduler.wake)
        return self

    async def start(self):
        """Start the scheduler and wait until it sleeps."""
        before = self.clock.entered
        await self.scheduler.start()
        await self.clock.asleep(after=before)

    async def move_to(self, moment):
        """Move the clock; wait until the scheduler has looked and every run finished."""
        before = self.clock.entered
        self.clock.move_to(moment)
        await self.clock.asleep(after=before)
        await self.scheduler.drain()

    async def close(self):
        await self.scheduler.aclose(timeout=0)
        await self.agent.aclose(timeout=0)
        await self.provider.shutdown()
        await self.storage.shutdown()

    async def session(self, channel="gateway"):
        return await self.storage.create_session(channel)

    async def runs(self, schedule_id):
        return list(reversed(await self.storage.schedule_runs(schedule_id, limit=10_000)))


@pytest.fixture
async def harness(tmp_path, fake_anthropic):
    h = await Harness(tmp_path, fake_anthropic).open()
    yield h
    await h.close()
