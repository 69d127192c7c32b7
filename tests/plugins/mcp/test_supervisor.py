"""Keeping servers running: a minimal environment, a process group of their own, parallel
starts, retries with backoff, restarts after a crash, and nothing left behind."""

import asyncio
import os
import signal

import pytest

from blufio.plugins.mcp.supervisor import DISABLED, DOWN, READY, STARTING, McpServer, ServerSet
from tests.plugins.mcp.conftest import alive, fastmcp_stdio, rogue, wait_for

pytestmark = pytest.mark.slow  # each test starts real MCP servers (seconds)


@pytest.fixture
async def files():
    server = McpServer(fastmcp_stdio(env={"NOTES": "/srv/notes"}), backoff=(0.05, 0.2))
    await server.ready()
    yield server
    await server.aclose()


async def text(server, tool, **arguments):
    return (await server.call(tool, arguments))["content"][0]["text"]


async def test_a_child_sees_only_path_home_lang_and_its_own_env(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-never-passed")
    monkeypatch.setenv("BLUFIO_GATEWAY__BEARER_TOKEN", "never-passed")
    server = McpServer(fastmcp_stdio(env={"NOTES": "/srv/notes"}))
    try:
        await server.ready()
        assert await text(server, "getenv", name="ANTHROPIC_API_KEY") == "(unset)"
        assert await text(server, "getenv", name="BLUFIO_GATEWAY__BEARER_TOKEN") == "(unset)"
        assert await text(server, "getenv", name="HOME") == os.environ["HOME"]
        assert await text(server, "getenv", name="PATH") == os.environ["PATH"]
        assert await text(server, "getenv", name="NOTES") == "/srv/notes"
    finally:
        await server.aclose()


async def test_a_child_runs_in_its_own_process_group(files):
    pid = int(await text(files, "pid"))
    assert pid == files.pid
    assert os.getpgid(pid) == pid != os.getpgid(0)


async def test_a_killed_server_is_down_then_restarted_by_its_next_use(files):
    pid = files.pid
    os.kill(pid, signal.SIGKILL)
    await wait_for(lambda: files.state != READY or files.pid != pid)
    assert await text(files, "echo", text="back") == "back"
    assert files.state == READY and files.pid != pid
    assert not alive(pid)


async def test_a_call_right_after_a_kill_goes_to_the_restarted_server(files):
    pid = files.pid
    os.kill(pid, signal.SIGKILL)
    # Dead, and its pipe closed: a call written while the process was still dying may have
    # run, so it is an error and never sent twice; the call after that restarts the server.
    await wait_for(lambda: not alive(pid) and (files.state != READY or files.pid != pid))
    assert await text(files, "echo", text="again") == "again"
    assert files.pid not in (None, pid)


async def test_a_crashed_server_is_also_restarted_in_the_background(files):
    pid = files.pid
    os.kill(pid, signal.SIGKILL)
    await wait_for(lambda: files.state == READY and files.pid not in (None, pid))


async def test_closing_ends_the_child_and_reaps_it(files):
    pid = files.pid
    await files.aclose()
    assert not alive(pid)
    assert files.state == DOWN and files.error == "MCP server 'files' was stopped"
    await files.aclose()  # twice is fine


async def test_a_child_that_ignores_sigterm_is_killed_after_the_grace_period():
    server = McpServer(rogue("stubborn"), grace=0.3)
    await server.ready()
    pid = server.pid
    await server.aclose()
    assert not alive(pid)


async def test_grandchildren_in_the_server_s_group_are_ended_too(tmp_path):
    logfile = tmp_path / "log.jsonl"
    server = McpServer(rogue("grandchild", logfile), grace=0.5)
    await server.ready()
    grandchild = int(logfile.read_text().splitlines()[0].split(": ")[1].rstrip("}"))
    assert alive(grandchild)
    await server.aclose()
    await wait_for(lambda: not alive(grandchild), 5)


async def test_a_failed_start_is_retried_with_backoff_until_it_works(tmp_path):
    workdir = tmp_path / "not-yet"
    server = McpServer(fastmcp_stdio(cwd=str(workdir)), backoff=(0.05, 0.1))
    try:
        await asyncio.shield(server.start())
        assert server.state == DOWN
        assert server.error == f"MCP server 'files': its cwd {workdir} does not exist"
        workdir.mkdir()
        await wait_for(lambda: server.state == READY)
    finally:
        await server.aclose()


async def test_servers_start_in_parallel_in_the_background_and_health_tracks_them():
    servers = ServerSet({"files": fastmcp_stdio(), "broken": rogue("exit", name="broken"),
                         "off": fastmcp_stdio(name="off", enabled=False)}, backoff=(30.0, 30.0))
    try:
        servers.start_all()
        assert servers.get("files").state == STARTING and servers.get("off").state == DISABLED
        assert servers.health() == {"status": "ok", "detail": "0 of 2 MCP servers ready; "
                                    "starting: files, broken"}
        await servers.wait_started()
        assert servers.get("files").state == READY
        assert servers.health() == {"status": "degraded", "detail": (
            "1 of 2 MCP servers ready; down: MCP server 'broken' exited with code 3 (its last "
            "words: boom: this server cannot start)")}
    finally:
        await servers.aclose()
    assert servers.get("files").pid is None


async def test_an_unknown_server_name_suggests_the_closest():
    servers = ServerSet({"files": fastmcp_stdio()})
    with pytest.raises(Exception, match="no MCP server is called 'file' \\(did you mean 'files'"):
        servers.get("file")
