"""The ``blufio skill`` commands of the ``mcp`` plugin.

- ``list``: every tool of every configured server with its state (available, denied, server
  down and why, disabled); servers are started for the listing and stopped after it.
- ``info SERVER``: how the server is reached, its state, what it says about itself, and its
  tools.
- ``call SERVER TOOL [JSON]``: run one tool directly, to check a configuration; exit 1 when
  the tool reports an error.
- ``import FILE``: add the servers of a Claude Desktop / Cursor ``mcpServers`` JSON to the
  configuration file (comments and layout kept), their secrets to the vault.
"""

import asyncio
import base64
import json
import sys

from blufio import eventloop
from blufio.commands import print_table
from blufio.errors import UsageError
from blufio.hints import command


def run(args, registry):
    for name in ("list", "info", "call", "import"):
        if args[name]:
            return globals()[f"cmd_{name}"](args, registry)
    raise UsageError("unknown skill command")  # pragma: no cover - docopt prevents it


async def _with_runtime(registry, work, only=None):
    """Create the runtime, start ``only`` that server (or all), run ``work(runtime)``."""
    runtime = registry.create("mcp")
    try:
        if only is None:
            await runtime.start()
            await runtime.wait_started()
        else:
            server = runtime.servers.get(only)
            task = server.start()
            if task is not None:
                await asyncio.shield(task)
        return await work(runtime)
    finally:
        await runtime.shutdown()


def cmd_list(args, registry):
    async def work(runtime):
        return [_rows(server, runtime) for server in runtime.servers.servers.values()]

    per_server = eventloop.run(_with_runtime(registry, work))
    rows = [row for rows in per_server for row in rows]
    if args["--json"]:
        print(json.dumps([dict(zip(("tool", "server", "state", "detail"), row, strict=True))
                          for row in rows], indent=2))
        return 0
    if not rows:
        print("No MCP server is configured. Add one as [mcp.servers.NAME] in the configuration "
              f"file, or import a Claude Desktop config with '{command('skill import FILE')}'.")
        return 0
    print_table(("TOOL", "SERVER", "STATE", "DESCRIPTION"), rows)
    tools = sum(1 for row in rows if row[0] != "-")
    down = sum(1 for server in per_server if server and server[0][2] == "server down")
    print(f"\n{tools} tool{'s' if tools != 1 else ''} from {len(per_server)} server"
          f"{'s' if len(per_server) != 1 else ''}" + (f" ({down} down)" if down else "") + ".")
    return 0


def _rows(server, runtime):
    skills = [s for s in runtime.skills() if s.server == server.name]
    if server.state == "disabled":
        return [("-", server.name, "disabled", "enabled = false in the configuration")]
    if server.state != "ready" and not skills:
        return [("-", server.name, f"server {server.state}", server.error or "")]
    if not skills:
        return [("-", server.name, "available", "(the server offers no tools)")]
    return [(s.name, s.server, s.state, _first_line(s.description)) for s in skills]


def _first_line(text, width=70):
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return line if len(line) <= width else line[:width - 1] + "…"


def cmd_info(args, registry):
    name = args["SERVER"]

    async def work(runtime):
        server = runtime.servers.get(name)
        settings, client = server.settings, server.client
        fields = [("server", name), ("transport", settings.transport),
                  ("reached at", settings.where()), ("state", server.state)]
        if server.error:
            fields.append(("error", server.error))
        if client is not None:
            info = client.server_info
            fields += [("protocol", client.protocol_version),
                       ("server info", f"{info.get('name', '?')} {info.get('version', '')}"),
                       ("instructions", _first_line(client.instructions) or "-")]
        fields += [("timeout", f"{settings.timeout:g}s"),
                   ("allow", ", ".join(settings.allow) if settings.allow is not None else "all"),
                   ("deny", ", ".join(settings.deny) or "-")]
        return fields, [(s.name, s.state, _first_line(s.description, 60))
                        for s in runtime.skills() if s.server == name]

    fields, tools = eventloop.run(_with_runtime(registry, work, only=name))
    width = max(len(label) for label, _ in fields)
    for label, value in fields:
        print(f"{label + ':':<{width + 1}} {value}")
    if tools:
        print()
        print_table(("TOOL", "STATE", "DESCRIPTION"), tools)
    return 0


def cmd_call(args, registry):
    server, tool = args["SERVER"], args["TOOL"]
    try:
        arguments = json.loads(args["JSON"]) if args["JSON"] else {}
    except ValueError as exc:
        raise UsageError(f"the tool's input is not valid JSON ({exc}); write it as one "
                         "argument, e.g. '{\"path\": \"notes.txt\"}'") from None
    if not isinstance(arguments, dict):
        raise UsageError("the tool's input must be a JSON object, e.g. '{\"path\": \"x\"}'")

    async def work(runtime):
        return await runtime.call(server, tool, arguments)

    blocks, is_error = eventloop.run(_with_runtime(registry, work, only=server))
    out = sys.stderr if is_error else sys.stdout
    for block in blocks:
        if block["type"] == "text":
            print(block["text"], file=out)
        else:
            source = block.get("source", {})
            size = len(base64.b64decode(source.get("data", "")))
            print(f"[{block['type']}: {source.get('media_type', '?')}, {size} bytes]", file=out)
    return 1 if is_error else 0


def cmd_import(args, registry):
    from blufio.config.editor import add_tables
    from blufio.plugins.mcp.importer import convert, read_servers
    from blufio.plugins.mcp.settings import parse_servers

    config = registry.config
    path = args["FILE"]
    existing = config.get("mcp.servers") or {}
    imported = convert(read_servers(path), path, existing)

    def check(document):  # the result must load as 'config validate' would load it
        servers = document.get("mcp", {}).get("servers", {})
        parse_servers(servers, config.path, dict.fromkeys(imported.secrets, "x"))

    if imported.tables:
        add_tables(config, "mcp.servers", imported.tables, check)
    if imported.secrets:
        from blufio.paths import ensure_private_dir

        ensure_private_dir(config.vault.directory)
        for name, value in imported.secrets.items():
            config.vault.put(name, value)
    for note in imported.notes:
        print(f"note: {note}", file=sys.stderr)
    names = ", ".join(imported.tables) or "none"
    print(f"imported {len(imported.tables)} MCP server{'s' if len(imported.tables) != 1 else ''} "
          f"into {config.path}: {names}")
    for name in imported.secrets:
        print(f"  {name} stored in the vault")
    if imported.tables:
        print("Check them with: blufio skill list")
    return 0
