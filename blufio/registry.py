"""The plugin registry: which plugins this build has, their state, and how to start them.

The registry reads the frozen build record (``blufio.build_record``), the catalog, each
plugin's manifest (``blufio.manifest``; never the adapter's code) and the layered
configuration (file, environment, vault), and gives every plugin of the build a state:

- ``enabled``: switched on (the default) and every required key is set;
- ``disabled``: switched off in ``[plugins]`` (file or ``BLUFIO_PLUGINS__<NAME>``);
- ``not-configured``: switched on, but a required key (e.g. ``telegram.bot_token``) is set
  nowhere: not in the file, the environment or the vault;
- ``incompatible``: the manifest does not parse, or needs a newer Blufio.

An adapter's module (the manifest's ``entry_point``, ``pkg.module:Class``) is imported only
by ``create()``, when that adapter is started. Commands that need a provider, storage or
channels ask the registry (``enabled(adapter_type)``, ``create(name, ...)``, ``require(adapter_type)``);
nothing else names an adapter.
"""

import blufio
from blufio import build_record
from blufio.errors import PluginError, UsageError
from blufio.hints import command as user_command

ENABLED = "enabled"
DISABLED = "disabled"
NOT_CONFIGURED = "not-configured"
INCOMPATIBLE = "incompatible"

# What a build cannot do without a plugin of each adapter type (the build warns with these).
ESSENTIAL_KINDS = (
    ("provider", "no provider plugin: the agent cannot answer (serve, shell)"),
    ("storage", "no storage plugin: sessions and the cost ledger cannot be kept"),
)


class PluginInfo:
    """One plugin of this build: catalog entry, manifest (None if broken) and state."""

    __slots__ = ("name", "adapter_type", "version", "description", "state", "reason", "manifest",
                 "entry")

    def __init__(self, name, adapter_type, version, description, state, reason, manifest, entry):
        self.name = name
        self.adapter_type = adapter_type
        self.version = version
        self.description = description
        self.state = state
        self.reason = reason  # one line for incompatible / not-configured, else None
        self.manifest = manifest
        self.entry = entry  # the catalog entry

    def as_dict(self):
        """A JSON-ready description (``plugin list --json``)."""
        return {"name": self.name, "type": self.adapter_type, "state": self.state,
                "version": self.version, "description": self.description,
                "reason": self.reason,
                "capabilities": list(self.manifest.capabilities if self.manifest
                                     else self.entry.get("capabilities", []))}


