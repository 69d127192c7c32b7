"""``blufio plugin list | search | info | install | remove | update``.

``list`` and ``search`` are on the light path: they load the configuration and the
registry and nothing heavier (no adapter code, no json unless ``--json``).
"""

import sys

from blufio.commands import print_table
from blufio.errors import UsageError
from blufio.registry import INCOMPATIBLE, NOT_CONFIGURED, PluginRegistry


def run(args):
    for name in ("list", "search", "info", "install", "remove", "update"):
        if args[name]:
            return globals()[f"cmd_{name}"](args)
    raise UsageError("unknown plugin command")  # pragma: no cover - docopt prevents it


def cmd_list(args):
    registry = PluginRegistry.load(args["--config"])
    plugins = registry.plugins()
    if args["--json"]:
        import json

        print(json.dumps([p.as_dict() for p in plugins], indent=2))
        return 0
    rows = [(p.name, p.adapter_type, p.state, p.version, p.reason or p.description) for p in plugins]
    print_table(("NAME", "TYPE", "STATE", "VERSION", "DESCRIPTION"), rows)
    print(f"\n{len(rows)} plugin{'s' if len(rows) != 1 else ''} listed.")
    _print_warnings(registry)
    return 0


def cmd_search(args):
    registry = PluginRegistry.load(args["--config"])
    query = (args["QUERY"] or "").strip().lower()
    found = [entry for entry in registry.catalog["plugins"] if _matches(entry, query)]
    if not found:
        print(f"no plugin in the catalog matches '{query}'", file=sys.stderr)
        return 1
    rows = []
    for entry in found:
        name = entry["name"]
        where = registry.get(name).state if registry.in_build(name) else "not in this build"
        rows.append((name, entry["adapter_type"], where, entry["description"]))
    print_table(("NAME", "TYPE", "IN THIS BUILD", "DESCRIPTION"), rows)
    missing = [entry["name"] for entry in found if not registry.in_build(entry["name"])]
    for name in missing:
        print(f"\n{name} is not in this build. Rebuild with it:\n"
              f"  {registry.rebuild_command(name)}")
    return 0


def cmd_info(args):
    registry = PluginRegistry.load(args["--config"])
    name = registry.resolve(args["NAME"])
    entry = registry.catalog_entry(name)
    if not registry.in_build(name):
        _print_fields([("name", name), ("type", entry["adapter_type"]),
                       ("state", "not in this build"), ("description", entry["description"]),
                       ("capabilities", ", ".join(entry["capabilities"]))])
        print(f"\nRebuild with it:\n  {registry.rebuild_command(name)}")
        return 0
    info = registry.get(name)
    manifest = info.manifest
    fields = [("name", name), ("type", info.adapter_type), ("state", info.state)]
    if info.reason:
        fields.append(("reason", info.reason))
    if manifest is None:
        fields.append(("description", info.description))
        _print_fields(fields)
        return 0
    fields += [("version", manifest.version), ("description", manifest.description),
               ("capabilities", ", ".join(manifest.capabilities)),
               ("min blufio", manifest.min_blufio_version),
               ("entry point", manifest.entry_point), ("manifest", manifest.path),
               ("config", f"[{manifest.config_section}]")]
    _print_fields(fields)
    if manifest.config:
        print()
        rows = [(key.dotted, key.type, *_key_status(registry.config, key), key.description)
                for key in manifest.config.values()]
        print_table(("KEY", "TYPE", "STATUS", "VALUE", "DESCRIPTION"), rows)
    return 0


def cmd_install(args):
    return _switch(args, True)


def cmd_remove(args):
    return _switch(args, False)


def cmd_update(args):
    import blufio

    registry = PluginRegistry.load(args["--config"])
    build = registry.build
    if args["NAME"]:
        name = registry.resolve(args["NAME"])
        if registry.in_build(name):
            print(f"{name} {registry.get(name).version} is part of blufio {blufio.__version__}.")
        else:
            print(f"{name} is not in this build; rebuild with: {registry.rebuild_command(name)}")
    print(f"This is blufio {blufio.__version__} (target {build['target']}"
          + (f", built {build['built_at']}" if build.get("built_at") else "")
          + f") with: {', '.join(build['features'])}.")
    print("Plugins are not updated one by one: a build is replaced as a whole file. Build or "
          "fetch a newer blufio.pyz and put it in place of this one; your configuration, "
          "vault and data stay where they are. To rebuild this selection from a newer "
          f"source tree:\n  {registry.rebuild_command()}")
    return 0


def _switch(args, enable):
    from blufio.config.editor import write_value

    registry = PluginRegistry.load(args["--config"])
    name = registry.resolve(args["NAME"])
    if not registry.in_build(name):
        if enable:
            raise UsageError(f"the {name} plugin is not in this build, so it cannot be "
                             f"enabled; rebuild with it: {registry.rebuild_command(name)}")
        raise UsageError(f"the {name} plugin is not in this build; there is nothing to remove")
    config = registry.config
    changed = write_value(config, "plugins", name, enable)
    state = "enabled" if enable else "disabled"
    print(f"{name} {state} in {config.path}" if changed
          else f"{name} is already {state} in {config.path}")
    override = _env_override(name)
    if override is not None:
        print(f"note: {override} is set and overrides the file for this run", file=sys.stderr)
    if enable:
        info = PluginRegistry.load(config.path).get(name)
        if info.state in (NOT_CONFIGURED, INCOMPATIBLE):
            print(f"note: {name} is {info.state}: {info.reason}", file=sys.stderr)
    return 0


def _env_override(name):
    import os

    from blufio.config.schema import env_variable

    variable = env_variable("plugins", name)
    return variable if variable in os.environ else None


def _matches(entry, query):
    if not query:
        return True
    haystack = [entry["name"], entry["description"], entry["adapter_type"], *entry["capabilities"],
                *entry.get("aliases", ())]
    return any(query in text.lower() for text in haystack)


def _key_status(config, key):
    """``(status, shown value)`` for a key; secrets are never shown or decrypted."""
    if not config.is_set(key.dotted):
        return ("missing" if key.required else "unset"), ""
    source = config.source(key.dotted)
    if key.type == "table":
        return f"set ({source})", ", ".join(config.get(key.dotted)) or "(none)"
    if key.secret:
        return f"set ({source})", "********"
    from blufio.commands import format_value

    return f"set ({source})", format_value(config.get(key.dotted))


def _print_fields(fields):
    width = max(len(label) for label, _ in fields)
    for label, value in fields:
        print(f"{label + ':':<{width + 1}} {value}")


def _print_warnings(registry):
    for warning in registry.config.warnings:
        print(f"warning: {warning}", file=sys.stderr)
