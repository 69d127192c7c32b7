"""What a configuration key is, the core sections, and how values are type-checked.

Plugin sections come from each plugin's ``plugin.toml`` (see ``blufio.manifest``); the core
sections are declared here in the same shape. Plain classes and literals only: this module
is on the start-up path of every command.
"""

# type name -> (what the user is told was expected, check)
_SCALAR_CHECKS = {
    "string": ("a string", lambda v: isinstance(v, str)),
    "integer": ("an integer", lambda v: isinstance(v, int) and not isinstance(v, bool)),
    "number": ("a number", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)),
    "boolean": ("true or false", lambda v: isinstance(v, bool)),
    # a number of processes: 1 or more, or "auto" (one per CPU)
    "processes": ('a whole number of at least 1, or "auto"',
                  lambda v: v == "auto" or (isinstance(v, int) and not isinstance(v, bool)
                                            and v >= 1)),
}
# A ``table`` key holds named tables of its plugin's own shape (``[mcp.servers.<name>]``):
# the core checks only that it is a table; the plugin checks the rest (``check_config``).
# Below a secret table key, any dotted name (``mcp.servers.x.env.TOKEN``) is a secret
# string that may live in the vault.
TABLE = "table"
TYPES = frozenset(_SCALAR_CHECKS) | {name + "[]" for name in _SCALAR_CHECKS} | {TABLE}



def env_variable(section, name):
    """The ``BLUFIO_<SECTION>__<KEY>`` variable that overrides ``section.name``."""
    return f"BLUFIO_{section.upper()}__{name.upper()}"

class ConfigKey:
    """One configuration key: ``section.name``, its type, default and how it may be set.

    ``required`` keys make their plugin *not-configured* while unset; ``secret`` keys are
    masked in output, may live in the vault, and draw a warning when written in clear in
    the file; ``env`` names a conventional variable (e.g. ``ANTHROPIC_API_KEY``) read
    besides ``BLUFIO_<SECTION>__<KEY>``.
    """

    __slots__ = ("section", "name", "type", "required", "secret", "default", "env", "description")

    def __init__(self, section, name, type, *, required=False, secret=False, default=None,
                 env=None, description=""):
        self.section = section
        self.name = name
        self.type = type
        self.required = required
        self.secret = secret
        self.default = default
        self.env = env
        self.description = description

    @property
    def dotted(self):
        return f"{self.section}.{self.name}"

    @property
    def env_override(self):
        """The ``BLUFIO_<SECTION>__<KEY>`` variable that overrides this key."""
        return env_variable(self.section, self.name)

    def expected(self):
        """How the expected type reads in an error message."""
        if self.type == TABLE:
            return f"a table, written [{self.dotted}.NAME]"
        if self.type.endswith("[]"):
            return f"a list of {_SCALAR_CHECKS[self.type[:-2]][0].split(' ', 1)[1]}s"
        return _SCALAR_CHECKS[self.type][0]

    def accepts(self, value):
        """True when ``value`` (as parsed from TOML) has this key's type."""
        if self.type == TABLE:
            return isinstance(value, dict)
        if self.type.endswith("[]"):
            check = _SCALAR_CHECKS[self.type[:-2]][1]
            return isinstance(value, list) and all(check(item) for item in value)
        return _SCALAR_CHECKS[self.type][1](value)

    def below(self, rest):
        """The key ``rest`` (dotted) inside this table key: a string, secret like its table."""
        return ConfigKey(self.section, f"{self.name}.{rest}", "string", secret=self.secret,
                         description=f"A value inside [{self.dotted}]")

    def coerce(self, value):
        """Return ``value`` in this key's canonical Python type (an integer for a number)."""
        if self.type == "number" and isinstance(value, int):
            return float(value)
        return value


def _section(name, keys):
    return {key: ConfigKey(name, key, spec.pop("type"), **spec) for key, spec in keys.items()}


