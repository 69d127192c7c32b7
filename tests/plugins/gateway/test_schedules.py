"""``/v1/schedules`` on a running serve, and reminders the model makes with its tools."""

import json
import time

import httpx
import pytest
from websockets.sync.client import connect

from blufio.model import text_of
from tests.fakes.anthropic_server import text_reply, tool_use_reply

from .conftest import TOKEN


def a_session(gateway):
    response = httpx.post(f"{gateway.url}/v1/messages", headers=gateway.auth(), json={
        "model": "m", "max_tokens": 50, "messages": [{"role": "user", "content": "hello"}]})
    assert response.status_code == 200, response.text
    return response.headers["x-blufio-session"]


def schedules(gateway):
    response = httpx.get(f"{gateway.url}/v1/schedules", headers=gateway.auth())
    assert response.status_code == 200
    return response.json()["data"]


def wait_for_messages(gateway, session_id, count, timeout=20.0):
    """The session's messages once it has ``count`` (it is the running scheduler that
    answers, on the gateway's own clock)."""
    deadline = time.monotonic() + timeout
    while True:
        body = httpx.get(f"{gateway.url}/v1/sessions/{session_id}",
                         headers=gateway.auth()).json()
        if len(body["messages"]) >= count or time.monotonic() > deadline:
            return [(m["role"], text_of(m["content"])) for m in body["messages"]]
        time.sleep(0.05)


def test_a_schedule_is_created_listed_shown_and_deleted(gateway):
    session_id = a_session(gateway)
    response = httpx.post(f"{gateway.url}/v1/schedules", headers=gateway.auth(), json={
        "prompt": "summarise my inbox", "target": f"session:{session_id}", "cron": "0 8 * * *",
        "timezone": "Europe/Paris", "max_run_usd": 0.5})
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["kind"] == "cron" and created["timezone"] == "Europe/Paris"
    assert created["status"] == "active" and created["next_run_at"].endswith("Z")
    assert [s["id"] for s in schedules(gateway)] == [created["id"]]

    shown = httpx.get(f"{gateway.url}/v1/schedules/{created['id']}", headers=gateway.auth())
    assert shown.json()["runs"] == [] and shown.json()["max_run_usd"] == 0.5
    deleted = httpx.delete(f"{gateway.url}/v1/schedules/{created['id']}", headers=gateway.auth())
    assert deleted.json() == {"id": created["id"], "type": "schedule_deleted", "deleted": True}
    assert schedules(gateway) == []
    gone = httpx.delete(f"{gateway.url}/v1/schedules/{created['id']}", headers=gateway.auth())
    assert gone.status_code == 404 and gone.json()["error"]["type"] == "not_found_error"


