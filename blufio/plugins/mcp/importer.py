"""``blufio skill import FILE``: a Claude Desktop / Cursor ``mcpServers`` JSON as our tables.

The file looks like::

    {"mcpServers": {
        "filesystem": {"command": "npx", "args": ["-y", "..."], "env": {"GITHUB_TOKEN": "..."}},
        "remote": {"url": "https://example.com/mcp", "headers": {"Authorization": "Bearer ..."}}
    }}

Each entry becomes a ``[mcp.servers.<name>]`` table. Values that look like secrets (see
``settings.looks_secret``) are not written to the file: they are returned separately to be
stored in the vault under ``mcp.servers.<name>.env.<VAR>`` (or ``.headers.<Header>``).
Names that cannot prefix a tool name are adapted (``My Server`` → ``My-Server``).
``"disabled": true`` becomes ``enabled = false``; ``"type"`` is checked (the old ``sse``
transport is not supported and such an entry is skipped); keys only other clients use
(``autoApprove``, ...) are left out with a note.
"""

import json
import re

from blufio.errors import ConfigError
from blufio.plugins.mcp.settings import NAME, looks_secret, parse_server, secret_name

_COPIED = ("command", "args", "env", "cwd", "url", "headers")
_HTTP_TYPES = ("http", "streamable-http", "streamableHttp", "streamable_http")


class Imported:
    """What an import produced: tables to write, secrets for the vault, notes for the user."""

    def __init__(self):
        self.tables = {}  # server name -> table (only plain values)
        self.secrets = {}  # vault name -> value
        self.notes = []


def read_servers(path):
    """The ``mcpServers`` object of the JSON file ``path``; a ConfigError naming the problem."""
    try:
        with open(path, encoding="utf-8") as f:
            document = json.load(f)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc})") from exc
    servers = document.get("mcpServers") if isinstance(document, dict) else None
    if not isinstance(servers, dict):
        raise ConfigError(f"{path}: has no \"mcpServers\" object (the format of Claude Desktop's "
                          "claude_desktop_config.json and Cursor's mcp.json)")
    return servers


def convert(servers, path, existing=()):
    """Turn ``servers`` (an ``mcpServers`` object read from ``path``) into an ``Imported``;
    names in ``existing`` are configured already and are left alone."""
    imported = Imported()
    for original, entry in servers.items():
        name = _server_name(original, imported.tables)
        if name in existing:
            imported.notes.append(f"{name}: already configured; left as it is")
            continue
        if not isinstance(entry, dict):
            raise ConfigError(f"{path}: mcpServers.{original} must be an object")
        table = _table(original, entry, path, imported.notes)
        if table is None:
            continue
        if name != original:
            imported.notes.append(f"{original!r} is called {name!r} (server names prefix tool "
                                  "names: letters, digits, '-' and '_')")
        for kind in ("env", "headers"):
            for key, value in list(table.get(kind, {}).items()):
                if looks_secret(key):
                    imported.secrets[secret_name(name, kind, key)] = value
                    del table[kind][key]
            if kind in table and not table[kind]:
                del table[kind]
        parse_server(name, table, f"{path}: mcpServers.{original}")  # as strict as the file
        imported.tables[name] = table
    return imported


def _table(original, entry, path, notes):
    """The table for one entry (None when it is skipped), with only keys we know."""
    kind = entry.get("type")
    if kind == "sse" or (kind not in (None, "stdio", *_HTTP_TYPES)):
        notes.append(f"{original}: skipped: its transport {kind!r} is not supported (Blufio "
                     "speaks stdio and Streamable HTTP)")
        return None
    table = {key: entry[key] for key in _COPIED if key in entry}
    for key in ("env", "headers"):
        if key in table and isinstance(table[key], dict):
            table[key] = {k: v if isinstance(v, str) else json.dumps(v)
                          for k, v in table[key].items()}
    if entry.get("disabled") is True:
        table["enabled"] = False
    left_out = sorted(set(entry) - set(_COPIED) - {"type", "disabled"})
    if left_out:
        notes.append(f"{original}: left out {', '.join(left_out)} (not a Blufio setting)")
    return table


def _server_name(original, taken):
    name = original if NAME.match(original) and "__" not in original else \
        re.sub(r"_{2,}", "_", re.sub(r"[^A-Za-z0-9_-]+", "-", original)).strip("-_")[:32] or \
        "server"
    base, number = name, 2
    while name in taken:
        name = f"{base[:29]}-{number}"
        number += 1
    return name
