"""An archive built with the uvloop extra: ``serve`` runs on the uvloop it carries (its
native code extracted like PyNaCl's), even from an interpreter with no site-packages at all,
and commands that start no loop never load it."""

import asyncio
import subprocess

import httpx
import pytest

from blufio_build.lock import read_lock
from tests.archives import PYTHON
from tests.fakes.anthropic_server import FakeAnthropic
from tests.served import Served
from tests.test_archive_serve import TOKEN, archive_env

pytestmark = pytest.mark.slow  # every test here runs a built archive


async def test_serve_from_a_uvloop_build_says_so_once_and_answers_a_turn(archives):
    pinned = read_lock()["uvloop"][0]
    with FakeAnthropic() as fake:
        env = archive_env(ANTHROPIC_BASE_URL=fake.base_url, ANTHROPIC_API_KEY="sk-ant-uvloop")
        # -S: no site-packages, so the uvloop found can only be the archive's own
        served = await asyncio.to_thread(Served, env, [PYTHON, "-S", archives["api"]])
        try:
            async with httpx.AsyncClient(timeout=30) as client:
                reply = await client.post(f"{served.url}/v1/messages", headers={
                    "x-api-key": TOKEN, "anthropic-version": "2023-06-01"}, json={
                    "model": "m", "max_tokens": 20,
                    "messages": [{"role": "user", "content": "on uvloop"}]})
            assert reply.status_code == 200, reply.text
            assert reply.json()["content"][0]["text"] == "echo: on uvloop"
        finally:
            code = await asyncio.to_thread(served.stop)
    assert code == 0, served.stderr
    assert served.stderr.count("event loop: ") == 1, served.stderr
    assert f"event loop: uvloop {pinned}\n" in served.stderr
    assert "Traceback" not in served.stderr


def test_version_and_plugin_list_of_a_uvloop_build_load_no_uvloop(archives, isolated_env):
    cache = isolated_env / "cache"
    env = {**archive_env(), "XDG_CACHE_HOME": str(cache)}
    for args in (["--version"], ["plugin", "list"]):
        result = subprocess.run([PYTHON, "-S", "-X", "importtime", archives["api"], *args],
                                capture_output=True, text=True, env=env, timeout=60)
        assert result.returncode == 0, result.stderr
        imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()
                    if line.startswith("import time:")}
        assert not {"uvloop", "blufio.eventloop", "asyncio"} & imported, args
        if args == ["--version"]:
            assert "\nextras: uvloop\n" in result.stdout
    assert not (cache / "blufio").exists()  # no native code was even extracted
