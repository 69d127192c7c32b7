"""A ``tools/call`` result as the content of a Messages API ``tool_result`` block.

MCP content becomes Anthropic content blocks: ``text`` stays text; ``image`` becomes an
``image`` block (base64 source) when its type is one the Messages API takes and it is within
``MAX_IMAGE_BYTES``, else a one-line note; an embedded ``resource`` becomes its text (or a
note for binary data); ``resource_link`` and ``audio`` become notes. ``structuredContent``
is shown as JSON when the server sent no text beside it. ``isError`` is kept.

The text of one result is bounded by ``max_chars`` (the excess is cut with a note saying how
much there was) and a result holds at most ``MAX_IMAGES`` images.
"""

import binascii
import json
from base64 import b64decode

IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
MAX_IMAGE_BYTES = 5 * 1024 * 1024
MAX_IMAGES = 5
DEFAULT_MAX_CHARS = 50_000


def render(result, max_chars=DEFAULT_MAX_CHARS):
    """``(blocks, is_error)`` for the ``tools/call`` result ``result``."""
    blocks, images = [], 0
    content = result.get("content") or []
    for item in content:
        block = _block(item) if isinstance(item, dict) else _text("[an item that is not an "
                                                                  "object was dropped]")
        if block["type"] == "image":
            images += 1
            if images > MAX_IMAGES:
                block = _text(f"[more than {MAX_IMAGES} images; this one was dropped]")
        blocks.append(block)
    structured = result.get("structuredContent")
    if structured is not None and not any(b["type"] == "text" for b in blocks):
        blocks.append(_text(json.dumps(structured, ensure_ascii=False)))
    if not blocks:
        blocks.append(_text("(the tool returned no content)"))
    return _bounded(blocks, max_chars), bool(result.get("isError"))


def _text(text):
    return {"type": "text", "text": text}


def _block(item):
    kind = item.get("type")
    if kind == "text":
        return _text(str(item.get("text", "")))
    if kind == "image":
        return _image(item)
    if kind == "resource":
        return _resource(item.get("resource") if isinstance(item.get("resource"), dict) else {})
    if kind == "resource_link":
        name = item.get("name") or item.get("title") or "resource"
        return _text(f"[resource link: {name} <{item.get('uri', '')}>]")
    if kind == "audio":
        return _text(f"[audio ({item.get('mimeType', 'unknown type')}) was returned; it cannot "
                     "be shown]")
    return _text(f"[content of type {kind!r} cannot be shown]")


def _image(item):
    media_type, data = item.get("mimeType"), item.get("data")
    if media_type not in IMAGE_TYPES or not isinstance(data, str):
        return _text(f"[an image of type {media_type!r} was returned; only "
                     f"{', '.join(IMAGE_TYPES)} can be shown]")
    if len(data) * 3 // 4 > MAX_IMAGE_BYTES:
        return _text(f"[an image larger than {MAX_IMAGE_BYTES // (1024 * 1024)} MB was "
                     "returned; it was dropped]")
    try:
        b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return _text("[an image whose data is not base64 was returned; it was dropped]")
    return {"type": "image", "source": {"type": "base64", "media_type": media_type,
                                        "data": data}}


def _resource(resource):
    uri = resource.get("uri", "")
    if isinstance(resource.get("text"), str):
        return _text(f"[resource {uri}]\n{resource['text']}")
    size = len(resource.get("blob") or "") * 3 // 4
    return _text(f"[resource {uri} ({resource.get('mimeType') or 'binary'}, about {size} "
                 "bytes) cannot be shown]")


def _bounded(blocks, max_chars):
    """Cut the text of ``blocks`` to ``max_chars`` in all, saying what was cut."""
    total = sum(len(b["text"]) for b in blocks if b["type"] == "text")
    if total <= max_chars:
        return blocks
    kept, left = [], max_chars
    for block in blocks:
        if block["type"] != "text":
            kept.append(block)
        elif left > 0:
            kept.append(_text(block["text"][:left]))
            left -= len(block["text"])
    kept.append(_text(f"[truncated: the result had {total} characters of text, "
                      f"{max_chars} are shown]"))
    return kept
