"""The tool registry: every tool the model may call, and the capabilities that gate them.

A ``Tool`` has a name, a description, a JSON schema for its input, the capability it needs
and an async ``run(input) -> str``. The registry offers the model only tools whose
capability is allowed, and ``call`` never raises: a refusal (``ToolError``), a crash or a
timeout becomes an error result the model can read and the loop carries on.

Capabilities: ``time``, ``files`` and ``schedules`` are always allowed (files stay inside
the workspace directory; the schedule tools are registered by ``agent.runtime``);
``network`` (``http_fetch``) and ``shell`` only when enabled in ``[tools]``.
``default_registry(config)`` builds the registry of the built-in tools for a configuration.
"""

import asyncio
import contextvars
import json
import os
from dataclasses import dataclass
from typing import Awaitable, Callable

from blufio.errors import ToolError

MAX_RESULT_CHARS = 50_000

# The inbound entry the running turn answers, for tools that act on the conversation they
# were called from (e.g. a reminder for "this chat"). The agent sets it in each turn's task.
CURRENT_INBOUND = contextvars.ContextVar("blufio_current_inbound", default=None)


@dataclass(slots=True)
class Tool:
    """One tool: what the model sees (name, description, schema) and how it runs."""

    name: str
    description: str
    input_schema: dict
    capability: str
    run: Callable[[dict], Awaitable[str]]
    timeout: float = 60.0

    def definition(self):
        """The tool as the Messages API ``tools`` list wants it."""
        return {"name": self.name, "description": self.description,
                "input_schema": self.input_schema}


@dataclass(slots=True)
class Outcome:
    """What a tool call produced: the text for the model and whether it is an error."""

    content: str
    is_error: bool = False


class ToolRegistry:
    """Tools by name, gated by the ``allowed`` capabilities."""

    def __init__(self, allowed=("time", "files")):
        self.allowed = set(allowed)
        self._tools = {}

    def register(self, tool: Tool):
        if tool.name in self._tools:
            raise ValueError(f"a tool named {tool.name!r} is already registered")
        self._tools[tool.name] = tool
        return tool

    def available(self):
        """The tools the model may call, in registration order."""
        return [t for t in self._tools.values() if t.capability in self.allowed]

    def definitions(self):
        return [tool.definition() for tool in self.available()]

    def __contains__(self, name):
        return name in self._tools

    async def call(self, name, arguments) -> Outcome:
        """Run tool ``name``; every failure is an error ``Outcome``, never an exception."""
        tool = self._tools.get(name)
        if tool is None:
            return Outcome(f"there is no tool named {name!r}", True)
        if tool.capability not in self.allowed:
            return Outcome(f"the {name} tool is disabled; the user can enable it in the "
                           f"[tools] section of the configuration", True)
        if not isinstance(arguments, dict):
            return Outcome(f"the {name} tool takes a JSON object as input", True)
        try:
            result = await asyncio.wait_for(tool.run(arguments), tool.timeout)
        except ToolError as exc:
            return Outcome(str(exc), True)
        except asyncio.TimeoutError:
            return Outcome(f"the {name} tool took longer than {tool.timeout:g}s and was stopped",
                           True)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a broken tool must not break the turn
            return Outcome(f"the {name} tool failed: {type(exc).__name__}: {exc}", True)
        if not isinstance(result, str):
            result = json.dumps(result, default=str)
        if len(result) > MAX_RESULT_CHARS:
            result = result[:MAX_RESULT_CHARS] + f"\n[truncated: {len(result)} characters in all]"
        return Outcome(result)

    async def run_round(self, tool_uses, on_use, on_result):
        """Run the ``tool_use`` blocks of one model round; their ``tool_result`` blocks, in
        the order the model asked for them. ``on_use(block)`` is called before each call and
        ``on_result(block, outcome)`` after it (the agent's events)."""
        results = []
        for block in tool_uses:
            on_use(block)
            outcome = await self.call(block.get("name", ""), block.get("input"))
            on_result(block, outcome)
            result = {"type": "tool_result", "tool_use_id": block.get("id", ""),
                      "content": outcome.content}
            if outcome.is_error:
                result["is_error"] = True
            results.append(result)
        return results


def workspace_dir(config):
    """The workspace directory: ``[tools] workspace``, else ``workspace`` in the data dir."""
    configured = config.get("tools.workspace")
    if configured:
        return os.path.abspath(os.path.expanduser(configured))
    return os.path.join(config.data_dir, "workspace")


def default_registry(config):
    """The built-in tools, with the capabilities ``config``'s ``[tools]`` section allows."""
    from blufio.agent.tools import builtin

    allowed = {"time", "files", "schedules"}
    if config.get("tools.http_fetch"):
        allowed.add("network")
    if config.get("tools.shell"):
        allowed.add("shell")
    registry = ToolRegistry(allowed)
    builtin.register_all(registry, workspace=workspace_dir(config),
                         allow_private=bool(config.get("tools.allow_private_addresses")),
                         shell_timeout=float(config.get("tools.shell_timeout") or 30.0))
    return registry
