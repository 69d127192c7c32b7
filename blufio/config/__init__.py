"""Configuration: where the file is, how layers combine, and strict validation.

The file is ``--config PATH``, else ``$BLUFIO_CONFIG``, else ``./blufio.toml``, else
``$XDG_CONFIG_HOME/blufio/blufio.toml``. Values are layered, lowest first: defaults, vault
(secret keys only), file, environment (``BLUFIO_<SECTION>__<KEY>`` and the conventional
variables a key names, such as ``ANTHROPIC_API_KEY``). Unknown sections and keys and wrong
types are errors that name the file (or variable), the key and what was expected.
"""

import os

from blufio.config.schema import CORE_SECTIONS, PLUGINS_SECTION, TABLE, ConfigKey
from blufio.errors import ConfigError
from blufio.hints import command

__all__ = ["Config", "ConfigKey", "check_value", "did_you_mean", "find_config_file", "load_config",
           "parse_env_value", "validate_document"]

_FROM_VAULT = object()  # placeholder: the value is in the vault and decrypted on first use


def find_config_file(cli_path=None, environ=None):
    """Return ``(path, explicit)``: the configuration file to use and whether it was named.

    An explicit path (``--config`` or ``$BLUFIO_CONFIG``) is returned even if it does not
    exist; otherwise the first existing candidate, or the user-level path when none exists.
    """
    environ = os.environ if environ is None else environ
    if cli_path:
        return os.path.abspath(os.path.expanduser(cli_path)), True
    if environ.get("BLUFIO_CONFIG"):
        return os.path.abspath(os.path.expanduser(environ["BLUFIO_CONFIG"])), True
    local = os.path.abspath("blufio.toml")
    if os.path.isfile(local):
        return local, False
    xdg = environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(xdg, "blufio", "blufio.toml"), False


def parse_env_value(raw, key):
    """Read an environment value for ``key``: a TOML scalar, or the raw text for strings."""
    if key.type == "string":
        return raw
    if raw in ("true", "false"):  # the usual values, without importing tomllib
        return raw == "true"
    if raw.isascii() and raw.isdigit() and (raw == "0" or raw[0] != "0"):
        return int(raw)
    from blufio.config.toml import TOMLDecodeError, loads

    try:
        return loads(f"v = {raw}")["v"]
    except TOMLDecodeError:
        return raw


def did_you_mean(word, choices):
    """' (did you mean 'x'?)' for the choice closest to ``word``, or ''."""
    import difflib

    match = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{match[0]}'?)" if match else ""


class Schema:
    """Every section and key this build knows: the core ones and its plugins' ones."""

    def __init__(self, build_features, catalog, manifests, broken):
        self.sections = dict(CORE_SECTIONS)
        self.build_features = list(build_features)
        self.catalog_names = [p["name"] for p in catalog["plugins"]]
        # section name -> the catalog plugin it configures, in this build or not
        self.section_owner = {p["config_section"]: p["name"] for p in catalog["plugins"]}
        self.manifests = manifests  # plugin name -> Manifest, for plugins whose manifest parses
        self.broken = broken  # plugin name -> ManifestError
        for manifest in manifests.values():
            self.sections[manifest.config_section] = manifest.config

    @classmethod
    def for_build(cls):
        """The schema of the running build (its frozen feature list and their manifests)."""
        from blufio import build_record
        from blufio.manifest import ManifestError, load_manifest

        features = build_record.current()["features"]
        manifests, broken = {}, {}
        for name in features:
            try:
                manifests[name] = load_manifest(name)
            except ManifestError as exc:
                broken[name] = exc
        return cls(features, build_record.catalog(), manifests, broken)

    def key(self, dotted):
        """The ``ConfigKey`` for ``section.key``; a ConfigError naming the closest one if none."""
        section, _, name = dotted.partition(".")
        if not name:
            raise ConfigError(f"'{dotted}' is not a configuration key; keys look like "
                              f"'section.key', e.g. 'gateway.port'")
        if section == PLUGINS_SECTION:
            if name not in self.build_features:
                raise ConfigError(f"unknown key '{dotted}': '{name}' is not a plugin in this "
                                  f"build{did_you_mean(name, self.build_features)}")
            return ConfigKey(PLUGINS_SECTION, name, "boolean", default=True,
                             description=f"Whether the {name} plugin is enabled")
        if section not in self.sections:
            raise ConfigError(f"unknown section '{section}' in '{dotted}'"
                              f"{did_you_mean(section, self.known_sections())}")
        keys = self.sections[section]
        head, _, rest = name.partition(".")
        if rest and head in keys and keys[head].type == TABLE:
            return keys[head].below(rest)
        if name not in keys:
            raise ConfigError(f"unknown key '{dotted}'{did_you_mean(name, keys)}; "
                              f"[{section}] has: {', '.join(keys)}")
        return keys[name]

    def known_sections(self):
        return [*self.sections, PLUGINS_SECTION]

    def all_keys(self):
        for keys in self.sections.values():
            yield from keys.values()


