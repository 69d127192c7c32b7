"""The command line: parse with docopt-ng, dispatch to ``blufio.commands.<name>``.

Nothing heavy is imported here; each command module imports what it needs when it runs.
Exit codes: 0 success, 1 failure at run time, 2 usage or configuration error. Errors are one
line on stderr; ``--debug`` adds the traceback.
"""

import sys

USAGE = """\
Blufio: an always-on personal AI agent.

Usage:
  blufio [options] serve
  blufio [options] shell [--session ID]
  blufio [options] config get KEY
  blufio [options] config set KEY VALUE
  blufio [options] config set-secret KEY
  blufio [options] config validate
  blufio [options] config path
  blufio [options] plugin list [--json]
  blufio [options] plugin search [QUERY]
  blufio [options] plugin info NAME
  blufio [options] plugin install NAME
  blufio [options] plugin remove NAME
  blufio [options] plugin update [NAME]
  blufio [options] auth token [--name N] [--expires D]
  blufio [options] auth list [--json]
  blufio [options] auth revoke ID
  blufio [options] auth rotate
  blufio [options] skill list [--json]
  blufio [options] skill info SERVER
  blufio [options] skill call SERVER TOOL [JSON]
  blufio [options] skill import FILE
  blufio -h | --help
  blufio --version

Options:
  -c PATH, --config PATH  Configuration file (default: $BLUFIO_CONFIG, ./blufio.toml,
                          then ~/.config/blufio/blufio.toml).
  --debug                 Show debug logs, and tracebacks with errors.
  -h, --help              Show this help.
  --version               Show the version and this build's plugins.
  --json                  Print machine-readable JSON.
  --session ID            Continue the stored session ID (shell).
  --name N                A name for the new token, shown by 'auth list'.
  --expires D             How long the new token lives: 30s, 15m, 1h or 30d
                          (default: [auth] default_expiry).
"""

# The first word of a command line -> the module whose ``run(args)`` carries it out.
COMMANDS = {
    "serve": "blufio.commands.serve",
    "shell": "blufio.commands.shell",
    "config": "blufio.commands.config",
    "plugin": "blufio.commands.plugin",
    "auth": "blufio.commands.auth",
    "skill": "blufio.commands.skill",
}

# Commands that exist only when the build has a plugin of a kind: command -> kind.
NEEDS_KIND = {"skill": "skill_runtime"}


def usage():
    """The usage text of this build: a command whose plugin kind is not in the build (e.g.
    ``skill`` without a skill runtime) is left out."""
    from blufio import build_record

    kinds = {p["name"]: p["kind"] for p in build_record.catalog()["plugins"]}
    present = {kinds.get(name) for name in build_record.current()["features"]}
    absent = [command for command, kind in NEEDS_KIND.items() if kind not in present]
    lines = [line for line in USAGE.splitlines(keepends=True)
             if not any(line.startswith(f"  blufio [options] {command} ") for command in absent)]
    return "".join(lines)


def main(argv=None):
    """Run the command line ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    argv = sys.argv[1:] if argv is None else argv
    debug = "--debug" in argv
    try:
        if not argv or argv in (["-h"], ["--help"]):
            print(usage(), end="")
            return 0
        args = _fast_parse(argv) or _parse(argv)
        if args["--help"]:
            print(usage(), end="")
            return 0
        if args["--version"]:
            return _print_version()
        import importlib

        command = next(name for name in COMMANDS if args[name])
        return importlib.import_module(COMMANDS[command]).run(args) or 0
    except KeyboardInterrupt:
        print("blufio: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (e.g. `blufio plugin list | head -1`): stop quietly, and keep
        # the interpreter's final flush from complaining.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except Exception as exc:
        from blufio.errors import BlufioError

        if debug:
            import traceback

            traceback.print_exc()
        if isinstance(exc, BlufioError):
            print(f"blufio: error: {exc}", file=sys.stderr)
            return exc.exit_code
        if not debug:
            print(f"blufio: unexpected error: {type(exc).__name__}: {exc} "
                  "(run again with --debug for the traceback)", file=sys.stderr)
        return 1


class _Args(dict):
    """Parsed arguments where every option or word not given reads as None, as in docopt."""

    def __missing__(self, key):
        return None


# Command lines so common and simple that they skip docopt (~8 ms of start-up): the words,
# then the flags each accepts. Anything else goes through docopt.
_FAST = {("plugin", "list"): ("--json",)}


def _fast_parse(argv):
    """Parse ``[--debug] [-c PATH] plugin list [--json]`` by hand; None for anything else."""
    args, words = _Args({"--debug": False, "--help": False, "--version": False}), []
    rest = list(argv)
    while rest:
        item = rest.pop(0)
        if item == "--debug":
            args["--debug"] = True
        elif item in ("-c", "--config") and rest and not rest[0].startswith("-"):
            args["--config"] = rest.pop(0)
        elif item.startswith("--config="):
            args["--config"] = item.partition("=")[2]
        elif item.startswith("-"):
            if item not in _FAST.get(tuple(words), ()):
                return None
            args[item] = True
        else:
            words.append(item)
    if tuple(words) not in _FAST:
        return None
    for word in words:
        args[word] = True
    return args


def _parse(argv):
    """docopt-ng, with usage errors as a UsageError (exit 2)."""
    from docopt import DocoptExit, docopt

    text = usage()
    try:
        return docopt(text, argv=argv, default_help=False)
    except DocoptExit:
        from blufio.errors import UsageError

        raise UsageError(f"unrecognised command line: blufio {' '.join(argv)}\n"
                         f"{text.split('Options:')[0].split('Usage:')[1].rstrip()}\n"
                         "Run 'blufio --help' for the options.") from None


def _print_version():
    import blufio
    from blufio import build_record

    build = build_record.current()
    print(f"blufio {blufio.__version__}")
    print(f"features: {', '.join(build['features'])}")
    print(f"target: {build['target']}" + (f", built {build['built_at']}" if build["built_at"] else ""))
    return 0
