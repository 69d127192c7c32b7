"""The tool registry: every tool the model may call, and the capabilities that gate them.

A ``Tool`` has a name, a description, a JSON schema for its input, the capability it needs
and an async ``run(input) -> str``. The registry offers the model only tools whose
capability is allowed, and ``call`` never raises: a refusal (``ToolError``), a crash or a
timeout becomes an error result the model can read and the loop carries on.

Besides its own tools, the registry offers the skills of every skill runtime added with
``add_runtime`` (the ``mcp`` plugin's servers), under the ``skills`` capability: ``refresh()``
lists them afresh at the start of each turn, and ``call`` hands them to their runtime's ``run``, whose
content blocks (images included) become the ``tool_result``. Every call is counted through
the observer by source (``builtin`` or the skill's server), tool and outcome, with its
latency.

Capabilities: ``time``, ``files`` and ``schedules`` are always allowed (files stay inside
the workspace directory; the schedule tools are registered by ``agent.runtime``); ``skills``
unless ``[tools] skills = false``; ``network`` (``http_fetch``) and ``shell`` only when
enabled in ``[tools]``. ``default_registry(config)`` builds the registry of the built-in tools
for a configuration.
"""

import asyncio
import contextvars
import json
import logging
import os
import time
from dataclasses import dataclass
from typing import Awaitable, Callable, Optional

from blufio.errors import ToolError

log = logging.getLogger("blufio.agent")

MAX_RESULT_CHARS = 50_000
SKILLS = "skills"  # the capability of every skill runtime's tools
BUILTIN = "builtin"  # the source label of the registry's own tools

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
    """What a tool call produced: its text, whether it is an error, and, when the tool
    returned more than text (images), the ``tool_result`` content ``blocks``."""

    content: str
    is_error: bool = False
    blocks: Optional[list] = None

    def result_content(self):
        """The ``content`` of the ``tool_result`` block for the model."""
        return self.blocks if self.blocks is not None else self.content


class ToolRegistry:
    """Tools by name, gated by the ``allowed`` capabilities; skills of added runtimes."""

    def __init__(self, allowed=("time", "files"), observer=None):
        from blufio.observability import NullObserver

        self.allowed = set(allowed)
        self.observer = observer or NullObserver()
        self._tools = {}
        self._runtimes = []
        self._skills = {}  # skill name -> (runtime, skill dict), as last offered

    def register(self, tool: Tool):
        if tool.name in self._tools:
            raise ValueError(f"a tool named {tool.name!r} is already registered")
        self._tools[tool.name] = tool
        return tool

    def available(self):
        """The tools the model may call, in registration order."""
        return [t for t in self._tools.values() if t.capability in self.allowed]

    def definitions(self):
        """Every tool the model may call: the registry's own, then the skills found by the
        last ``refresh``."""
        definitions = [tool.definition() for tool in self.available()]
        if SKILLS in self.allowed:
            definitions += [{"name": s["name"], "description": s["description"],
                             "input_schema": s["input_schema"]} for _, s in self._skills.values()]
        return definitions

    def __contains__(self, name):
        return name in self._tools

    def add_runtime(self, runtime):
        """Offer the skills of ``runtime`` (a ``SkillRuntime``) as tools too."""
        self._runtimes.append(runtime)

    async def refresh(self):
        """Ask every skill runtime what it offers now (at the start of each turn)."""
        if not self._runtimes or SKILLS not in self.allowed:
            return
        skills = {}
        for runtime in self._runtimes:
            try:
                listed = await runtime.list_skills()
            except Exception:  # a broken runtime must not break the turn
                log.exception("%s: listing skills failed", runtime.name)
                continue
            for skill in listed:
                if skill["name"] not in self._tools and skill["name"] not in skills:
                    skills[skill["name"]] = (runtime, skill)
        self._skills = skills

    async def call(self, name, arguments) -> Outcome:
        """Run tool ``name``; every failure is an error ``Outcome``, never an exception."""
        started = time.monotonic()
        source, label = BUILTIN, name
        if name not in self._tools and name in self._skills:
            skill = self._skills[name][1]
            source, label = skill.get("source", self._skills[name][0].name), skill.get("tool", name)
        outcome = await self._call(name, arguments)
        if isinstance(outcome.content, str) and len(outcome.content) > MAX_RESULT_CHARS:
            outcome.content = (outcome.content[:MAX_RESULT_CHARS] +
                               f"\n[truncated: {len(outcome.content)} characters in all]")
        self.observer.tool_call(source, label, "error" if outcome.is_error else "ok",
                                time.monotonic() - started)
        return outcome

    async def _call(self, name, arguments):
        tool = self._tools.get(name)
        if tool is None and name in self._skills:
            return await self._call_skill(name, arguments)
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
        return Outcome(result if isinstance(result, str) else json.dumps(result, default=str))

    async def _call_skill(self, name, arguments):
        if SKILLS not in self.allowed:
            return Outcome(f"the {name} tool is disabled: [tools] skills is false", True)
        if not isinstance(arguments, dict):
            return Outcome(f"the {name} tool takes a JSON object as input", True)
        runtime = self._skills[name][0]
        try:
            blocks, is_error = await runtime.run(name, arguments)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the runtime promises not to raise; a bug must not break the turn
            return Outcome(f"the {name} tool failed: {type(exc).__name__}: {exc}", True)
        text = "\n".join(b["text"] if b.get("type") == "text" else f"[{b.get('type')}]"
                         for b in blocks)
        plain = all(b.get("type") == "text" for b in blocks)
        return Outcome(text, is_error, None if plain else blocks)

    async def run_round(self, tool_uses, on_use, on_result):
        """Run the ``tool_use`` blocks of one model round concurrently; their
        ``tool_result`` blocks, in the order the model asked for them. ``on_use(block)`` is
        called before each call and ``on_result(block, outcome)`` after it (the agent's
        events)."""
        async def run(block):
            on_use(block)
            outcome = await self.call(block.get("name", ""), block.get("input"))
            on_result(block, outcome)
            result = {"type": "tool_result", "tool_use_id": block.get("id", ""),
                      "content": outcome.result_content()}
            if outcome.is_error:
                result["is_error"] = True
            return result

        return list(await asyncio.gather(*(run(block) for block in tool_uses)))


def workspace_dir(config):
    """The workspace directory: ``[tools] workspace``, else ``workspace`` in the data dir."""
    configured = config.get("tools.workspace")
    if configured:
        return os.path.abspath(os.path.expanduser(configured))
    return os.path.join(config.data_dir, "workspace")


def default_registry(config, observer=None):
    """The built-in tools, with the capabilities ``config``'s ``[tools]`` section allows."""
    from blufio.agent.tools import builtin

    allowed = {"time", "files", "schedules"}
    if config.get("tools.skills"):
        allowed.add(SKILLS)
    if config.get("tools.http_fetch"):
        allowed.add("network")
    if config.get("tools.shell"):
        allowed.add("shell")
    registry = ToolRegistry(allowed, observer)
    builtin.register_all(registry, workspace=workspace_dir(config),
                         allow_private=bool(config.get("tools.allow_private_addresses")),
                         shell_timeout=float(config.get("tools.shell_timeout") or 30.0))
    return registry