class Config:
    """The layered configuration of one run.

    ``get("gateway.port")`` returns the effective value; ``source(...)`` says where it came
    from (``default``, ``vault``, ``file`` or an environment variable's name).
    """

    def __init__(self, path, file_exists, schema, values, sources, plugin_switches, warnings,
                 vault):
        self.path = path
        self.file_exists = file_exists
        self.schema = schema
        self._values = values
        self._sources = sources
        self.plugin_switches = plugin_switches  # [plugins] as set in file or environment
        self.warnings = warnings
        self.vault = vault
        self.secrets_in_file = []  # secret keys written in clear in the file

    def get(self, dotted):
        """The value of ``section.key`` (None when unset with no default)."""
        key = self.schema.key(dotted)
        if key.section == PLUGINS_SECTION:
            return self.plugin_switches.get(key.name, True)
        value = self._values.get(dotted, key.default)
        if value is _FROM_VAULT:
            value = self.vault.get(dotted)
            self._values[dotted] = value
        return value

    def is_set(self, dotted):
        """True when ``section.key`` has a value from any layer, defaults included."""
        key = self.schema.key(dotted)
        return dotted in self._values or key.default is not None

    def source(self, dotted):
        self.schema.key(dotted)
        return self._sources.get(dotted, "default")

    def section(self, name):
        """Every key of section ``name`` with its effective value, as a dict."""
        return {key: self.get(f"{name}.{key}") for key in self.schema.sections[name]}

    def secret_values(self):
        """Every secret value in effect (to scrub from logs), those inside tables included."""
        values = [v for k in self.schema.all_keys() if k.secret and self.is_set(k.dotted)
                  and k.type != TABLE for v in [self.get(k.dotted)] if v]
        for key in self.schema.all_keys():
            if key.type == TABLE and key.secret:
                values += [v for v in self.secrets_below(key.dotted).values() if v]
        return values

    def secrets_below(self, dotted):
        """The vault's values inside the table key ``dotted``, by their full dotted names
        (e.g. ``mcp.servers.github.env.GITHUB_TOKEN``); decrypted on this call."""
        prefix = dotted + "."
        return {name: self.get(name) for name, source in self._sources.items()
                if source == "vault" and name.startswith(prefix)}

    @property
    def data_dir(self):
        from blufio.paths import data_dir

        return data_dir()


def load_config(cli_path=None, environ=None, vault=None, schema=None, missing_ok=False):
    """Find, read, layer and validate the configuration; raise ConfigError on any mistake.

    ``vault`` supplies secret keys (``names()`` without decrypting, ``get(name)``); when
    None, the vault in the data directory is used if it exists. A file named explicitly
    (``--config``, ``BLUFIO_CONFIG``) must exist unless ``missing_ok`` (``config set``
    creates it).
    """
    environ = os.environ if environ is None else environ
    schema = schema or Schema.for_build()
    path, explicit = find_config_file(cli_path, environ)
    if vault is None:
        from blufio.vault import Vault

        vault = Vault.in_data_dir(environ)
    values, sources, switches, warnings = {}, {}, {}, []

    for dotted in vault.names():
        key = _try_key(schema, dotted)
        if key is not None and key.secret:
            values[dotted], sources[dotted] = _FROM_VAULT, "vault"

    file_exists = os.path.isfile(path)
    if explicit and not file_exists and not missing_ok:
        raise ConfigError(f"{path}: configuration file not found (named by "
                          f"{'--config' if cli_path else 'BLUFIO_CONFIG'})")
    if file_exists:
        from blufio.config.parsed import read_document

        document = read_document(path, _read_file, environ)
        _layer_file(schema, path, document, values, sources, switches, warnings)
    in_file = secrets_in_file(schema, sources, values)
    exposed = exposed_secrets_warning(path, in_file)
    if exposed:
        warnings.append(exposed)

    _layer_environment(schema, environ, values, sources, switches)
    config = Config(path, file_exists, schema, values, sources, switches, warnings, vault)
    config.secrets_in_file = in_file
    return config


def secrets_in_file(schema, sources, values):
    """The secret keys whose value comes from the configuration file, in clear (an empty
    one, a local server's key, is no secret; a table key's plugin judges what it holds)."""
    return [dotted for dotted, source in sources.items()
            if source == "file" and schema.key(dotted).secret
            and schema.key(dotted).type != TABLE and values.get(dotted) != ""]


