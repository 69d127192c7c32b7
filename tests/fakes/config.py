"""Build a real ``blufio.config.Config`` for a test, from TOML text and variables."""

import os

from blufio.config import load_config


class EmptyVault:
    """A vault with nothing in it (tests never touch the user's vault)."""

    directory = ""
    path = ""

    def names(self):
        return []

    def get(self, name):
        return None


def make_config(tmp_path, toml="", environ=None, vault=None):
    """Write ``toml`` to ``tmp_path/blufio.toml`` and load it with ``environ`` only."""
    path = os.path.join(str(tmp_path), "blufio.toml")
    with open(path, "w", encoding="utf-8") as f:
        f.write(toml)
    return load_config(path, environ=dict(environ or {}), vault=vault or EmptyVault())
