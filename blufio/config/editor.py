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
    text = ""
    if os.path.exists(path):
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except OSError as exc:
            raise ConfigError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    try:
        document = tomlkit.parse(text)
    except tomlkit.exceptions.ParseError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    table = document.get(section)
    if table is None:
        table = tomlkit.table()
        document[section] = table
    elif not isinstance(table, dict):
        raise ConfigError(f"{path}: '{section}' must be a table, written [{section}]")
    if table.get(name) == value and type(table.get(name)) is type(value):
        return False
    table[name] = value
    new_text = tomlkit.dumps(document)
    validate_document(config.schema, path, tomlkit.parse(new_text).unwrap())
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        ensure_private_dir(directory, "configuration directory",
                           "name a file in a directory you can write with --config or "
                           "BLUFIO_CONFIG (or set XDG_CONFIG_HOME)")
    try:
        atomic_write(path, new_text, mode=0o600)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be written ({exc.strerror or exc})") from exc
    return True