# The sections that belong to Blufio itself rather than to a plugin.
CORE_SECTIONS = {
    "agent": _section("agent", {
        "system_prompt": {"type": "string",
                          "default": "You are Blufio, a helpful personal assistant. Be concise.",
                          "description": "The system prompt sent with every turn"},
        "model": {"type": "string", "default": "",
                  "description": "Model to use; empty means the provider's own default"},
        "max_tokens": {"type": "integer", "default": 4096,
                       "description": "Most output tokens per provider call"},
        "max_tool_rounds": {"type": "integer", "default": 8,
                            "description": "Most tool-calling rounds in one turn"},
        "max_history_messages": {"type": "integer", "default": 200,
                                 "description": "Most stored messages sent as history per turn"},
        "max_history_tokens": {"type": "integer", "default": 100000,
                               "description": "Roughly the most tokens of history sent per "
                                              "turn (4 characters a token); oldest dropped first"},
        "drain_timeout": {"type": "number", "default": 30.0,
                          "description": "Seconds serve waits for in-flight turns on shutdown"},
        "provider": {"type": "string", "default": "",
                     "description": "The provider plugin to think with; empty means the only "
                                    "one configured, else anthropic"},
        "fallback": {"type": "string[]", "default": [],
                     "description": "Providers a call moves to, in order, when the provider "
                                    "fails before any output"},
        "breaker_failures": {"type": "integer", "default": 3,
                             "description": "Failures within breaker_window that make a "
                                            "provider be skipped for breaker_cooldown"},
        "breaker_window": {"type": "number", "default": 60.0,
                           "description": "Seconds over which a provider's failures count"},
        "breaker_cooldown": {"type": "number", "default": 30.0,
                             "description": "Seconds a failing provider is skipped before one "
                                            "call tries it again"},
    }),
    "memory": _section("memory", {
        "enabled": {"type": "boolean", "default": True,
                    "description": "Recall memories and past messages before each turn, "
                                   "offer the memory tools, and compact long sessions"},
        "recall_tokens": {"type": "integer", "default": 800,
                          "description": "Roughly the most tokens of recalled memory added "
                                         "to a turn (4 characters a token); 0 recalls nothing"},
        "scope": {"type": "string", "default": "all",
                  "description": "Recall from 'all' sessions, or only the turn's 'channel'"},
    }),
    "cost": _section("cost", {
        "daily_budget_usd": {"type": "number",
                             "description": "Spend allowed per UTC day; unset means no limit"},
        "monthly_budget_usd": {"type": "number",
                               "description": "Spend allowed per UTC month; unset means no limit"},
        "prices": {"type": TABLE, "default": {},
                   "description": "USD per million tokens by model: [cost.prices.\"<model>\"] "
                                  "input, output, cache_read, cache_write"},
        "scheduled_daily_budget_usd": {"type": "number",
                                       "description": "Spend allowed per UTC day for all "
                                                      "scheduled runs together; a schedule "
                                                      "that would run past it is paused"},
    }),
    "schedules": _section("schedules", {
        "timezone": {"type": "string", "default": "UTC",
                     "description": "IANA time zone of schedules made without one "
                                    "(e.g. Europe/Paris)"},
        "catch_up": {"type": "string", "default": "once",
                     "description": "What a run missed while Blufio was down becomes: 'once' "
                                    "(run once on start) or 'skip'"},
    }),
    "tools": _section("tools", {
        "workspace": {"type": "string", "default": "",
                      "description": "Directory file tools are confined to; empty means "
                                     "'workspace' in the data directory"},
        "skills": {"type": "boolean", "default": True,
                   "description": "Let the model use the tools of skill runtimes (MCP servers)"},
        "http_fetch": {"type": "boolean", "default": False,
                       "description": "Let the model fetch web pages"},
        "allow_private_addresses": {"type": "boolean", "default": False,
                                    "description": "Let http_fetch reach loopback, private and "
                                                   "link-local addresses"},
        "shell": {"type": "boolean", "default": False,
                  "description": "Let the model run shell commands in the workspace"},
        "shell_timeout": {"type": "number", "default": 30.0,
                          "description": "Seconds a shell command may run"},
    }),
}

# ``[plugins]`` maps plugin names to true/false; its keys are the plugins of the build.
PLUGINS_SECTION = "plugins"