class PluginRegistry:
    """The plugins of the running build and their states under ``config``.

    ``config`` is a loaded ``blufio.config.Config``; ``build`` and ``catalog`` default to
    the frozen build record and the built-in catalog.
    """

    def __init__(self, config, build=None, catalog=None):
        self.config = config
        self.build = build if build is not None else build_record.current()
        self.catalog = catalog if catalog is not None else build_record.catalog()
        self._entries = {p["name"]: p for p in self.catalog["plugins"]}
        self._aliases = {alias: p["name"] for p in self.catalog["plugins"]
                         for alias in p.get("aliases", ())}
        self._plugins = {name: self._describe(name) for name in self.build["features"]
                         if name in self._entries}

    @classmethod
    def load(cls, cli_path=None, environ=None):
        """Load the configuration (``--config`` path or discovery) and build the registry."""
        from blufio.config import load_config

        return cls(load_config(cli_path, environ))

    # -- what is there -------------------------------------------------------------------

    def plugins(self):
        """Every plugin of this build, in build order."""
        return list(self._plugins.values())

    def enabled(self, adapter_type=None):
        """The enabled plugins (of ``adapter_type`` when given), in build order."""
        return [p for p in self._plugins.values()
                if p.state == ENABLED and adapter_type in (None, p.adapter_type)]

    def resolve(self, name):
        """The catalog name for ``name`` (an alias such as ``api`` gives ``gateway``).

        Unknown names raise a UsageError suggesting the closest catalog name.
        """
        key = name.strip().lower()
        key = self._aliases.get(key, key)
        if key in self._entries:
            return key
        from blufio.config import did_you_mean

        raise UsageError(f"'{name}' is not a Blufio plugin{did_you_mean(key, self.known_names())}; "
                         f"the plugins are: {', '.join(self._entries)}")

    def known_names(self):
        return [*self._entries, *self._aliases]

    def offering(self, adapter_type, capability):
        """The catalog's plugins of ``adapter_type`` that list ``capability``, in build or not."""
        return [p["name"] for p in self.catalog["plugins"]
                if p["adapter_type"] == adapter_type and capability in p.get("capabilities", ())]

    def in_build(self, name):
        return name in self._plugins

    def catalog_entry(self, name):
        return self._entries[name]

    def get(self, name):
        """The ``PluginInfo`` of ``name`` (alias allowed); a PluginError if not in this build."""
        name = self.resolve(name)
        if name not in self._plugins:
            raise PluginError(f"the {name} plugin is not in this build; "
                              f"rebuild with: {self.rebuild_command(name)}")
        return self._plugins[name]

    def rebuild_command(self, *add):
        """The exact command that builds this build again with the plugins ``add`` too."""
        wanted = set(self.build["features"]) | set(add)
        features = [p["name"] for p in self.catalog["plugins"] if p["name"] in wanted]
        command = (f"python3 build_zipapp.py --no-default-features --features "
                   f"{','.join(features)}")
        if self.build.get("python_version"):
            command += f" --python-version {self.build['python_version']}"
        if self.build.get("platform"):
            command += f" --platform {self.build['platform']}"
        return command + " -o blufio.pyz"

    # -- starting adapters ---------------------------------------------------------------

    def require(self, adapter_type):
        """The first enabled plugin of ``adapter_type``; a PluginError that says why when none is."""
        found = self.enabled(adapter_type)
        if found:
            return found[0]
        present = [p for p in self._plugins.values() if p.adapter_type == adapter_type]
        if not present:
            names = [p["name"] for p in self.catalog["plugins"]
                     if p["adapter_type"] == adapter_type]
            hint = f"; rebuild with: {self.rebuild_command(names[0])}" if names else ""
            raise PluginError(f"this build has no {adapter_type} plugin{hint}")
        why = "; ".join(f"{p.name} is {p.state}" + (f" ({p.reason})" if p.reason else "")
                        for p in present)
        raise PluginError(f"no {adapter_type} plugin is enabled: {why}")

    def create(self, name, config=None, *, allow_not_configured=False, **deps):
        """Import ``name``'s adapter class (its manifest ``entry_point``) and construct it.

        The class is called as ``Class(config, **deps)``, ``config`` being the layered
        ``Config`` (this registry's unless given). Only enabled plugins start (and
        ``not-configured`` ones when ``allow_not_configured``: ``serve`` starts a provider
        that lacks its key, and each turn then says which key to set); anything else is a
        PluginError with the plugin's state and reason.
        """
        info = self.get(name)
        if info.state != ENABLED and not (allow_not_configured and info.state == NOT_CONFIGURED):
            raise PluginError(f"the {info.name} plugin is {info.state}"
                              + (f": {info.reason}" if info.reason else
                                 f"; enable it with '{user_command('plugin install ' + info.name)}'"))
        adapter = self.adapter_class(info.name)(self.config if config is None else config,
                                                **deps)
        from blufio.contracts import contract_problems

        problems = contract_problems(adapter, info.adapter_type)
        if problems:
            raise PluginError(f"the {info.name} plugin does not keep the {info.adapter_type} contract "
                              f"(blufio/contracts.py): it {'; it '.join(problems)}")
        return adapter

    def adapter_class(self, name):
        """Import and return the adapter class of ``name`` (not constructed)."""
        import importlib

        info = self.get(name)
        if info.manifest is None:
            raise PluginError(f"the {info.name} plugin is incompatible: {info.reason}")
        module_name, _, attribute = info.manifest.entry_point.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise PluginError(f"the {info.name} plugin cannot be loaded: {module_name}: "
                              f"{exc}") from exc
        try:
            return getattr(module, attribute)
        except AttributeError:
            raise PluginError(f"the {info.name} plugin cannot be loaded: {module_name} has no "
                              f"'{attribute}' (entry_point in {info.manifest.path})") from None

    # -- states --------------------------------------------------------------------------

    def _describe(self, name):
        from blufio.manifest import incompatibility

        entry = self._entries[name]
        schema = self.config.schema
        manifest = schema.manifests.get(name)
        if manifest is None:
            error = schema.broken.get(name)
            reason = str(error) if error is not None else f"{name}: no manifest in this build"
            return PluginInfo(name, entry["adapter_type"], "?", entry["description"], INCOMPATIBLE,
                              reason, None, entry)
        info = PluginInfo(name, manifest.adapter_type, manifest.version, manifest.description,
                          ENABLED, None, manifest, entry)
        info.reason = incompatibility(manifest, blufio.__version__)
        if info.reason:
            info.state = INCOMPATIBLE
        elif not self.config.get(f"plugins.{name}"):
            info.state = DISABLED
        else:
            missing = self.missing_keys(manifest)
            if missing:
                info.state = NOT_CONFIGURED
                info.reason = "; ".join(_how_to_set(key) for key in missing)
        return info

    def missing_keys(self, manifest):
        """The required keys of ``manifest`` that are set nowhere (file, env or vault)."""
        return [key for key in manifest.config.values()
                if key.required and not self.config.is_set(key.dotted)]


def _how_to_set(key):
    command = "config set-secret" if key.secret else "config set"
    value = "" if key.secret else " VALUE"
    via_env = f" or {key.env}" if key.env else ""
    return (f"{key.dotted} is not set (set it with '{user_command(f'{command} {key.dotted}{value}')}'"
            f"{via_env})")

