"""The schedule tools answer where they were asked: a chat, a session, a scheduled run."""

import json

from blufio.agent.tools import CURRENT_INBOUND, ToolRegistry
from blufio.model import Inbound
from blufio.scheduler import tools as schedule_tools
from blufio.scheduler.tools import default_target


def inbound(channel, session_id="s1", **reply_to):
    return Inbound(1, session_id, channel, [], "processing", "", reply_to)


def test_the_default_target_is_where_the_request_came_from():
    assert default_target(inbound("telegram", chat_id=42, message_id=7)) == "telegram:42"
    assert default_target(inbound("gateway")) == "session:s1"
    assert default_target(inbound("shell", session_id="abc")) == "session:abc"
    assert default_target(inbound("schedule", target="telegram:9", run_id=1)) == "telegram:9"
    assert default_target(None) is None


async def test_a_shell_reminder_targets_the_shells_session_and_is_listed_and_cancelled(
        harness):
    session = await harness.session("shell")
    registry = ToolRegistry(allowed=("schedules",))
    schedule_tools.register(registry, harness.book)
    CURRENT_INBOUND.set(inbound("shell", session_id=session.id))

    made = await registry.call("schedule_create", {"prompt": "stretch", "in": "1h"})
    assert not made.is_error
    created = json.loads(made.content)
    assert created["target"] == f"session:{session.id}" and created["next_run_local"]
    listed = json.loads((await registry.call("schedule_list", {})).content)
    assert [s["id"] for s in listed] == [created["id"]]
    cancelled = await registry.call("schedule_cancel", {"id": created["id"]})
    assert json.loads(cancelled.content)["cancelled"] == created["id"]
    assert await harness.storage.list_schedules() == []

    wrong = await registry.call("schedule_cancel", {"id": created["id"]})
    assert wrong.is_error and "there is no schedule" in wrong.content
    bad = await registry.call("schedule_create", {"prompt": "x", "at": "yesterday"})
    assert bad.is_error and bad.content.startswith("at: 'yesterday' is not a date and time")
