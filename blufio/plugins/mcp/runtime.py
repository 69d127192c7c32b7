"""``McpSkillRuntime``: every configured MCP server as one skill runtime (the adapter).

Each server's tools are offered to the model as ``<server>__<tool>`` (characters a tool name
may not have become ``_``, and a name that had to change or was too long gets a short hash
of the original, so names stay unique and at most 64 characters). A tool is *available*
when its server is ready and the server's ``allow``/``deny`` lists permit it. The model is
offered the permitted tools of ready servers, and those of a server that went down after
listing them (calling one restarts it), under the ``skills`` capability of the tool
registry.

``run`` never raises: a tool's own error (``isError``), a timeout, a refused or dead server
all become an error result the model can read, and the turn goes on. ``start`` only starts
the servers in the background, so a slow or broken server never delays ``serve``; a turn
that arrives during the servers' first start waits for them a little (``list_skills``).
"""

import asyncio
import hashlib
import logging
import re
from dataclasses import dataclass

from blufio.manifest import identity
from blufio.plugins.mcp.errors import McpError
from blufio.plugins.mcp.results import DEFAULT_MAX_CHARS, render
from blufio.plugins.mcp.settings import from_config
from blufio.plugins.mcp.supervisor import DOWN, READY, STARTING, ServerSet

log = logging.getLogger("blufio.mcp")

FIRST_START_WAIT = 10.0
MAX_NAME = 64
_NOT_IN_NAMES = re.compile(r"[^A-Za-z0-9_-]")
AVAILABLE, DENIED = "available", "denied"


def exposed_name(server, tool):
    """The name the model sees for ``tool`` of ``server`` (see the module docstring)."""
    name = f"{server}__{_NOT_IN_NAMES.sub('_', tool)}"
    if name == f"{server}__{tool}" and len(name) <= MAX_NAME:
        return name
    digest = hashlib.sha256(tool.encode("utf-8")).hexdigest()[:8]
    return f"{name[:MAX_NAME - 9]}_{digest}"


@dataclass
class Skill:
    """One tool of one server, as ``skill list`` shows it."""

    name: str  # the exposed name, <server>__<tool>
    server: str
    tool: str  # the server's own name for it
    description: str
    input_schema: dict
    permitted: bool  # by the server's allow/deny lists
    server_state: str  # ready, starting, down (disabled servers list no tools)

    @property
    def state(self):
        """``available``, ``denied``, or ``server down`` / ``server starting``."""
        if not self.permitted:
            return DENIED
        return AVAILABLE if self.server_state == READY else f"server {self.server_state}"

    @property
    def offered(self):
        """Whether the model is offered it: permitted, and its server ready or to be
        restarted by the call (a crashed server's tools stay known)."""
        return self.permitted and self.server_state in (READY, DOWN)


class McpSkillRuntime:
    """The ``mcp`` plugin's adapter (contract: ``blufio.contracts.SkillRuntime``)."""

    name, version, adapter_type = identity("mcp")

    def __init__(self, config, *, max_result_chars=DEFAULT_MAX_CHARS, backoff=(1.0, 60.0),
                 grace=3.0, **_services):
        # (no observer: tool calls are counted by the agent's tool registry, for every tool)
        settings, self.warnings = from_config(config)
        self.servers = ServerSet(settings, backoff=backoff, grace=grace)
        self.max_result_chars = max_result_chars

    @staticmethod
    def command(args, registry):
        """Carry out a ``blufio skill`` command (``blufio.plugins.mcp.commands``)."""
        from blufio.plugins.mcp.commands import run

        return run(args, registry)

    @classmethod
    def check_config(cls, config):
        """Check ``[mcp.servers.*]`` strictly (ConfigError); return the warnings."""
        return from_config(config)[1]

    async def start(self):
        """Start every enabled server in the background; never waits for one."""
        for warning in self.warnings:
            log.warning("%s", warning)
        self.servers.start_all()

    async def wait_started(self):
        """Wait for the start attempts in flight (commands that report on every server)."""
        await self.servers.wait_started()

    def skills(self):
        """Every known tool of every server with its state, in configuration order."""
        return [Skill(exposed_name(server.name, tool["name"]), server.name, tool["name"],
                      tool.get("description") or "", tool["inputSchema"],
                      server.settings.permits(tool["name"]), server.state)
                for server in self.servers.servers.values() for tool in server.tools]

    async def list_skills(self):
        """The tools the model is offered, as ``{"name", "description", "input_schema"}``
        plus ``source`` and ``tool``. A turn that comes while servers are still in their
        first start waits for them, at most ``FIRST_START_WAIT`` seconds in all, so the
        first message after ``serve`` or ``shell`` starts sees their tools."""
        first = [s.first_attempt for s in self.servers.servers.values()
                 if s.first_attempt is not None and not s.first_attempt.done()]
        if first:
            await asyncio.wait(first, timeout=FIRST_START_WAIT)
        return [{"name": s.name, "description": s.description, "input_schema": s.input_schema,
                 "source": s.server, "tool": s.tool} for s in self.skills() if s.offered]

    def _find(self, name):
        return next((s for s in self.skills() if s.name == name), None)

    async def run(self, name, arguments):
        """Run the tool exposed as ``name``: ``(content blocks, is_error)``; never raises."""
        skill = self._find(name)
        server = self.servers.servers.get(name.partition("__")[0])
        if skill is None and server is not None and server.state in (STARTING, DOWN):
            try:  # its tools are not known yet: start it (or wait for its start) first
                await server.ready()
            except McpError as exc:
                return _error(str(exc))
            skill = self._find(name)
        if skill is None:
            return _error(f"there is no MCP tool named {name!r}")
        return await self.call(skill.server, skill.tool, arguments)

    async def call(self, server_name, tool, arguments):
        """Run ``tool`` of ``server_name`` (its own names): ``(blocks, is_error)``."""
        server = self.servers.get(server_name)
        if not server.settings.permits(tool):
            return _error(f"the {tool} tool of MCP server '{server_name}' is not allowed by "
                          f"its allow/deny lists in [mcp.servers.{server_name}]")
        try:
            result = await server.call(tool, arguments)
        except McpError as exc:
            return _error(str(exc))
        return render(result, self.max_result_chars)

    async def invoke(self, name, arguments):
        """The text of ``run``'s result; a ToolError carrying it when the tool failed."""
        blocks, is_error = await self.run(name, arguments)
        text = "\n".join(b["text"] if b["type"] == "text" else f"[{b['type']}]" for b in blocks)
        if is_error:
            raise McpError(text)
        return text

    async def health_check(self):
        return self.servers.health()

    async def shutdown(self):
        """Stop every server (children get SIGTERM, then SIGKILL); safe to call twice."""
        await self.servers.aclose()


def _error(text):
    return [{"type": "text", "text": text}], True
