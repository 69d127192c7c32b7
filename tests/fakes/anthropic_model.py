"""How the fake Anthropic API's default model answers a request: by echoing, within the
request's limits, as a real model would be held to them.

- The reply is ``echo: <text of the last user message>``; when that message carries tool
  results, it is ``the tool said: <their text>``.
- ``tool_choice`` ``{"type": "tool", "name": ...}`` (or ``any``: the first tool) makes the
  reply a ``tool_use`` of that tool, its input filled from the tool's schema; so does a last
  user message ``use <tool name>`` naming an offered tool.
- ``max_tokens``: a token is ``TOKEN_CHARS`` characters; a longer reply is cut there and ends
  with ``stop_reason: "max_tokens"`` (and ``max_tokens`` output tokens; otherwise 5).
- ``stop_sequences``: the reply ends before the first one it contains, with
  ``stop_reason: "stop_sequence"`` and ``stop_sequence`` naming it.
- ``count_tokens``: the request's JSON length over ``TOKEN_CHARS``.
- A request Anthropic would refuse for its limits (``problem``) gets a 400.
"""

import json

TOKEN_CHARS = 4


def count_tokens(body):
    """What the fake's ``/v1/messages/count_tokens`` answers for ``body``."""
    counted = {name: body.get(name) for name in ("system", "messages", "tools")}
    return max(1, len(json.dumps(counted)) // TOKEN_CHARS)


def problem(body):
    """Why Anthropic would refuse ``body`` (the limits it checks that tests rely on), or None."""
    thinking = body.get("thinking") or {}
    if thinking.get("type") == "enabled" and \
            thinking.get("budget_tokens", 0) >= body.get("max_tokens", 0):
        return "`max_tokens` must be greater than `thinking.budget_tokens`"
    return None


def answer(body):
    """``(blocks, stop_reason, stop_sequence, output_tokens)`` for a request body."""
    tool = _chosen_tool(body)
    if tool is not None:
        block = {"type": "tool_use", "id": f"toolu_fake_{abs(hash(json.dumps(body))) % 10**8}",
                 "name": tool["name"], "input": _input_for(tool.get("input_schema") or {})}
        return [block], "tool_use", None, 10
    text, stop_reason, stop_sequence = _limited(_reply_text(body), body)
    output_tokens = body["max_tokens"] if stop_reason == "max_tokens" else 5
    return [{"type": "text", "text": text}], stop_reason, stop_sequence, output_tokens


def _last_user_content(body):
    messages = [m for m in body.get("messages") or [] if m.get("role") == "user"]
    content = messages[-1].get("content", "") if messages else ""
    return [{"type": "text", "text": content}] if isinstance(content, str) else content


def _text(blocks):
    return "".join(b.get("text", "") for b in blocks if b.get("type") == "text")


def _reply_text(body):
    content = _last_user_content(body)
    results = [b for b in content if b.get("type") == "tool_result"]
    if results:
        said = [r.get("content") if isinstance(r.get("content"), str)
                else _text(r.get("content") or []) for r in results]
        return "the tool said: " + "; ".join(said)
    return f"echo: {_text(content)}"


def _chosen_tool(body):
    tools = {tool.get("name"): tool for tool in body.get("tools") or []}
    choice = body.get("tool_choice") or {}
    if choice.get("type") == "tool":
        return tools.get(choice.get("name"))
    if choice.get("type") == "any" and tools:
        return next(iter(tools.values()))
    content = _last_user_content(body)
    if any(b.get("type") == "tool_result" for b in content):
        return None
    words = _text(content).split()
    if len(words) == 2 and words[0] == "use":
        return tools.get(words[1])
    return None


def _input_for(schema):
    """An input that satisfies ``schema``'s required properties."""
    samples = {"string": "Paris", "integer": 1, "number": 1.5, "boolean": True,
               "array": [], "object": {}}
    properties = schema.get("properties") or {}
    return {name: samples.get((properties.get(name) or {}).get("type"), "x")
            for name in schema.get("required") or []}


def _limited(text, body):
    stop_reason, stop_sequence = "end_turn", None
    found = [(text.find(s), s) for s in body.get("stop_sequences") or [] if s in text]
    if found:
        at, stop_sequence = min(found)
        text, stop_reason = text[:at], "stop_sequence"
    limit = body.get("max_tokens")
    if isinstance(limit, int) and len(text) > limit * TOKEN_CHARS:
        text, stop_reason, stop_sequence = text[:limit * TOKEN_CHARS], "max_tokens", None
    return text, stop_reason, stop_sequence
