"""Reading a Messages API request's ``messages`` the way Anthropic checks them.

Pure functions, no I/O: the routes in ``app.py`` and ``/ws`` feed them. A refusal is a 400
naming the path of what is wrong (``messages.2.content.0.text: ...``), before anything is
stored. ``parse_content`` is the one check of message content, for HTTP and ``/ws`` alike.

What passes is normalised: string content becomes a text block, ``cache_control`` marks are
dropped (the provider places its own) and so are null fields, consecutive messages of one role are merged (as
Anthropic merges them), and ``role: "system"`` messages are taken out of the conversation:
their text is added to the system prompt, after the owner's.
"""


from blufio.plugins.gateway.errors import GatewayError
from blufio.plugins.gateway.limits import decode_json

IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
_SOURCES = {"image": ("base64", "url", "file"),
            "document": ("base64", "text", "url", "content", "file")}
_STRIPPED = ("cache_control",)


def fail(where, problem):
    """Refuse the request: a 400 naming ``where``."""
    raise GatewayError(400, f"{where}: {problem}")


def parse_body(raw):
    """Decode a request body as a JSON object, or raise a 400 that says what is wrong."""
    if not raw or not raw.strip():
        raise GatewayError(400, "the request body is empty; send a JSON object")
    body = decode_json(raw, "the request body")
    if not isinstance(body, dict):
        raise GatewayError(400, "the request body must be a JSON object")
    return body


class Conversation:
    """A request's checked messages: ``messages`` (user and assistant, merged by role) and
    ``system`` (text blocks of its ``role: "system"`` messages)."""

    __slots__ = ("messages", "system")

    def __init__(self, messages, system):
        self.messages = messages
        self.system = system

    @property
    def turn_index(self):
        """The index of the new turn: the last user message."""
        return len(self.messages) - (2 if self.messages[-1]["role"] == "assistant" else 1)

    @property
    def history(self):
        """Every message before the new turn."""
        return self.messages[:self.turn_index]

    @property
    def turn(self):
        """The new turn's content blocks."""
        return self.messages[self.turn_index]["content"]

    @property
    def prefill(self):
        """The content of a last assistant message, which the reply continues; or []."""
        last = self.messages[-1]
        return last["content"] if last["role"] == "assistant" else []


def int_arg(name, default, low, high):
    """The query parameter ``name`` as an integer in ``[low, high]`` (``high`` None: no
    upper bound), ``default`` when absent; a 400 otherwise."""
    from quart import request

    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or value < low or (high is not None and value > high):
        bounds = f"from {low} to {high}" if high is not None else f"of at least {low}"
        raise GatewayError(400, f"{name}: must be a whole number {bounds}")
    return value


def parse_messages(messages, before=None):
    """Check a request's ``messages``; return its ``Conversation``. ``before`` is the stored
    assistant message a request continuing a session follows (its tool results answer it)."""
    if not isinstance(messages, list) or not messages:
        fail("messages", "field required: a non-empty list of messages")
    checked, system = [], []
    for index, message in enumerate(messages):
        where = f"messages.{index}"
        if not isinstance(message, dict):
            fail(where, "must be an object with 'role' and 'content'")
        if message.get("role") == "system":
            system += text_blocks(message.get("content"), f"{where}.content")
        else:
            _add_message(checked, message, where, before)
    if not checked:
        fail("messages", "there must be at least one user message besides system messages")
    if checked[-1]["role"] == "user":
        _check_answered(checked, f"messages.{len(messages) - 1}")
    return Conversation(checked, system)


def _add_message(checked, message, where, before=None):
    """Check a user or assistant message in its place, and add it to ``checked`` (merged
    with the one before when both have its role)."""
    role = message.get("role")
    if role not in ("user", "assistant"):
        fail(f"{where}.role", "must be 'user', 'assistant' or 'system'")
    if not checked and role != "user":
        fail(f"{where}.role", "the first message must use the 'user' role")
    content = parse_content(message.get("content"), f"{where}.content", role)
    previous = checked[-1] if checked else None
    if role == "user":
        _check_tool_results(content, previous or before, where)
    elif previous is not None and previous["role"] == "user":
        _check_answered(checked, where)
    if previous is not None and previous["role"] == role:
        previous["content"] = [*previous["content"], *content]
    else:
        checked.append({"role": role, "content": content})


def _check_tool_results(content, previous, where):
    """A ``tool_result`` must answer a ``tool_use`` of the assistant message just before."""
    asked = _tool_use_ids(previous) if previous and previous["role"] == "assistant" else set()
    for index, block in enumerate(content):
        if block["type"] == "tool_result" and block["tool_use_id"] not in asked:
            fail(f"{where}.content.{index}.tool_use_id",
                 f"no tool_use with id '{block['tool_use_id']}' in the previous assistant message")


def _check_answered(checked, where):
    """Every ``tool_use`` of an assistant message must have its ``tool_result`` in the user
    message after it (checked when the conversation moves on past that user message)."""
    if len(checked) < 2:
        return
    asked = _tool_use_ids(checked[-2])
    answered = {b.get("tool_use_id") for b in checked[-1]["content"] if b["type"] == "tool_result"}
    missing = sorted(asked - answered)
    if missing:
        fail(where, "tool_use ids were found without tool_result blocks immediately after: "
                    + ", ".join(missing))


def _tool_use_ids(message):
    return {block["id"] for block in message["content"] if block["type"] == "tool_use"}


