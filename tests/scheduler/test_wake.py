"""Another process wakes a running serve's scheduler through the database's wake socket."""

import asyncio
import subprocess
import sys

from blufio.scheduler.wake import listen, poke
from tests.conftest import REPO_ROOT


async def test_a_poke_from_another_process_reaches_the_listener(tmp_path):
    database = str(tmp_path / "blufio.db")
    woken = asyncio.Event()
    transport = await listen(database, woken.set)
    try:
        script = f"from blufio.scheduler.wake import poke; print(poke({database!r}))"
        result = await asyncio.to_thread(
            subprocess.run, [sys.executable, "-c", script], cwd=REPO_ROOT,
            capture_output=True, text=True, timeout=60)
        assert result.stdout.strip() == "True", result.stderr
        await asyncio.wait_for(woken.wait(), 10)
        assert await listen(database, woken.set) is None  # one listener per database
    finally:
        transport.close()


async def test_without_a_listener_a_poke_says_so(tmp_path):
    assert poke(str(tmp_path / "blufio.db")) is False
    other = await listen(str(tmp_path / "other.db"), lambda: None)
    try:
        assert poke(str(tmp_path / "blufio.db")) is False
    finally:
        other.close()
