"""The catalog (``catalog.json``) and the features a build selects from it."""

import json

from blufio.errors import BuildUsageError
from blufio.registry import ESSENTIAL_KINDS
from blufio_build import CATALOG_PATH


def load_catalog(path=CATALOG_PATH):
    """The parsed catalog."""
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def select_features(catalog, requested, defaults, allow_incomplete):
    """``(features, gaps)``: the plugin names to build, in catalog order, and what the
    selection lacks (see ``ESSENTIAL_KINDS``).

    ``requested`` are names or aliases, any case, blanks ignored; ``defaults`` starts from
    the default bundle. An unknown name, or gaps without ``allow_incomplete``, raise
    ``BuildUsageError``.
    """
    chosen = {p["name"] for p in catalog["plugins"] if p["default"]} if defaults else set()
    for raw in requested:
        if raw.strip():
            chosen.add(canonical_feature(catalog, raw))
    features = [p["name"] for p in catalog["plugins"] if p["name"] in chosen]
    kinds = {p["adapter_type"] for p in catalog["plugins"] if p["name"] in chosen}
    gaps = [why for kind, why in ESSENTIAL_KINDS if kind not in kinds]
    if gaps and not allow_incomplete:
        raise BuildUsageError("this selection is incomplete: " + "; ".join(gaps)
                              + ". Add one (e.g. --features anthropic,sqlite) or pass "
                              "--allow-incomplete to build it anyway")
    return features, gaps


def canonical_feature(catalog, raw):
    """The plugin name ``raw`` (a name or alias, any case) means; ``BuildUsageError`` if none."""
    name = raw.strip().lower()
    for plugin in catalog["plugins"]:
        if name == plugin["name"] or name in plugin.get("aliases", ()):
            return plugin["name"]
    valid = ", ".join(p["name"] + (f" (alias {', '.join(p['aliases'])})"
                                   if p.get("aliases") else "") for p in catalog["plugins"])
    raise BuildUsageError(f"unknown feature '{raw}'; valid features: {valid}")


def feature_lines(catalog):
    """``--list-features``: one line per plugin, defaults marked, and a legend."""
    lines = []
    for p in catalog["plugins"]:
        alias = f" (alias: {', '.join(p['aliases'])})" if p.get("aliases") else ""
        mark = "*" if p["default"] else " "
        lines.append(f"{mark} {p['name']:<12} {p['adapter_type']:<14} {p['description']}{alias}")
    return lines + ["", "* in the default bundle"]
