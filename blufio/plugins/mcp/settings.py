"""The ``[mcp.servers.<name>]`` tables: each MCP server's settings, checked strictly.

::

    [mcp.servers.files]                 # a child process speaking stdio
    command = "npx"
    args = ["-y", "@modelcontextprotocol/server-filesystem", "/home/me/notes"]
    env = { LOG_LEVEL = "info" }        # the child's only variables besides PATH, HOME, LANG
    cwd = "/home/me"
    timeout = 30                        # seconds for one request (default 60)
    deny = ["write_file"]               # tools never offered to the model

    [mcp.servers.search]                # a Streamable HTTP endpoint
    url = "https://mcp.example.com/mcp"
    allow = ["search"]                  # only these tools are offered
    enabled = false                     # configured, not started

Secrets (a token in ``env`` or ``headers``) belong in the vault, stored under the name the
value would have in the file: ``blufio config set-secret mcp.servers.search.headers.
Authorization``. A value in the file wins over the vault's; one that looks like a secret
(``*TOKEN*``, ``*KEY*``, ``Authorization``, ...) written in clear draws a warning.

A server name becomes the prefix of its tools' names (``files__read_file``), so it is
letters, digits, ``-`` and ``_`` only, without ``__``. Any unknown key, wrong type or
impossible combination is a ConfigError naming the table and the key.
"""

import re
from dataclasses import dataclass, field
from typing import Optional

from blufio.errors import ConfigError
from blufio.hints import command

DEFAULT_TIMEOUT = 60.0
NAME = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSW|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIAL|"
                          r"AUTHORIZATION|COOKIE|^X-API-KEY$", re.IGNORECASE)

_STRING = ("a string", lambda v: isinstance(v, str))
_STRINGS = ("a list of strings", lambda v: isinstance(v, list) and
            all(isinstance(i, str) for i in v))
_TABLE = ("a table of strings (e.g. { NAME = \"value\" })", lambda v: isinstance(v, dict) and
          all(isinstance(i, str) for i in v.values()))
_KEYS = {
    "command": _STRING, "args": _STRINGS, "env": _TABLE, "cwd": _STRING,
    "url": _STRING, "headers": _TABLE,
    "enabled": ("true or false", lambda v: isinstance(v, bool)),
    "allow": _STRINGS, "deny": _STRINGS,
    "timeout": ("a number of seconds above 0", lambda v: isinstance(v, (int, float))
                and not isinstance(v, bool) and v > 0),
}
_STDIO_ONLY = ("args", "env", "cwd")


@dataclass
class ServerSettings:
    """One configured MCP server."""

    name: str
    command: Optional[str] = None
    args: list = field(default_factory=list)
    env: dict = field(default_factory=dict)
    cwd: Optional[str] = None
    url: Optional[str] = None
    headers: dict = field(default_factory=dict)
    enabled: bool = True
    allow: Optional[list] = None  # None: every tool
    deny: list = field(default_factory=list)
    timeout: float = DEFAULT_TIMEOUT

    @property
    def transport(self):
        return "stdio" if self.command else "http"

    def permits(self, tool):
        """Whether the configuration lets the model use ``tool`` (an MCP tool name)."""
        return (self.allow is None or tool in self.allow) and tool not in self.deny

    def where(self):
        """How the server is reached, for listings (never headers or env values)."""
        return self.url if self.url else " ".join([self.command, *self.args])


def looks_secret(name):
    """Whether an ``env`` variable or header called ``name`` probably holds a secret."""
    return bool(_SECRET_NAME.search(name))


def secret_name(server, table, key):
    """The vault name of a secret ``env``/``headers`` value of ``server``."""
    return f"mcp.servers.{server}.{table}.{key}"


def parse_servers(servers_table, where, secrets=None):
    """``(servers, warnings)`` from the ``mcp.servers`` table of the file ``where``.

    ``servers`` maps each name to its ``ServerSettings``, in file order; ``secrets`` maps
    vault names (``mcp.servers.<name>.env.<VAR>``) to values, merged under the file's.
    """
    if not isinstance(servers_table, dict):
        raise ConfigError(f"{where}: 'mcp.servers' must hold tables, written "
                          "[mcp.servers.NAME]")
    servers, warnings = {}, []
    for name, table in servers_table.items():
        servers[name] = parse_server(name, table, where, secrets, warnings)
    return servers, warnings


def from_config(config):
    """``(servers, warnings)`` for the running configuration (file, environment, vault)."""
    source = config.source("mcp.servers")
    where = config.path if source in ("file", "default") else source
    return parse_servers(config.get("mcp.servers") or {}, where,
                         config.secrets_below("mcp.servers"))


def parse_server(name, table, where, secrets=None, warnings=None):
    """Check one ``[mcp.servers.<name>]`` table; return its ``ServerSettings``."""
    title = f"[mcp.servers.{name}]"
    if not NAME.match(name) or "__" in name:
        raise ConfigError(f"{where}: {title}: a server name is 1 to 32 letters, digits, '-' or "
                          "'_', without '__' (it prefixes the server's tool names)")
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: 'mcp.servers.{name}' must be a table, written {title}")
    _check_keys(table, where, title)
    _check_transport(table, where, title)
    copied = {key: (dict(value) if isinstance(value, dict) else
                    list(value) if isinstance(value, list) else value)
              for key, value in table.items() if key != "timeout"}
    settings = ServerSettings(name=name, **copied,
                              timeout=float(table.get("timeout", DEFAULT_TIMEOUT)))
    for kind in ("env", "headers"):
        _merge_secrets(settings, kind, secrets or {}, where, warnings)
    return settings


def _check_keys(table, where, title):
    for key, value in table.items():
        if key not in _KEYS:
            from blufio.config import did_you_mean

            raise ConfigError(f"{where}: {title} unknown key '{key}'{did_you_mean(key, _KEYS)}; "
                              f"a server has: {', '.join(_KEYS)}")
        expected, check = _KEYS[key]
        if not check(value):
            raise ConfigError(f"{where}: {title} '{key}' must be {expected}")


def _merge_secrets(settings, kind, secrets, where, warnings):
    """Add the vault's ``env``/``headers`` values the file lacks; warn about clear secrets."""
    values = getattr(settings, kind)
    for key, value in values.items():
        if looks_secret(key) and value and warnings is not None:
            warnings.append(f"{where}: [mcp.servers.{settings.name}] {kind}.{key} looks like a "
                            "secret written in clear; move it to the vault with "
                            f"'{command('config set-secret ' + secret_name(settings.name, kind, key))}'")
    prefix = secret_name(settings.name, kind, "")
    for vault_name, value in secrets.items():
        if vault_name.startswith(prefix) and vault_name[len(prefix):] not in values:
            values[vault_name[len(prefix):]] = value


def _check_transport(table, where, title):
    command, url = table.get("command"), table.get("url")
    if bool(command) == bool(url):
        raise ConfigError(f"{where}: {title} needs either 'command' (a program speaking stdio) "
                          "or 'url' (a Streamable HTTP endpoint), not "
                          f"{'both' if command else 'neither'}")
    if url:
        stray = [key for key in _STDIO_ONLY if key in table]
        if stray:
            raise ConfigError(f"{where}: {title} '{stray[0]}' is only for a server started by "
                              "'command', not one reached by 'url'")
        if not re.match(r"^https?://[^/\s]+", url):
            raise ConfigError(f"{where}: {title} 'url' must be an http:// or https:// URL, got "
                              f'"{url}"')
    elif "headers" in table:
        raise ConfigError(f"{where}: {title} 'headers' is only for a server reached by 'url'; "
                          "a command's secrets go in 'env'")
