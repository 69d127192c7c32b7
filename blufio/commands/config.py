"""``blufio config get | set | set-secret | validate | path``."""

import os
import sys

from blufio.commands import format_value
from blufio.config import find_config_file, load_config
from blufio.config.schema import TABLE
from blufio.errors import ConfigError
from blufio.hints import command

MASK = "********"


def run(args):
    if args["get"]:
        return get(args)
    if args["set"]:
        return set_value(args)
    if args["set-secret"]:
        return set_secret(args)
    if args["validate"]:
        return validate(args)
    return path(args)


def get(args):
    config = load_config(args["--config"])
    dotted = args["KEY"]
    key = config.schema.key(dotted)
    if not config.is_set(dotted):
        hint = (f"set it with '{command('config set-secret ' + dotted)}'" if key.secret
                else f"set it with '{command(f'config set {dotted} VALUE')}'")
        print(f"blufio: {dotted} is not set; {hint}", file=sys.stderr)
        return 1
    if key.type == TABLE:  # its values may hold secrets: name what is there, never show it
        names = ", ".join(config.get(dotted)) or "none"
        print(f"{MASK}  (tables: {names}; edit them in {config.path})")
        return 0
    if key.secret:
        print(MASK)  # never decrypt or print a secret
        return 0
    value = config.get(dotted)
    if dotted == "agent.model" and not value:
        value = _provider_model(config)
    print(format_value(value))
    return 0


def _provider_model(config):
    """The model the agent uses when ``agent.model`` is empty: the provider's own default
    (its ``<provider>.model`` key), as the agent picks it."""
    from blufio.registry import ENABLED, NOT_CONFIGURED, PluginRegistry

    for info in PluginRegistry(config).plugins():
        if info.adapter_type == "provider" and info.state in (ENABLED, NOT_CONFIGURED) \
                and f"{info.name}.model" in _keys(config):
            print(f"(agent.model is empty: {info.name}.model is used)", file=sys.stderr)
            return config.get(f"{info.name}.model")
    return ""


def _keys(config):
    return {key.dotted for key in config.schema.all_keys()}


def set_value(args):
    from blufio.config.editor import set_key

    config = load_config(args["--config"], missing_ok=True)
    dotted, raw = args["KEY"], args["VALUE"]
    key = config.schema.key(dotted)
    table = f"{key.section}.{key.name.split('.')[0]}"
    if key.type == TABLE or "." in key.name:
        raise ConfigError(f"'{dotted}' is in the table [{table}], which is edited in "
                          f"{config.path}; only a secret value inside it is set from the "
                          f"command line, with '{command(f'config set-secret {table}.NAME.KEY')}'")
    if key.secret:
        raise ConfigError(f"'{dotted}' is a secret; store it with "
                          f"'{command('config set-secret ' + dotted)}' so it is never written "
                          "in clear or kept in shell history")
    written = set_key(config, dotted, raw)
    print(f"{dotted} = {format_value(written)}  ({config.path})")
    _warn_overridden(config, dotted)
    _tighten(config)
    return 0


def _tighten(config):
    """A file holding a secret in clear that others may read is made 0600, and told."""
    secrets = config.secrets_in_file
    mode = os.stat(config.path).st_mode & 0o777
    if secrets and mode & 0o077:
        os.chmod(config.path, 0o600)
        print(f"note: {config.path} holds {', '.join(secrets)} in clear; made it private "
              f"(mode 0600, was {mode:04o})", file=sys.stderr)


def set_secret(args):
    config = load_config(args["--config"])
    dotted = args["KEY"]
    key = config.schema.key(dotted)
    if not key.secret:
        raise ConfigError(f"'{dotted}' is not a secret; use "
                          f"'{command(f'config set {dotted} VALUE')}'")
    value = _read_secret(dotted)
    if not value:
        raise ConfigError(f"no value given for {dotted}; nothing was stored")
    from blufio.paths import ensure_private_dir

    ensure_private_dir(config.vault.directory)
    config.vault.put(dotted, value)
    print(f"{dotted} stored in the vault ({config.vault.path})")
    _warn_overridden(config, dotted)
    return 0


def validate(args):
    config = load_config(args["--config"])
    config.vault.check()
    for warning in [*config.warnings, *_price_warnings(config), *_check_tables(config)]:
        print(f"warning: {warning}", file=sys.stderr)
    where = config.path if config.file_exists else f"defaults (no file at {config.path})"
    print(f"configuration OK: {where}")
    return 0


def _price_warnings(config):
    """One line per model the agent would use that has no price (and [cost.prices] checked)."""
    from blufio.agent.cost import configured_prices
    from blufio.agent.runtime import unpriced_models
    from blufio.registry import PluginRegistry

    configured_prices(config)
    return [f"no price for model '{model}' (provider {provider}): its calls will be costed at "
            f"the highest known rates; set [cost.prices.\"{model}\"] input and output (USD "
            f"per million tokens)" for provider, model in unpriced_models(config, PluginRegistry(config))]


def _check_tables(config):
    """Have each plugin with a ``table`` key check what it holds (``check_config`` on its
    adapter class, e.g. ``[mcp.servers.*]``); return their warnings."""
    from blufio.config.schema import TABLE
    from blufio.registry import INCOMPATIBLE, PluginRegistry

    registry = PluginRegistry(config)
    warnings = []
    for info in registry.plugins():
        if info.state != INCOMPATIBLE and any(key.type == TABLE
                                              for key in info.manifest.config.values()):
            warnings += registry.adapter_class(info.name).check_config(config)
    return warnings


def path(args):
    found, _ = find_config_file(args["--config"])
    print(found)
    if not os.path.isfile(found):
        print(f"(does not exist yet; '{command('config set')}' creates it)", file=sys.stderr)
    return 0


def _read_secret(dotted):
    if sys.stdin.isatty():
        import getpass

        return getpass.getpass(f"{dotted}: ")
    return sys.stdin.readline().rstrip("\r\n")


def _warn_overridden(config, dotted):
    source = config.source(dotted)
    if source not in ("default", "file", "vault"):
        print(f"note: {source} is set and overrides this value", file=sys.stderr)
