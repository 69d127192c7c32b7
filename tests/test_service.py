"""``Service``: what ``serve`` starts is stopped once, in reverse order, with no task left."""

import asyncio
import socket

import pytest

from blufio.errors import PluginError
from blufio.model import text_blocks
from blufio.service import Service
from tests.fakes.anthropic_server import FakeResponse, Stall, message_events
from tests.fakes.config import make_config
from tests.fakes.scripted_server import wait_for


def serve_config(tmp_path, fake_anthropic, port=0):
    return make_config(tmp_path, f"""
[anthropic]
api_key = "sk-ant-test"
base_url = "{fake_anthropic.base_url}"
max_retries = 0

[agent]
drain_timeout = 0.1

[gateway]
port = {port}
bearer_token = "t"

[plugins]
telegram = false
""")


def other_tasks():
    return asyncio.all_tasks() - {asyncio.current_task()}


async def test_stop_ends_every_task_even_a_resumed_turn_still_running(tmp_path, fake_anthropic):
    config = serve_config(tmp_path, fake_anthropic)
    parts = message_events([{"type": "text", "text": "slow"}])
    fake_anthropic.add(FakeResponse(parts=[*parts[:3], Stall(5.0), *parts[3:]], stream=True))
    from blufio.plugins.sqlite.storage import SqliteStorage

    storage = SqliteStorage(config)  # the last run left a message unanswered
    await storage.open()
    session = await storage.create_session("gateway")
    await storage.enqueue(session.id, "gateway", text_blocks("still there?"), claimed=True)
    await storage.shutdown()

    service = Service(config)
    await service.start()
    # the resumed turn is waiting on the stalled upstream
    assert await asyncio.to_thread(wait_for, lambda: fake_anthropic.message_requests)
    assert len(service.tasks) == 1
    await service.stop()
    assert other_tasks() == set()
    await service.stop()  # a second stop does nothing


async def test_a_start_that_fails_part_way_stops_what_had_started(tmp_path, fake_anthropic):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    config = serve_config(tmp_path, fake_anthropic, port=taken.getsockname()[1])
    service = Service(config)
    try:
        with pytest.raises(PluginError, match="cannot listen"):
            await service.start()
    finally:
        taken.close()
    assert service.adapters == {} and service.runtime is None
    assert other_tasks() == set()


async def test_a_stop_right_after_start_leaves_no_task_even_the_schedulers(tmp_path,
                                                                           fake_anthropic):
    service = Service(serve_config(tmp_path, fake_anthropic))
    await service.start()
    await service.stop()  # before the resume step has started the scheduler's loop
    await asyncio.sleep(0.05)
    assert other_tasks() == set()