@pytest.mark.parametrize("body, words", [
    ({"cron": "0 25 * * *"}, "cron: '0 25 * * *' is not a valid cron expression"),
    ({"at": "2020-01-01T09:00"}, "at: 2020-01-01T09:00 is in the past"),
    ({"in": "5m", "timezone": "Nowhere/Atlantis"}, "timezone: unknown time zone"),
    ({"in": "5m", "target": "session:nope"}, "target: there is no session 'nope'"),
    ({"in": "5m", "max_run_usd": "cheap"}, "max_run_usd: must be a number"),
    ({"in": "5m", "every": "day"}, "every: not a schedule field"),
    ({}, "when: give exactly one of cron, at or in"),
])
def test_bad_input_is_a_400_naming_the_field_and_stores_nothing(gateway, body, words):
    session_id = a_session(gateway)
    body = {"prompt": "hi", "target": f"session:{session_id}", **body}
    response = httpx.post(f"{gateway.url}/v1/schedules", headers=gateway.auth(), json=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["message"].startswith(words)
    assert schedules(gateway) == []


def test_schedules_need_the_token(gateway):
    assert httpx.get(f"{gateway.url}/v1/schedules").status_code == 401
    assert httpx.post(f"{gateway.url}/v1/schedules", json={}).status_code == 401


def test_a_reminder_asked_for_in_a_conversation_fires_to_that_session(gateway, fake_anthropic):
    session_id = a_session(gateway)
    fake_anthropic.add(tool_use_reply("schedule_create", {
        "prompt": "Remind the user to call Anna.", "in": "2h"}), text_reply("I will."))
    response = httpx.post(f"{gateway.url}/v1/messages", headers={
        **gateway.auth(), "x-blufio-session": session_id}, json={
        "model": "m", "max_tokens": 50,
        "messages": [{"role": "user", "content": "remind me in 2 hours to call Anna"}]})
    assert response.status_code == 200, response.text
    [reminder] = schedules(gateway)
    assert reminder["target"] == f"session:{session_id}" and reminder["kind"] == "once"
    assert reminder["prompt"] == "Remind the user to call Anna."

    gateway.call(gateway.service.runtime.schedules.run_now(reminder["id"]))
    messages = wait_for_messages(gateway, session_id, 8)
    assert messages[-2:] == [("user", "Remind the user to call Anna."),
                             ("assistant", "echo: Remind the user to call Anna.")]
    [shown] = schedules(gateway)
    assert shown["last_outcome"] == "ok" and shown["run_count"] == 1


def test_a_tool_call_with_bad_arguments_gets_an_error_the_model_can_correct(gateway,
                                                                            fake_anthropic):
    fake_anthropic.add(tool_use_reply("schedule_create", {"prompt": "x", "cron": "every day"}),
                       text_reply("Let me fix that."))
    a_session(gateway)
    [result] = fake_anthropic.message_requests[-1].json["messages"][-1]["content"]
    assert result["type"] == "tool_result" and result["is_error"] is True
    assert result["content"].startswith("cron: 'every day' has 2 fields")
    assert schedules(gateway) == []


def ws_frames(socket, until):
    """Frames read until one of type ``until``."""
    frames = []
    while not frames or frames[-1]["type"] != until:
        frames.append(json.loads(socket.recv(timeout=10)))
    return frames


def test_ws_clients_of_a_session_see_its_scheduled_run_live(gateway):
    url = gateway.url.replace("http://", "ws://") + f"/ws?token={TOKEN}"
    with connect(url) as talker, connect(url) as watcher:
        talker.send(json.dumps({"type": "message", "content": "hello", "id": "q1"}))
        session_id = ws_frames(talker, "message")[0]["session_id"]
        watcher.send(json.dumps({"type": "watch", "session_id": session_id, "id": "w"}))
        assert ws_frames(watcher, "watching") == [
            {"type": "watching", "session_id": session_id, "id": "w"}]

        schedule = gateway.call(gateway.service.runtime.schedules.create(
            prompt="say tick", target=f"session:{session_id}", within="1h"))
        gateway.call(gateway.service.runtime.schedules.run_now(schedule.id))
        for socket in (talker, watcher):
            frames = ws_frames(socket, "message")
            assert [f["type"] for f in frames][0] == "typing"
            assert frames[-1]["content"] == [{"type": "text", "text": "echo: say tick"}]
            assert {(f["origin"], f["session_id"]) for f in frames} == {
                ("schedule", session_id)}
            assert not any("id" in f for f in frames)


def test_watching_an_unknown_session_is_an_error_frame(gateway):
    url = gateway.url.replace("http://", "ws://") + f"/ws?token={TOKEN}"
    with connect(url) as socket:
        socket.send(json.dumps({"type": "watch", "session_id": "nope", "id": 1}))
        frame = json.loads(socket.recv(timeout=10))
        assert frame["type"] == "error" and frame["error"]["type"] == "not_found_error"


async def test_runs_due_at_start_are_caught_up_once_beside_resumed_ones(gateway_env, config,
                                                                     fake_anthropic):
    import asyncio

    from blufio.model import Schedule
    from blufio.plugins.sqlite.storage import SqliteStorage
    from tests.plugins.gateway.conftest import RunningGateway

    storage = SqliteStorage(config)  # what a stopped Blufio left: ten runs due, one queued
    await storage.open()
    session = await storage.create_session("gateway")
    for i in range(10):
        await storage.create_schedule(Schedule(
            "", f"missed {i}", f"session:{session.id}", "2026-01-01T09:00:00.000000Z",
            cron="0 9 * * *"))
    left = await storage.create_schedule(Schedule("", "left", f"session:{session.id}",
                                                  "2026-01-01T09:00:00.000000Z"))
    await storage.start_schedule_run(
        left.id, due_at=left.next_run_at, outcome="running", next_run_at=None, status="done",
        expected_next=left.next_run_at, inbound={
            "session_id": session.id, "channel": "schedule",
            "content": [{"type": "text", "text": "left"}],
            "reply_to": {"target": f"session:{session.id}"}})
    await storage.shutdown()

    running = await asyncio.to_thread(RunningGateway().start)
    try:
        texts = await asyncio.to_thread(wait_for_messages, running, session.id, 22)
    finally:
        await asyncio.to_thread(running.stop)
    prompts = sorted(t for role, t in texts if role == "user")
    assert prompts == sorted(["left", *(f"missed {i}" for i in range(10))])
    assert len(texts) == 22 and len(fake_anthropic.message_requests) == 11
