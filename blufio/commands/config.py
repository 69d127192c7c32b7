"""``blufio config get | set | set-secret | validate | path``."""

import os
import sys

from blufio.commands import format_value
from blufio.config import find_config_file, load_config
from blufio.errors import ConfigError

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
        hint = (f"set it with 'blufio config set-secret {dotted}'" if key.secret
                else f"set it with 'blufio config set {dotted} VALUE'")
        print(f"blufio: {dotted} is not set; {hint}", file=sys.stderr)
        return 1
    if key.secret:
        print(MASK)  # never decrypt or print a secret
        return 0
    print(format_value(config.get(dotted)))
    return 0


def set_value(args):
    from blufio.config.editor import set_key

    config = load_config(args["--config"])
    dotted, raw = args["KEY"], args["VALUE"]
    key = config.schema.key(dotted)
    if key.secret:
        raise ConfigError(f"'{dotted}' is a secret; store it with 'blufio config set-secret "
                          f"{dotted}' so it is never written in clear or kept in shell history")
    written = set_key(config, dotted, raw)
    print(f"{dotted} = {format_value(written)}  ({config.path})")
    _warn_overridden(config, dotted)
    return 0


def set_secret(args):
    config = load_config(args["--config"])
    dotted = args["KEY"]
    key = config.schema.key(dotted)
    if not key.secret:
        raise ConfigError(f"'{dotted}' is not a secret; use 'blufio config set {dotted} VALUE'")
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
    for warning in config.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    where = config.path if config.file_exists else f"defaults (no file at {config.path})"
    print(f"configuration OK: {where}")
    return 0


def path(args):
    found, _ = find_config_file(args["--config"])
    print(found)
    if not os.path.isfile(found):
        print("(does not exist yet; 'blufio config set' creates it)", file=sys.stderr)
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
