"""A real MCP server built with the official SDK's FastMCP, for the tests.

    python fastmcp_server.py stdio
    python fastmcp_server.py http [--json] [--port N]

In ``http`` mode it binds 127.0.0.1 (port 0 unless given), prints ``PORT <n>`` on stdout,
and serves Streamable HTTP at ``/mcp`` (SSE answers, or JSON with ``--json``).
"""

import argparse
import asyncio
import base64
import os
import socket
import sys

from mcp.server.fastmcp import Context, FastMCP, Image
from mcp.types import EmbeddedResource, TextResourceContents

# A 1x1 transparent PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")


def build(**options):
    mcp = FastMCP("blufio-test", instructions="A server for Blufio's tests.", **options)

    @mcp.tool()
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @mcp.tool()
    def echo(text: str) -> str:
        """Return the text unchanged."""
        return text

    @mcp.tool()
    def image() -> Image:
        """A tiny PNG image."""
        return Image(data=PNG, format="png")

    @mcp.tool()
    def document() -> EmbeddedResource:
        """An embedded text resource."""
        return EmbeddedResource(type="resource", resource=TextResourceContents(
            uri="memo://today", mimeType="text/plain", text="buy milk"))

    @mcp.tool()
    def fail(message: str) -> str:
        """Always fails with the message."""
        raise ValueError(message)

    @mcp.tool()
    async def sleep(seconds: float) -> str:
        """Sleep, then say so."""
        await asyncio.sleep(seconds)
        return f"slept {seconds}"

    @mcp.tool()
    def pid() -> int:
        """The server's process id."""
        return os.getpid()

    @mcp.tool()
    def getenv(name: str) -> str:
        """An environment variable of the server, or '(unset)'."""
        return os.environ.get(name, "(unset)")

    gathering = {"here": 0, "event": None}

    @mcp.tool()
    async def meet(party: int) -> str:
        """Wait (up to 10 s) until ``party`` calls of this tool are running at once."""
        if gathering["event"] is None:
            gathering["event"] = asyncio.Event()
        gathering["here"] += 1
        if gathering["here"] >= party:
            gathering["event"].set()
        try:
            await asyncio.wait_for(gathering["event"].wait(), 10)
        except asyncio.TimeoutError:
            return "alone"
        return "met"

    @mcp.tool()
    async def grow(ctx: Context) -> str:
        """Add a tool called 'extra' and tell the client the tool list changed."""
        if "extra" not in [t.name for t in await mcp.list_tools()]:
            mcp.add_tool(lambda: "extra!", name="extra", description="Added at run time.")
        await ctx.session.send_tool_list_changed()
        return "grown"

    return mcp


def serve_http(mcp, port):
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)  # connections wait in the backlog until uvicorn accepts them
    print(f"PORT {sock.getsockname()[1]}", flush=True)
    config = uvicorn.Config(mcp.streamable_http_app(), log_level="warning", lifespan="on")
    uvicorn.Server(config).run(sockets=[sock])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["stdio", "http"])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    if args.mode == "stdio":
        print("fastmcp test server starting", file=sys.stderr, flush=True)
        build().run("stdio")
    else:
        serve_http(build(json_response=args.json), args.port)


if __name__ == "__main__":
    main()
