"""Schedules from the built archive, as a new user would use them: ``schedule add`` beside a
running ``serve``, a reminder the model makes through the gateway, a ``kill -9`` while a run
is being answered, and a spend cap. Runs are started with ``schedule run`` (what a due time
does), so no test waits for a clock.
"""

import json
import subprocess
import time

import httpx
import pytest

from tests.archives import PYTHON
from tests.fakes.anthropic_server import FakeAnthropic, stalled, text_reply, tool_use_reply
from tests.served import Served
from tests.test_archive_serve import TOKEN, archive_env

pytestmark = pytest.mark.slow  # every test here runs a built archive


class Archive:
    """The default archive's commands and its ``serve``, over one data directory."""

    def __init__(self, path, env):
        self.path, self.env = path, env

    def __call__(self, *args):
        result = subprocess.run([PYTHON, "-I", self.path, *args], env=self.env,
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def serve(self):
        return Served(self.env, [PYTHON, "-I", self.path])

    def listed(self):
        return {s["id"]: s for s in json.loads(self("schedule", "list", "--json"))}


def a_session(url, text="hello"):
    response = httpx.post(f"{url}/v1/messages", headers={"x-api-key": TOKEN}, json={
        "model": "m", "max_tokens": 50, "messages": [{"role": "user", "content": text}]})
    assert response.status_code == 200, response.text
    return response.headers["x-blufio-session"]


def messages_once(url, session_id, count, timeout=20.0):
    """The session's (role, text) pairs once it has ``count`` messages."""
    deadline = time.monotonic() + timeout
    while True:
        body = httpx.get(f"{url}/v1/sessions/{session_id}", headers={"x-api-key": TOKEN}).json()
        texts = [(m["role"], "".join(b.get("text", "") for b in m["content"]))
                 for m in body["messages"]]
        if len(texts) >= count or time.monotonic() > deadline:
            return texts
        time.sleep(0.05)


def test_schedules_from_the_archive(archives):
    with FakeAnthropic() as fake:
        blufio = Archive(archives["default"], archive_env(
            ANTHROPIC_BASE_URL=fake.base_url, ANTHROPIC_API_KEY="sk-ant-archive",
            BLUFIO_PLUGINS__TELEGRAM="false"))
        served = blufio.serve()
        try:
            session_id = a_session(served.url)
            # schedule add beside a running serve; `schedule run` makes it due now
            schedule_id = blufio("schedule", "add", "--in", "1h", "say tick", "--to",
                                 f"session:{session_id}").strip()
            blufio("schedule", "run", schedule_id)
            assert messages_once(served.url, session_id, 4)[2:] == [
                ("user", "say tick"), ("assistant", "echo: say tick")]
            assert blufio.listed()[schedule_id]["last_outcome"] == "ok"

            # a reminder asked for through the gateway, made by the model's tool call
            fake.add(tool_use_reply("schedule_create", {"prompt": "Call Anna.", "in": "2h"}),
                     text_reply("I will remind you."))
            asked = a_session(served.url, "remind me in 2 hours to call Anna")
            [reminder] = [s for s in blufio.listed().values() if s["prompt"] == "Call Anna."]
            assert reminder["target"] == f"session:{asked}"
            blufio("schedule", "run", reminder["id"])
            assert messages_once(served.url, asked, 6)[-2:] == [
                ("user", "Call Anna."), ("assistant", "echo: Call Anna.")]

            # a cap of $0.0001 a run: paused after the first run, with a notice
            capped = blufio("schedule", "add", "0 9 * * *", "tock", "--to",
                            f"session:{session_id}", "--max-usd", "0.0001").strip()
            blufio("schedule", "run", capped)
            notice = messages_once(served.url, session_id, 7)[-1]
            assert notice[0] == "assistant" and f"Schedule {capped}" in notice[1]
            assert f"schedule resume {capped}" in notice[1]
            assert blufio.listed()[capped]["status"] == "paused"

            # kill -9 while a run is being answered; the restarted serve answers it once
            fake.add(stalled("Thin"))
            crash = blufio("schedule", "add", "--in", "3h", "survive", "--to",
                           f"session:{session_id}").strip()
            before = len(fake.message_requests)
            blufio("schedule", "run", crash)
            deadline = time.monotonic() + 20
            while len(fake.message_requests) == before and time.monotonic() < deadline:
                time.sleep(0.05)
            served.process.kill()
            served.process.wait()
            served = blufio.serve()
            texts = messages_once(served.url, session_id, 9)
            assert texts[-2:] == [("user", "survive"), ("assistant", "echo: survive")]
            assert [t for t in texts if t == ("user", "survive")] == [("user", "survive")]
            assert blufio.listed()[crash]["last_outcome"] == "ok"
        finally:
            code = served.stop()
    assert code == 0
