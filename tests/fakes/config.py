"""Build a real ``blufio.config.Config`` for a test, from TOML text and variables."""

import os

from blufio.config import load_config
from blufio.vault import Vault


def make_config(tmp_path, toml="", environ=None, vault=None, features=None):
    """Write ``toml`` to ``tmp_path/blufio.toml`` and load it with ``environ`` only, over a
    vault of the test's own (``tmp_path/vault``), never the user's. ``features`` adds
    plugins outside the default bundle (e.g. ``["openai"]``) to the build it describes."""
    path = os.path.join(str(tmp_path), "blufio.toml")
    with open(path, "w", encoding="utf-8") as f:
        f.write(toml)
    environ = dict(environ or {})
    vault = vault or Vault(os.path.join(str(tmp_path), "vault"), environ)
    return load_config(path, environ=environ, vault=vault, schema=_schema(features))


def _schema(features):
    if not features:
        return None
    from blufio import build_record
    from blufio.config import Schema
    from blufio.manifest import load_manifest

    names = [*build_record.current()["features"], *features]
    return Schema(names, build_record.catalog(), {n: load_manifest(n) for n in names}, {})
