"""The tool registry and the built-in tools: confinement, capabilities, refusals."""

import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from blufio.agent.tools import Tool, ToolRegistry, default_registry
from blufio.agent.tools.builtin import Fetcher, Workspace, refusal_reason
from blufio.errors import ToolError
from tests.fakes.config import make_config


def registry_for(tmp_path, tools_toml=""):
    config = make_config(tmp_path, f'[tools]\nworkspace = "{tmp_path / "ws"}"\n{tools_toml}')
    return default_registry(config)


def names(registry):
    return [d["name"] for d in registry.definitions()]


def test_network_and_shell_tools_are_off_by_default(tmp_path):
    registry = registry_for(tmp_path)
    assert names(registry) == ["current_time", "read_file", "write_file", "list_files"]
    for definition in registry.definitions():
        assert definition["input_schema"]["type"] == "object" and definition["description"]


def test_tools_section_enables_network_and_shell(tmp_path):
    registry = registry_for(tmp_path, "http_fetch = true\nshell = true\n")
    assert "http_fetch" in names(registry) and "shell" in names(registry)


async def test_disabled_tool_call_is_an_error_result(tmp_path):
    outcome = await registry_for(tmp_path).call("shell", {"command": "echo hi"})
    assert outcome.is_error and "disabled" in outcome.content and "[tools]" in outcome.content


async def test_unknown_tool_and_bad_input_are_error_results(tmp_path):
    registry = registry_for(tmp_path)
    assert (await registry.call("nope", {})).is_error
    assert (await registry.call("read_file", "not a dict")).is_error


async def test_a_crashing_tool_becomes_an_error_result():
    async def boom(arguments):
        raise RuntimeError("kaput")

    registry = ToolRegistry({"x"})
    registry.register(Tool("boom", "d", {"type": "object"}, "x", boom))
    outcome = await registry.call("boom", {})
    assert outcome.is_error and "kaput" in outcome.content


async def test_a_slow_tool_times_out():
    import asyncio

    async def slow(arguments):
        await asyncio.sleep(10)

    registry = ToolRegistry({"x"})
    registry.register(Tool("slow", "d", {"type": "object"}, "x", slow, timeout=0.05))
    outcome = await registry.call("slow", {})
    assert outcome.is_error and "longer than" in outcome.content


async def test_current_time(tmp_path):
    outcome = await registry_for(tmp_path).call("current_time", {"timezone": "UTC"})
    assert not outcome.is_error and outcome.content.startswith("UTC: 20")
    assert (await registry_for(tmp_path).call("current_time", {"timezone": "Mars/Base"})).is_error


async def test_files_round_trip_inside_the_workspace(tmp_path):
    registry = registry_for(tmp_path)
    wrote = await registry.call("write_file", {"path": "notes/a.txt", "content": "héllo"})
    assert not wrote.is_error
    await registry.call("write_file", {"path": "notes/a.txt", "content": "!", "append": True})
    assert (await registry.call("read_file", {"path": "notes/a.txt"})).content == "héllo!"
    assert "a.txt" in (await registry.call("list_files", {"path": "notes"})).content
    assert (tmp_path / "ws" / "notes" / "a.txt").read_text(encoding="utf-8") == "héllo!"


async def test_what_the_agent_writes_is_private_0600_files_in_0700_folders(tmp_path):
    registry = registry_for(tmp_path, "shell = true\n")
    await registry.call("write_file", {"path": "deep/er/a.txt", "content": "x"})
    await registry.call("shell", {"command": "echo y > b.txt && mkdir made"})
    ws = tmp_path / "ws"
    for folder in (ws, ws / "deep", ws / "deep" / "er", ws / "made"):
        assert folder.stat().st_mode & 0o777 == 0o700, folder
    for file in (ws / "deep" / "er" / "a.txt", ws / "b.txt"):
        assert file.stat().st_mode & 0o777 == 0o600, file


@pytest.mark.parametrize("path", ["../outside.txt", "/etc/passwd", "notes/../../x", "~/.bashrc"])
async def test_paths_outside_the_workspace_are_refused(tmp_path, path):
    registry = registry_for(tmp_path)
    for name, args in (("read_file", {"path": path}),
                       ("write_file", {"path": path, "content": "x"})):
        outcome = await registry.call(name, args)
        assert outcome.is_error and "outside the workspace" in outcome.content
    assert not (tmp_path / "outside.txt").exists()


async def test_symlinks_cannot_escape_the_workspace(tmp_path):
    workspace = Workspace(str(tmp_path / "ws"))
    workspace.resolve(".")
    (tmp_path / "secret.txt").write_text("s")
    os.symlink(tmp_path / "secret.txt", tmp_path / "ws" / "link.txt")
    with pytest.raises(ToolError, match="outside the workspace"):
        await workspace.read({"path": "link.txt"})


@pytest.mark.parametrize("address,refused", [
    ("127.0.0.1", True), ("10.1.2.3", True), ("192.168.0.1", True), ("172.16.5.4", True),
    ("169.254.169.254", True), ("::1", True), ("fe80::1", True), ("fd00::1", True),
    ("::ffff:127.0.0.1", True), ("0.0.0.0", True), ("100.64.0.1", True),
    ("93.184.216.34", False), ("2606:2800:220:1:248:1893:25c8:1946", False)])
def test_refusal_reasons(address, refused):
    assert (refusal_reason(address) is not None) == refused


async def test_fetch_refuses_loopback(tmp_path):
    outcome = await registry_for(tmp_path, "http_fetch = true\n").call(
        "http_fetch", {"url": "http://127.0.0.1:9/"})
    assert outcome.is_error and "loopback" in outcome.content


async def test_fetch_refuses_localhost_by_name(tmp_path):
    outcome = await registry_for(tmp_path, "http_fetch = true\n").call(
        "http_fetch", {"url": "http://localhost/"})
    assert outcome.is_error and "refused" in outcome.content


async def test_fetch_checks_every_resolved_address():
    fetcher = Fetcher()

    async def two_answers(host, port):
        return ["93.184.216.34", "10.0.0.7"]

    fetcher.resolve = two_answers
    with pytest.raises(ToolError, match="10.0.0.7, a private address"):
        await fetcher.fetch({"url": "https://example.test/"})


async def test_fetch_refuses_other_schemes():
    with pytest.raises(ToolError, match="only http and https"):
        await Fetcher().fetch({"url": "file:///etc/passwd"})


@pytest.fixture
def web_server():
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            if self.path == "/redirect":
                self.send_response(302)
                self.send_header("location", "/page")
                self.send_header("content-length", "0")
                self.end_headers()
                return
            body = b"<html><script>x()</script><p>Hello &amp; welcome</p></html>"
            self.send_response(200)
            self.send_header("content-type", "text/html; charset=utf-8")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


async def test_fetch_with_private_addresses_allowed_follows_redirects(tmp_path, web_server):
    registry = registry_for(tmp_path, "http_fetch = true\nallow_private_addresses = true\n")
    outcome = await registry.call("http_fetch", {"url": web_server + "/redirect"})
    assert not outcome.is_error, outcome.content
    assert "Hello & welcome" in outcome.content and "x()" not in outcome.content


async def test_shell_runs_in_the_workspace_with_a_time_limit(tmp_path):
    registry = registry_for(tmp_path, "shell = true\nshell_timeout = 0.5\n")
    outcome = await registry.call("shell", {"command": "pwd; echo out"})
    assert not outcome.is_error
    assert outcome.content.startswith("exit code 0") and "ws" in outcome.content
    slow = await registry.call("shell", {"command": "sleep 5"})
    assert slow.is_error and "killed" in slow.content
