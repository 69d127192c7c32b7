"""A Messages API request as a whole: its messages (``messages``), and every field beside
them: ``system``, ``tools``, ``tool_choice``, ``max_tokens``, sampling, ``model``.

``parse_messages_request(body)`` checks it like Anthropic does (a 400 naming the path at
fault); ``MessagesRequest.turn_options(...)`` turns it into the agent's ``TurnOptions``,
within what the owner allows: the model only from ``[gateway] models`` (any other name gets
the default), client tools never named like the agent's own (server) tools.
"""

import re

from blufio.agent.options import TurnOptions
from blufio.plugins.gateway.messages import fail, parse_messages, text_blocks

_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")
_TOOL_CHOICES = ("auto", "any", "tool", "none")
_THINKING = ("enabled", "disabled")


class MessagesRequest:
    """A checked ``POST /v1/messages`` (or ``count_tokens``) body. Fields Blufio does not
    use are ignored, as Anthropic's SDKs send only what the caller set."""

    __slots__ = ("conversation", "stream", "model", "max_tokens", "system", "tools",
                 "tool_choice", "sampling", "betas")

    def __init__(self, conversation, *, stream=False, model="", max_tokens=None, system=(),
                 tools=(), tool_choice=None, sampling=None):
        self.conversation = conversation
        self.stream = stream
        self.model = model
        self.max_tokens = max_tokens
        self.system = list(system)  # the body's system, then its role:"system" messages
        self.tools = list(tools)
        self.tool_choice = tool_choice
        self.sampling = dict(sampling or {})
        self.betas = []

    def turn_options(self, *, models, default_model, server_tools):
        """The agent's ``TurnOptions`` for this request; a 400 when a client tool is named
        like a server tool or ``tool_choice`` names no offered tool."""
        for index, tool in enumerate(self.tools):
            if tool["name"] in server_tools:
                fail(f"tools.{index}.name", f"'{tool['name']}' is the name of one of the "
                                            "agent's own tools; give the client tool another name")
        if self.tool_choice and self.tool_choice["type"] == "tool":
            name = self.tool_choice["name"]
            if name not in {t["name"] for t in self.tools} and name not in server_tools:
                fail("tool_choice.name", f"no tool named '{name}' is offered")
        return TurnOptions(model=self.model if self.model in models else default_model,
                           system=self.system, tools=self.tools, tool_choice=self.tool_choice,
                           max_tokens=self.max_tokens, sampling=self.sampling,
                           prefill=self.conversation.prefill, betas=self.betas)


def parse_messages_request(body, wants_event_stream=False, *, counting=False, before=None):
    """Check a Messages API body (``counting``: a ``count_tokens`` body, without
    ``max_tokens``; ``before``: see ``messages.parse_messages``); raise a 400 naming the
    first field at fault."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        fail("model", "field required: a model name string")
    max_tokens = body.get("max_tokens")
    if not counting or max_tokens is not None:
        if not _integer(max_tokens) or max_tokens < 1:
            fail("max_tokens", "field required: an integer of at least 1")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        fail("stream", "must be true or false")
    conversation = parse_messages(body.get("messages"), before)
    system = text_blocks(body["system"], "system") if body.get("system") is not None else []
    tools = _tools(body.get("tools"))
    return MessagesRequest(conversation, stream=(stream or wants_event_stream) and not counting,
                           model=model, max_tokens=max_tokens,
                           system=system + conversation.system, tools=tools,
                           tool_choice=_tool_choice(body.get("tool_choice")),
                           sampling=_sampling(body))


def _integer(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _tools(tools):
    if tools is None:
        return []
    if not isinstance(tools, list):
        fail("tools", "must be a list of tool definitions")
    checked, seen = [], {}
    for index, tool in enumerate(tools):
        where = f"tools.{index}"
        if not isinstance(tool, dict):
            fail(where, "must be a tool definition object")
        name = tool.get("name")
        if not isinstance(name, str) or not _TOOL_NAME.match(name):
            fail(f"{where}.name", "field required: 1 to 128 letters, digits, '_' or '-'")
        if name in seen:
            fail(f"{where}.name", f"'{name}' is already the name of tools.{seen[name]}")
        seen[name] = index
        if tool.get("type", "custom") == "custom":  # Anthropic's own tool types pass as sent
            schema = tool.get("input_schema")
            if not isinstance(schema, dict) or schema.get("type") != "object":
                fail(f"{where}.input_schema", "field required: a JSON schema with "
                                              "\"type\": \"object\"")
            if "description" in tool and not isinstance(tool["description"], str):
                fail(f"{where}.description", "must be a string")
        checked.append({k: v for k, v in tool.items() if k != "cache_control"})
    return checked


def _tool_choice(choice):
    if choice is None:
        return None
    if not isinstance(choice, dict) or choice.get("type") not in _TOOL_CHOICES:
        fail("tool_choice.type", f"must be one of {', '.join(_TOOL_CHOICES)}")
    if choice["type"] == "tool" and not isinstance(choice.get("name"), str):
        fail("tool_choice.name", "field required: the name of the tool to use")
    if "disable_parallel_tool_use" in choice \
            and not isinstance(choice["disable_parallel_tool_use"], bool):
        fail("tool_choice.disable_parallel_tool_use", "must be true or false")
    return dict(choice)


def _sampling(body):
    """The sampling settings the client set, checked (Anthropic's ranges)."""
    sampling = {}
    for name, low, high in (("temperature", 0, 1), ("top_p", 0, 1)):
        if body.get(name) is not None:
            if not _number(body[name]) or not low <= body[name] <= high:
                fail(name, f"must be a number from {low} to {high}")
            sampling[name] = body[name]
    if body.get("top_k") is not None:
        if not _integer(body["top_k"]) or body["top_k"] < 0:
            fail("top_k", "must be an integer of at least 0")
        sampling["top_k"] = body["top_k"]
    if body.get("stop_sequences") is not None and _stop_sequences(body["stop_sequences"]):
        sampling["stop_sequences"] = body["stop_sequences"]
    if body.get("thinking") is not None:
        sampling["thinking"] = _thinking(body["thinking"])
    if body.get("metadata") is not None:
        sampling["metadata"] = _metadata(body["metadata"])
    return sampling


def _stop_sequences(stops):
    if not isinstance(stops, list):
        fail("stop_sequences", "must be a list of strings")
    for index, stop in enumerate(stops):
        if not isinstance(stop, str) or not stop.strip():
            fail(f"stop_sequences.{index}", "each stop sequence must contain non-whitespace text")
    return stops


def _metadata(metadata):
    if not isinstance(metadata, dict):
        fail("metadata", "must be an object")
    if metadata.get("user_id") is not None and not isinstance(metadata["user_id"], str):
        fail("metadata.user_id", "must be a string")
    return metadata


def _thinking(thinking):
    """``enabled`` (with its budget) is checked; other types (``disabled``, and those newer
    models take, e.g. ``adaptive``) are passed on for the provider to judge."""
    if not isinstance(thinking, dict) or not isinstance(thinking.get("type"), str):
        fail("thinking.type", f"field required: one of {', '.join(_THINKING)}, or another "
                              "type the model accepts")
    if thinking["type"] == "enabled":
        budget = thinking.get("budget_tokens")
        if not _integer(budget) or budget < 1024:
            fail("thinking.budget_tokens", "field required: an integer of at least 1024")
    return dict(thinking)