def text_blocks(content, where):
    """System text: a string (may be empty) or a list of text blocks, as text blocks."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if not isinstance(content, list):
        fail(where, "must be a string or a list of text blocks")
    blocks = []
    for index, block in enumerate(content):
        if not isinstance(block, dict) or block.get("type") != "text":
            fail(f"{where}.{index}", "must be a text block ({\"type\": \"text\", \"text\": ...})")
        blocks.append(_text(block, f"{where}.{index}"))
    return blocks


def parse_content(content, where="content", role="user"):
    """A message's content as content blocks: a non-empty string, or a non-empty list of
    blocks of the types Anthropic accepts from ``role``, each well formed. Else a 400 naming
    ``where``. The one check of content, for HTTP and ``/ws`` alike."""
    if isinstance(content, str):
        if not content.strip():
            fail(where, "must not be empty or only whitespace")
        return [{"type": "text", "text": content}]
    if not isinstance(content, list) or not content:
        fail(where, "must be a string or a non-empty list of content blocks")
    return [parse_block(block, f"{where}.{index}", role) for index, block in enumerate(content)]


def parse_block(block, where, role="user"):
    """One content block, checked and without ``cache_control``."""
    if not isinstance(block, dict) or not isinstance(block.get("type"), str):
        fail(where, "must be a content block object with a 'type'")
    kind = block["type"]
    rule = _BLOCKS.get(kind)
    if rule is None:
        fail(f"{where}.type", f"unknown content block type '{kind}'; expected one of "
                              + ", ".join(sorted(_BLOCKS)))
    roles, check = rule
    if role not in roles:
        fail(where, f"a '{kind}' block belongs in a{'n' if roles[0] == 'assistant' else ''} "
                    f"{roles[0]} message")
    return check(block, where)


def _clean(block):
    """The block without cache marks and without null fields (SDKs dump their models with
    ``"citations": null`` and the like; they mean nothing)."""
    return {key: value for key, value in block.items()
            if key not in _STRIPPED and value is not None}


def _string(block, name, where, *, empty=False):
    value = block.get(name)
    if not isinstance(value, str) or (not empty and not value):
        fail(f"{where}.{name}", "field required: a non-empty string" if not empty
             else "field required: a string")
    return value


def _text(block, where):
    text = block.get("text")
    if not isinstance(text, str):
        fail(f"{where}.text", "field required: a string")
    if not text.strip():
        fail(f"{where}.text", "text content blocks must contain non-whitespace text")
    return _clean(block)


def _media(block, where):
    source = block.get("source")
    allowed = _SOURCES[block["type"]]
    if not isinstance(source, dict) or source.get("type") not in allowed:
        fail(f"{where}.source", f"field required: an object whose type is one of "
                                f"{', '.join(allowed)}")
    if block["type"] == "image" and source["type"] == "base64" \
            and source.get("media_type") not in IMAGE_TYPES:
        fail(f"{where}.source.media_type", f"must be one of {', '.join(IMAGE_TYPES)}")
    if source["type"] in ("base64", "text"):
        _string(source, "data", f"{where}.source")
    elif source["type"] == "url":
        _string(source, "url", f"{where}.source")
    elif source["type"] == "file":
        _string(source, "file_id", f"{where}.source")
    return _clean(block)


def _tool_use(block, where):
    _string(block, "id", where)
    _string(block, "name", where)
    if not isinstance(block.get("input"), dict):
        fail(f"{where}.input", "field required: an object")
    return _clean(block)


def _tool_result(block, where):
    _string(block, "tool_use_id", where)
    if "is_error" in block and not isinstance(block["is_error"], bool):
        fail(f"{where}.is_error", "must be true or false")
    cleaned = _clean(block)
    content = block.get("content")
    if isinstance(content, list):
        cleaned["content"] = [_result_part(part, f"{where}.content.{index}")
                              for index, part in enumerate(content)]
    elif content is not None and not isinstance(content, str):
        fail(f"{where}.content", "must be a string or a list of content blocks")
    return cleaned


def _result_part(part, where):
    if isinstance(part, dict) and part.get("type") not in _RESULT_PARTS:
        fail(f"{where}.type", "a tool_result holds text, image, document or search_result "
                              "blocks")
    return parse_block(part, where, "user")


def _thinking(block, where):
    _string(block, "thinking", where, empty=True)
    _string(block, "signature", where, empty=True)
    return _clean(block)


def _redacted(block, where):
    _string(block, "data", where)
    return _clean(block)


def _server_result(block, where):
    _string(block, "tool_use_id", where)
    return _clean(block)


def _search_result(block, where):
    _string(block, "source", where)
    _string(block, "title", where, empty=True)
    if not isinstance(block.get("content"), list):
        fail(f"{where}.content", "field required: a list of text blocks")
    return {**_clean(block), "content": text_blocks(block["content"], f"{where}.content")}


_ANY, _USER, _ASSISTANT = ("user", "assistant"), ("user",), ("assistant",)
# type -> (roles that may send it, check); Anthropic's block types a client may send.
_BLOCKS = {
    "text": (_ANY, _text),
    "image": (_ANY, _media),
    "document": (_ANY, _media),
    "search_result": (_ANY, _search_result),
    "tool_use": (_ASSISTANT, _tool_use),
    "tool_result": (_USER, _tool_result),
    "thinking": (_ASSISTANT, _thinking),
    "redacted_thinking": (_ASSISTANT, _redacted),
    "server_tool_use": (_ASSISTANT, _tool_use),
    "web_search_tool_result": (_ASSISTANT, _server_result),
    "web_fetch_tool_result": (_ASSISTANT, _server_result),
}
_RESULT_PARTS = ("text", "image", "document", "search_result")