def exposed_secrets_warning(path, secrets):
    """A warning when ``path`` holds ``secrets`` in clear and others may read it, or None."""
    if not secrets:
        return None
    try:
        mode = os.stat(path).st_mode & 0o777
    except OSError:
        return None
    if not mode & 0o077:
        return None
    return (f"{path}: holds {', '.join(secrets)} in clear and others may read it (mode "
            f"{mode:04o}); run 'chmod 600 {path}', or move the secret to the vault")


def validate_document(schema, path, document):
    """Raise ConfigError if the parsed TOML ``document`` would not load as ``path``."""
    _layer_file(schema, path, document, {}, {}, {}, [])


def _try_key(schema, dotted):
    try:
        return schema.key(dotted)
    except ConfigError:
        return None


def _read_file(path):
    from blufio.config.toml import TOMLDecodeError, loads

    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: is not UTF-8 text ({exc.reason})") from exc
    try:
        return loads(text)
    except TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc


def check_value(key, value, where):
    """``value`` in ``key``'s type, or a ConfigError naming ``where``, the key and the type."""
    if not key.accepts(value):
        shown = f"{value!r}" if not isinstance(value, str) else f'"{value}"'
        if key.secret:
            shown = "a value"
        raise ConfigError(f"{where}: '{key.dotted}' must be {key.expected()}, got {shown}")
    return key.coerce(value)


def _layer_file(schema, path, document, values, sources, switches, warnings):
    for section, table in document.items():
        if section == PLUGINS_SECTION:
            _layer_switches(schema, path, table, switches, warnings)
            continue
        if section not in schema.sections:
            owner = _absent_owner(schema, section)
            if owner:
                warnings.append(f"{path}: [{section}] belongs to the {owner} plugin, which "
                                f"{'is not in this build' if owner not in schema.broken else 'has a broken manifest'}; ignored")
                continue
            raise ConfigError(f"{path}: unknown section [{section}]"
                              f"{did_you_mean(section, schema.known_sections())}; known sections: "
                              f"{', '.join(schema.known_sections())}")
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: '{section}' must be a table, written [{section}]")
        keys = schema.sections[section]
        for name, value in table.items():
            if name not in keys:
                raise ConfigError(f"{path}: [{section}] unknown key '{name}'"
                                  f"{did_you_mean(name, keys)}; [{section}] has: {', '.join(keys)}")
            key = keys[name]
            values[key.dotted] = check_value(key, value, path)
            sources[key.dotted] = "file"
            # an empty key (a local server's) is no secret; a table's plugin knows its secrets
            if key.secret and value != "" and key.type != TABLE:
                warnings.append(f"{path}: '{key.dotted}' is a secret written in clear; move it "
                                f"to the vault with '{command('config set-secret ' + key.dotted)}'")


def _layer_switches(schema, path, table, switches, warnings):
    """The file's ``[plugins]`` table: ``name = true|false`` for plugins of this build."""
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [plugins] must be a table of name = true|false")
    for name, enabled in table.items():
        if name in schema.build_features:
            switches[name] = check_value(schema.key(f"plugins.{name}"), enabled, path)
        elif name in schema.catalog_names:
            warnings.append(f"{path}: [plugins] {name}: the {name} plugin is not in "
                            "this build; the setting has no effect")
        else:
            raise ConfigError(f"{path}: [plugins] '{name}' is not a plugin"
                              f"{did_you_mean(name, schema.catalog_names)}")


def _absent_owner(schema, section):
    """The catalog plugin a section belongs to when that plugin is not usable in this build."""
    owner = schema.section_owner.get(section)
    return owner if owner is not None and owner not in schema.manifests else None


def _layer_environment(schema, environ, values, sources, switches):
    for key in schema.all_keys():
        if key.env and environ.get(key.env):
            values[key.dotted] = check_value(key, parse_env_value(environ[key.env], key), key.env)
            sources[key.dotted] = key.env
    for variable, raw in environ.items():
        if not variable.startswith("BLUFIO_") or "__" not in variable:
            continue
        section, _, name = variable[len("BLUFIO_"):].lower().partition("__")
        try:
            key = schema.key(f"{section}.{name}")
        except ConfigError as exc:
            raise ConfigError(f"environment variable {variable}: {exc}") from None
        value = check_value(key, parse_env_value(raw, key), variable)
        if key.section == PLUGINS_SECTION:
            switches[key.name] = value
        else:
            values[key.dotted], sources[key.dotted] = value, variable
