"""Changing the user's configuration file in place, keeping comments and layout.

tomlkit edits the document; the result is validated as a whole before it replaces the file,
atomically, so a bad value or a crash never leaves a half-written or invalid file behind.
"""

import os

from blufio.config import check_value, parse_env_value, validate_document
from blufio.errors import ConfigError
from blufio.paths import atomic_write, ensure_private_dir


def set_key(config, dotted, raw):
    """Set ``dotted`` to ``raw`` (text, read as the key's type) in ``config``'s file.

    Returns the value written. Creates the file (and its directory) when there is none.
    """
    key = config.schema.key(dotted)
    value = check_value(key, parse_env_value(raw, key), f"value for {dotted}")
    write_value(config, key.section, key.name, value)
    return value


def write_value(config, section, name, value):
    """Write ``[section] name = value`` into ``config.path``, validated, atomically."""
    import tomlkit

    path = config.path
    document = _read_document(path)
    table = document.get(section)
    if table is None:
        table = tomlkit.table()
        document[section] = table
    elif not isinstance(table, dict):
        raise ConfigError(f"{path}: '{section}' must be a table, written [{section}]")
    if table.get(name) == value and type(table.get(name)) is type(value):
        return False
    table[name] = value
    _replace(config, document)
    return True


def add_tables(config, dotted, tables, check=None):
    """Add named tables below the table key ``dotted`` (``[mcp.servers.<name>]``), keeping
    the rest of the file as it is; values that are tables are written inline.

    ``check(document)`` (the parsed new file, as plain data) may raise ConfigError to refuse
    the result; nothing is written then.
    """
    import tomlkit

    document = _read_document(config.path)
    parent = document
    for part in dotted.split("."):
        child = parent.get(part)
        if child is None:
            child = parent[part] = tomlkit.table(is_super_table=True)
        elif not isinstance(child, dict):
            raise ConfigError(f"{config.path}: '{dotted}' must be a table, written "
                              f"[{dotted}.NAME]")
        parent = child
    for name, values in tables.items():
        table = tomlkit.table()
        for key, value in values.items():
            if isinstance(value, dict):
                inline = tomlkit.inline_table()
                inline.update(value)
                value = inline
            table[key] = value
        parent[name] = table
    _replace(config, document, check)


def _read_document(path):
    import tomlkit

    text = ""
    if os.path.exists(path):
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except OSError as exc:
            raise ConfigError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    try:
        return tomlkit.parse(text)
    except tomlkit.exceptions.ParseError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc


def _replace(config, document, check=None):
    """Validate ``document`` as the new file, then write it atomically (0600)."""
    import tomlkit

    path = config.path
    new_text = tomlkit.dumps(document)
    plain = tomlkit.parse(new_text).unwrap()
    validate_document(config.schema, path, plain)
    if check is not None:
        check(plain)
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        ensure_private_dir(directory, "configuration directory",
                           "name a file in a directory you can write with --config or "
                           "BLUFIO_CONFIG (or set XDG_CONFIG_HOME)")
    try:
        atomic_write(path, new_text, mode=0o600)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be written ({exc.strerror or exc})") from exc
