"""Bounds on what a client sends, checked before anything else reads it.

A JSON body or ``/ws`` frame nested deeper than ``MAX_JSON_DEPTH`` is a 400 (Python's own
parser would fail with a ``RecursionError`` a little deeper, and code that walks the value
later could fail anywhere); a whole number that SQLite cannot hold is a 400 too.
"""

import json

from blufio.plugins.gateway.errors import GatewayError

MAX_JSON_DEPTH = 100  # far more than any message, tool input or schema needs
SQLITE_MAX_INT = 2**63 - 1


def decode_json(raw, what):
    """``raw`` (bytes or str) decoded as JSON, or a 400 naming ``what`` ("the request body",
    "a frame") and what is wrong with it."""
    try:
        value = json.loads(raw)
    except RecursionError:
        value = None
        too_deep = True
    except (ValueError, UnicodeDecodeError) as exc:
        raise GatewayError(400, f"{what} is not valid JSON: {exc}") from None
    else:
        too_deep = _deeper_than(value, MAX_JSON_DEPTH)
    if too_deep:
        raise GatewayError(400, f"{what} is nested too deeply: at most {MAX_JSON_DEPTH} "
                                "levels of arrays and objects are accepted")
    return value


def _deeper_than(value, limit):
    """Whether ``value`` nests lists and dicts more than ``limit`` deep (without recursion)."""
    level, depth = [value], 0
    while True:
        containers = [item for item in level if isinstance(item, (list, dict))]
        if not containers:
            return False
        depth += 1
        if depth > limit:
            return True
        level = [child for item in containers
                 for child in (item.values() if isinstance(item, dict) else item)]
