"""Memory from the built archive, as a new user meets it (the acceptance of issue 12).

A fact told in one ``shell`` session is in the next session's upstream request, with no
embedding server; ``memory search`` finds it and ``memory forget`` makes Blufio forget it;
a session far over its history budget keeps every message and is sent with a summary; and
with a (fake) embedding server, a paraphrase that shares no word is recalled, through
sqlite-vec where the interpreter can load it.
"""

import asyncio
import json
import os
import shutil
import sqlite3
import subprocess

import httpx
import pytest

from blufio.agent.compaction import INSTRUCTIONS, SUMMARY_HEADER
from tests.archives import HOST, PYTHON
from tests.fakes.anthropic_server import FakeAnthropic, text_reply, tool_use_reply, wait_for
from tests.fakes.embeddings_server import FakeEmbeddings
from tests.served import Served

pytestmark = pytest.mark.slow  # every test here runs a built archive
TOKEN = "memory-archive-token"


def archive_env(fake, **extra):
    env = {name: os.environ[name] for name in ("PATH", "HOME", "BLUFIO_DATA_DIR",
                                               "XDG_CONFIG_HOME", "XDG_DATA_HOME")}
    env.update(ANTHROPIC_BASE_URL=fake.base_url, ANTHROPIC_API_KEY="sk-ant-archive",
               BLUFIO_GATEWAY__PORT="0", BLUFIO_GATEWAY__BEARER_TOKEN=TOKEN,
               BLUFIO_PLUGINS__TELEGRAM="false", **extra)
    return env


def blufio(archive, *args, env, input=None, python=PYTHON):
    result = subprocess.run([python, "-I", archive, *args], env=env, input=input,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def recalled(request):
    return "\n".join(b["text"] for b in request.json.get("system", [])[1:])


def test_a_fact_is_remembered_across_sessions_found_and_forgotten(archives):
    archive = archives["default"]
    with FakeAnthropic() as fake:
        env = archive_env(fake)
        fake.add(tool_use_reply("memory_save", {"text": "The user's locker code is 4471"}),
                 text_reply("I'll remember that."))
        blufio(archive, "shell", input="remember that my locker code is 4471\n", env=env)
        blufio(archive, "shell", input="what is my locker code?\n", env=env)
        assert "The user's locker code is 4471" in recalled(fake.message_requests[-1])

        hits = json.loads(blufio(archive, "memory", "search", "locker", "--json", env=env))
        assert {h["id"] for h in hits} >= {"mem_1"}
        assert "saved memory] The user's locker code is 4471" in \
            blufio(archive, "memory", "search", "locker", env=env)
        for hit in hits:
            blufio(archive, "memory", "forget", hit["id"], env=env)
        blufio(archive, "shell", input="what is my locker code?\n", env=env)
        assert "4471" not in recalled(fake.message_requests[-1])


async def test_a_long_session_keeps_every_message_and_is_sent_with_a_summary(archives):
    with FakeAnthropic() as fake:
        served = await asyncio.to_thread(Served, archive_env(
            fake, BLUFIO_AGENT__MAX_HISTORY_MESSAGES="6"), [PYTHON, "-I", archives["default"]])
        try:
            headers = {"x-api-key": TOKEN}
            async with httpx.AsyncClient(timeout=30) as client:
                session = None
                for n in range(15):
                    reply = await client.post(f"{served.url}/v1/messages", headers={
                        **headers, **({"x-blufio-session": session} if session else {})},
                        json={"model": "m", "max_tokens": 50,
                              "messages": [{"role": "user", "content": f"fact number {n}"}]})
                    assert reply.status_code == 200, reply.text
                    session = reply.headers["x-blufio-session"]
                stored = (await client.get(f"{served.url}/v1/sessions/{session}",
                                           headers=headers)).json()
            assert len(stored["messages"]) == 30
            turns = [r for r in fake.message_requests
                     if r.json["system"][0]["text"] != INSTRUCTIONS]
            last = turns[-1].json
            assert len(last["messages"]) <= 6 + 1
            assert any(b["text"].startswith(SUMMARY_HEADER) for b in last["system"])
        finally:
            assert await asyncio.to_thread(served.stop) == 0


def _extension_python():
    """A CPython of the archive's version whose sqlite3 can load extensions, if any."""
    for candidate in (shutil.which(f"python{HOST}"), f"/usr/bin/python{HOST}"):
        if candidate and os.access(candidate, os.X_OK):
            probe = subprocess.run([candidate, "-I", "-c", "import sqlite3; "
                                    "sqlite3.connect(':memory:').enable_load_extension(True)"],
                                   capture_output=True)
            if probe.returncode == 0:
                return candidate
    return None


@pytest.mark.parametrize("python", ["archive's", "extension-loading"])
async def test_with_an_embedding_server_a_paraphrase_is_recalled(archives, python):
    interpreter = PYTHON if python == "archive's" else _extension_python()
    if interpreter is None:
        pytest.skip(f"no python{HOST} here can load SQLite extensions")
    with FakeAnthropic() as fake, FakeEmbeddings(dimensions=64) as embeddings:
        served = await asyncio.to_thread(Served, archive_env(
            fake, BLUFIO_EMBEDDINGS__BASE_URL=embeddings.base_url,
            BLUFIO_EMBEDDINGS__MODEL="fake-embed"), [interpreter, "-I", archives["default"]])
        try:
            headers = {"x-api-key": TOKEN}
            async with httpx.AsyncClient(timeout=30) as client:
                health = (await client.get(f"{served.url}/v1/health", headers=headers)).json()
                backend = "sqlite-vec" if python != "archive's" else "python"
                assert health["plugins"]["sqlite"]["detail"].endswith(f"vectors: {backend}")
                assert health["plugins"]["embeddings"]["status"] == "ok"
                await client.post(f"{served.url}/v1/messages", headers=headers, json={
                    "model": "m", "max_tokens": 50,
                    "messages": [{"role": "user", "content": "my locker code is 4471"}]})
                database = os.path.join(os.environ["BLUFIO_DATA_DIR"], "blufio.db")

                def embedded():
                    with sqlite3.connect(database) as conn:
                        return conn.execute("SELECT count(*) FROM memory_vectors WHERE "
                                            "length(vector) > 0").fetchone()[0] >= 2

                assert await asyncio.to_thread(wait_for, embedded, 20)
                await client.post(f"{served.url}/v1/messages", headers=headers, json={
                    "model": "m", "max_tokens": 50, "messages": [{
                        "role": "user",
                        "content": "which combination opens the cabinet at the fitness place?"}]})
            assert "my locker code is 4471" in recalled(fake.message_requests[-1])
        finally:
            assert await asyncio.to_thread(served.stop) == 0
