"""The frozen record of what this build contains.

``build_zipapp.py`` writes ``blufio/_frozen_build.py`` into the archive with three dicts as
Python literals: ``BUILD`` (``version``, ``features`` (plugin names), ``extras`` (the
catalog's extras it carries, e.g. ``uvloop``), ``target``, ``python_version``, ``platform``
and ``built_at``), ``CATALOG`` (``catalog.json``) and
``MANIFESTS`` (each built-in plugin's ``plugin.toml``, already parsed, so an archive needs no
TOML parser to read them). Run from a
source checkout there is no such module, and the record is the catalog's default bundle.
The registry reads this record; it never guesses from what happens to be importable.
"""

import os

import blufio


def current():
    """Return the build record as a dict (see the module docstring)."""
    try:
        from blufio._frozen_build import BUILD
    except ImportError:
        return source_build()
    return BUILD


def source_build():
    """The record of a source checkout: the default bundle, target ``source``; its
    ``extras`` are None (whichever of them is installed is used)."""
    return {
        "version": blufio.__version__,
        "features": [p["name"] for p in catalog()["plugins"] if p["default"]],
        "extras": None,
        "target": "source",
        "built_at": None,
    }


def catalog():
    """The built-in catalog (``catalog.json``): every plugin Blufio knows."""
    try:
        from blufio._frozen_build import CATALOG
    except ImportError:
        import json

        return json.loads(read_package_file("catalog.json"))
    return CATALOG


def frozen_manifest(plugin_name):
    """The parsed ``plugin.toml`` of ``plugin_name`` baked into an archive, or None."""
    try:
        from blufio._frozen_build import MANIFESTS
    except ImportError:
        return None
    return MANIFESTS.get(plugin_name)


def read_package_file(*parts):
    """Read a file shipped inside the ``blufio`` package, from a directory or an archive."""
    path = os.path.join(os.path.dirname(blufio.__file__), *parts)
    return blufio.__loader__.get_data(path).decode("utf-8")
