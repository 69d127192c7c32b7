"""Fixtures for the mcp plugin's tests: real MCP servers (FastMCP over stdio and HTTP) and
small misbehaving ones, as settings the plugin starts itself."""

import asyncio
import json
import os
import subprocess
import sys

import pytest

from blufio.plugins.mcp.settings import ServerSettings

SERVERS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "servers")
FASTMCP = os.path.join(SERVERS, "fastmcp_server.py")
ROGUE = os.path.join(SERVERS, "rogue_server.py")


def fastmcp_stdio(name="files", **options):
    """Settings for the FastMCP test server as a stdio child."""
    return ServerSettings(name=name, command=sys.executable, args=[FASTMCP, "stdio"], **options)


def rogue(mode, logfile=None, name="rogue", **options):
    """Settings for the misbehaving server in ``mode`` (see ``servers/rogue_server.py``)."""
    args = [ROGUE, mode] + ([str(logfile)] if logfile else [])
    return ServerSettings(name=name, command=sys.executable, args=args, **options)


class HttpServer:
    """The FastMCP test server over Streamable HTTP, in a process of its own."""

    def __init__(self, *flags, port=0):
        self.flags = flags
        self.process = subprocess.Popen([sys.executable, FASTMCP, "http", *flags,
                                         "--port", str(port)], stdout=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()
        if not line.startswith("PORT "):
            self.stop()
            raise RuntimeError(f"the FastMCP HTTP server did not start: {line!r}")
        self.port = int(line.split()[1])
        self.url = f"http://127.0.0.1:{self.port}/mcp"

    def settings(self, name="web", **options):
        return ServerSettings(name=name, url=self.url, **options)

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def http_server():
    """``http_server(*flags)``: start the FastMCP HTTP server; stopped after the test."""
    started = []

    def start(*flags, port=0):
        server = HttpServer(*flags, port=port)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def claude_desktop_config(directory):
    """A Claude Desktop config in ``directory`` with two servers: ``notes`` (the stdlib test
    server, with a secret and a plain variable) and ``search`` (HTTP, with a token header).
    Returns ``(path, the secret values)``."""
    path = directory / "claude_desktop_config.json"
    path.write_text(json.dumps({"mcpServers": {
        "notes": {"command": sys.executable, "args": [ROGUE, "ok"],
                  "env": {"NOTES_API_KEY": "s3cr3t-value", "LEVEL": "info"}},
        "search": {"url": "https://search.example.com/mcp",
                   "headers": {"Authorization": "Bearer t0ken"}}}}))
    return str(path), ("s3cr3t-value", "Bearer t0ken")


async def wait_for(condition, seconds=20.0):
    """Wait until ``condition()`` holds; AssertionError if it never does."""
    for _ in range(int(seconds / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the condition never held")


def alive(pid):
    """Whether process ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):  # gone before, or while, it was read
        return False
