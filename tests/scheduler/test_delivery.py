"""ChannelTargets with the real Telegram channel over the fake Bot API: a reminder made in a
chat is answered in that chat, and a chat that cannot be reached fails the run visibly."""

import asyncio
from datetime import datetime, timezone

import pytest

from blufio.agent.loop import Agent
from blufio.plugins.anthropic.provider import AnthropicProvider
from blufio.plugins.sqlite.storage import SqliteStorage
from blufio.plugins.telegram.channel import TelegramChannel
from blufio.scheduler import tools as schedule_tools
from blufio.scheduler.book import ScheduleBook
from blufio.scheduler.delivery import ChannelTargets
from blufio.scheduler.engine import Scheduler
from tests.fakes.anthropic_server import text_reply, tool_use_reply
from tests.fakes.clock import FakeClock
from tests.fakes.config import make_config
from tests.plugins.telegram.conftest import OWNER, telegram_toml, tg  # noqa: F401 (fixtures)

START = datetime(2026, 11, 25, 17, 0, tzinfo=timezone.utc)


class Running:
    """serve's parts for one chat: storage, agent with the schedule tools, the Telegram
    channel, and a scheduler on a clock the test moves."""

    def __init__(self, config):
        self.config = config
        self.clock = FakeClock(START)

    async def start(self):
        self.storage = SqliteStorage(self.config)
        await self.storage.open()
        self.provider = AnthropicProvider(self.config)
        self.agent = Agent.from_config(self.config, provider=self.provider, storage=self.storage)
        self.channel = TelegramChannel(self.config, storage=self.storage)
        self.scheduler = Scheduler(self.storage, self.agent,
                                   ChannelTargets(self.storage, {"telegram": self.channel}),
                                   clock=self.clock, retry_delays=(1.0, 1.0))
        self.book = ScheduleBook(self.storage, clock=self.clock, timezone="Europe/Paris",
                                 on_change=self.scheduler.wake)
        schedule_tools.register(self.agent.tools, self.book)
        await self.channel.start(self.agent)
        await self.scheduler.start()
        return self

    async def due(self, schedule):
        """Move the clock to the schedule's run and wait for the run to finish."""
        before = self.clock.entered
        stored = await self.storage.get_schedule(schedule.id)
        self.clock.move_to(datetime.strptime(stored.next_run_at, "%Y-%m-%dT%H:%M:%S.%fZ")
                           .replace(tzinfo=timezone.utc))
        await self.clock.asleep(after=before)
        await self.scheduler.drain()

    async def stop(self):
        await self.scheduler.aclose(timeout=0)
        await self.channel.shutdown()
        await self.agent.aclose(timeout=0)
        await self.provider.shutdown()
        await self.storage.shutdown()


@pytest.fixture
async def running(tmp_path, telegram_toml, fake_anthropic):  # noqa: F811
    config = make_config(tmp_path, telegram_toml() + f'[anthropic]\napi_key = "sk-ant-test"\n'
                         f'base_url = "{fake_anthropic.base_url}"\n')
    parts = await Running(config).start()
    yield parts
    await parts.stop()


async def test_remind_me_tomorrow_at_9_in_a_chat_is_answered_in_that_chat(
        tg, fake_anthropic, running):  # noqa: F811
    fake_anthropic.add(
        tool_use_reply("schedule_create", {"prompt": "Remind the user to call Anna.",
                                           "at": "2026-11-26T09:00"}),
        text_reply("I will remind you tomorrow at 9."))
    tg.send_text(OWNER, "remind me tomorrow at 9 to call Anna")
    await tg.wait_for(lambda: "I will remind you tomorrow at 9." in tg.texts(OWNER))

    [reminder] = await running.storage.list_schedules()
    assert reminder.target == f"telegram:{OWNER}" and reminder.kind == "once"
    assert reminder.timezone == "Europe/Paris"
    assert reminder.next_run_at == "2026-11-26T08:00:00.000000Z"  # 09:00 in Paris

    await running.due(reminder)
    await tg.wait_for(lambda: "echo: Remind the user to call Anna." in tg.texts(OWNER))
    assert (await ended_run(running.storage, reminder.id)).outcome == "ok"


async def ended_run(storage, schedule_id):
    """The schedule's one run once it has ended (its outcome is recorded after delivery)."""
    for _ in range(1000):
        [run] = await storage.schedule_runs(schedule_id)
        if run.outcome != "running":
            return run
        await asyncio.sleep(0.01)
    raise AssertionError(f"the run of schedule {schedule_id} never ended")


async def test_a_chat_that_cannot_be_reached_is_retried_then_the_run_fails(
        tg, running):  # noqa: F811
    tg.send_text(OWNER, "hi")
    await tg.wait_for(lambda: "echo: hi" in tg.texts(OWNER))
    schedule = await running.book.create(prompt="ping", target=f"telegram:{OWNER}",
                                         within="1h")
    tg.fail("sendMessage", times=100, status=403, description="Forbidden: bot was blocked")
    await running.due(schedule)

    [run] = await running.storage.schedule_runs(schedule.id)
    assert run.outcome == "failed" and f"could not deliver to telegram:{OWNER}" in run.error
    assert "blocked" in run.error
    assert running.clock.pauses == [1.0, 1.0]  # the reply was sent again twice


async def test_a_notice_reaches_the_chat_when_a_cap_pauses_the_schedule(
        tg, running):  # noqa: F811
    tg.send_text(OWNER, "hi")
    await tg.wait_for(lambda: "echo: hi" in tg.texts(OWNER))
    schedule = await running.book.create(prompt="tick", target=f"telegram:{OWNER}",
                                         cron="*/5 * * * *", max_run_usd=0.0001)
    await running.due(schedule)
    await tg.wait_for(lambda: any("is paused" in t for t in tg.texts(OWNER)))
    [notice] = [t for t in tg.texts(OWNER) if "is paused" in t]
    assert f"schedule resume {schedule.id}" in notice
    assert (await running.storage.get_schedule(schedule.id)).status == "paused"


def test_the_targets_name_the_channel_that_is_missing():
    import asyncio

    from blufio.errors import PluginError

    targets = ChannelTargets(storage=None, channels={})
    for call in (targets.send("telegram:1", "hi"), targets.session_for("telegram:1")):
        with pytest.raises(PluginError, match="telegram channel is not running"):
            asyncio.run(call)
