"""The catalog (``catalog.json``) and the features a build selects from it.

A feature is either a plugin (``plugins``: an adapter with a manifest, created by the
registry) or an extra (``extras``): a third-party package Blufio uses when the build carries
it and does without otherwise, with no adapter type, manifest or configuration of its own
(``uvloop``: the event loop, see ``blufio.eventloop``). Both are chosen the same way
(``--features``, ``--no-default-features``) and their ``packages`` pinned in ``wheels.lock``
the same way; the build records the extras it carries in ``BUILD["extras"]``. An extra
mirrors the optional dependency of the same name in ``pyproject.toml`` (``blufio[uvloop]``).
"""

import json

from blufio.errors import BuildUsageError
from blufio.registry import ESSENTIAL_KINDS
from blufio_build import CATALOG_PATH


def load_catalog(path=CATALOG_PATH):
    """The parsed catalog."""
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def extras_of(catalog):
    """The catalog's extras (a catalog may have none)."""
    return catalog.get("extras", [])


def every_feature(catalog):
    """The names of every plugin and every extra, in catalog order."""
    return [entry["name"] for entry in (*catalog["plugins"], *extras_of(catalog))]


def select_features(catalog, requested, defaults, allow_incomplete):
    """``(features, extras, gaps)``: the plugin names and the extra names to build, each in
    catalog order, and what the selection lacks (see ``ESSENTIAL_KINDS``).

    ``requested`` are names or aliases, any case, blanks ignored; ``defaults`` starts from
    the default bundle. An unknown name, or gaps without ``allow_incomplete``, raise
    ``BuildUsageError``.
    """
    chosen = {canonical_feature(catalog, raw) for raw in requested if raw.strip()}
    if defaults:
        chosen |= {e["name"] for e in (*catalog["plugins"], *extras_of(catalog))
                   if e["default"]}
    plugins = [p for p in catalog["plugins"] if p["name"] in chosen]
    gaps = gaps_of(plugins)
    if gaps and not allow_incomplete:
        raise BuildUsageError("this selection is incomplete: " + "; ".join(gaps)
                              + ". Add one (e.g. --features anthropic,sqlite) or pass "
                              "--allow-incomplete to build it anyway")
    extras = [e["name"] for e in extras_of(catalog) if e["name"] in chosen]
    return [p["name"] for p in plugins], extras, gaps


def gaps_of(plugins):
    """What a build of ``plugins`` (catalog entries) lacks (see ``ESSENTIAL_KINDS``)."""
    kinds = {p["adapter_type"] for p in plugins}
    return [why for kind, why in ESSENTIAL_KINDS if kind not in kinds]


def canonical_feature(catalog, raw):
    """The plugin or extra name ``raw`` (a name or alias, any case) means;
    ``BuildUsageError`` if none."""
    name = raw.strip().lower()
    for entry in (*catalog["plugins"], *extras_of(catalog)):
        if name == entry["name"] or name in entry.get("aliases", ()):
            return entry["name"]
    valid = ", ".join(p["name"] + (f" (alias {', '.join(p['aliases'])})"
                                   if p.get("aliases") else "") for p in catalog["plugins"])
    extras = ", ".join(e["name"] for e in extras_of(catalog))
    raise BuildUsageError(f"unknown feature '{raw}'; valid features: {valid}"
                          + (f"; extras: {extras}" if extras else ""))


def feature_lines(catalog):
    """``--list-features``: one line per plugin, then one per extra (type ``extra``),
    defaults marked, and a legend."""
    lines = []
    for entry in (*catalog["plugins"], *extras_of(catalog)):
        kind = entry.get("adapter_type", "extra")
        alias = f" (alias: {', '.join(entry['aliases'])})" if entry.get("aliases") else ""
        mark = "*" if entry["default"] else " "
        lines.append(f"{mark} {entry['name']:<12} {kind:<14} {entry['description']}{alias}")
    legend = ["", "* in the default bundle"]
    if extras_of(catalog):
        legend.append("extra: a package (not a plugin) that Blufio uses when the build "
                      "carries it")
    return lines + legend
