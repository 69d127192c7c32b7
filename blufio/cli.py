"""The command line: parse with docopt-ng, dispatch to ``blufio.commands.<name>``.

Nothing heavy is imported here; each command module imports what it needs when it runs.
Exit codes: 0 success, 1 failure at run time, 2 usage or configuration error. Errors are one
line on stderr; ``--debug`` adds the traceback.
"""

import sys

HEADER = """\
Blufio: an always-on personal AI agent.

Usage:
"""


class Command:
    """One command word: the module whose ``run(args)`` carries it out, its usage lines,
    its options, and the adapter kind the build needs for it to exist (None: always).
    A command whose kind is missing from the build is left out of the usage text."""

    __slots__ = ("word", "module", "usage", "options", "needs")

    def __init__(self, word, module, usage, options=(), needs=None):
        self.word, self.module, self.usage = word, module, usage
        self.options, self.needs = options, needs


COMMANDS = [
    Command("serve", "blufio.commands.serve", ["serve"]),
    Command("shell", "blufio.commands.shell", ["shell [--session ID]"],
            ["  --session ID            Continue the stored session ID (shell)."]),
    Command("config", "blufio.commands.config",
            ["config get KEY", "config set KEY VALUE", "config set-secret KEY",
             "config validate", "config path"]),
    Command("plugin", "blufio.commands.plugin",
            ["plugin list [--json]", "plugin search [QUERY]", "plugin info NAME",
             "plugin install NAME", "plugin remove NAME", "plugin update [NAME]"]),
    # Always listed: in a build without a token-issuing auth plugin, it says how to get one.
    Command("auth", "blufio.commands.auth",
            ["auth token [--name N] [--expires D]", "auth list [--json]", "auth revoke ID",
             "auth rotate"],
            ["  --name N                A name for the new token, shown by 'auth list'.",
             "  --expires D             How long the new token lives: 30s, 15m, 1h or 30d",
             "                          (default: [auth] default_expiry)."]),
    Command("skill", "blufio.commands.skill",
            ["skill list [--json]", "skill info SERVER", "skill call SERVER TOOL [JSON]",
             "skill import FILE"], needs="skill_runtime"),
    Command("memory", "blufio.commands.memory",
            ["memory list [--json] [--limit N]", "memory search QUERY [--json] [--limit N]",
             "memory add TEXT [--tags T]", "memory forget ID", "memory export"],
            ["  --limit N               How many memories or results to show (default 20).",
             "  --tags T                Comma-separated tags for the new memory."],
            needs="storage"),
    Command("schedule", "blufio.commands.schedule",
            ["schedule add CRON TEXT --to TARGET [--tz Z] [--max-usd X]",
             "schedule add (--at T | --in D) TEXT --to TARGET [--tz Z] [--max-usd X]",
             "schedule list [--json]", "schedule remove ID", "schedule pause ID",
             "schedule resume ID", "schedule run ID"],
            ["  --at T                  Run once at T: 2026-12-01T09:00 or 09:00 (next one),",
             "                          in --tz.",
             "  --in D                  Run once after D: 30s, 15m, 2h, 1d or 1h30m.",
             "  --to TARGET             Where runs are answered: telegram:CHAT_ID or session:ID.",
             "  --tz Z                  IANA time zone of CRON or --at (default: [schedules]",
             "                          timezone).",
             "  --max-usd X             Pause the schedule after a run that cost more than X USD.",
             "  --max-usd-day X         schedule add: pause the schedule once its runs cost X",
             "                          USD in a (UTC) day.",
             "  --catch-up C            schedule add: a run missed while Blufio was down runs",
             "                          once on start, or is skipped: once or skip (default:",
             "                          [schedules] catch_up)."],
            needs="storage"),
]

OPTIONS = [
    "  -c PATH, --config PATH  Configuration file (default: $BLUFIO_CONFIG, ./blufio.toml,",
    "                          then ~/.config/blufio/blufio.toml).",
    "  --debug                 Show debug logs, and tracebacks with errors.",
    "  -h, --help              Show this help.",
    "  --version               Show the version and this build's plugins.",
    "  --json                  Print machine-readable JSON.",
]


def available_commands():
    """The commands of this build: those that need no adapter kind, or whose kind one of the
    build's plugins provides (read from the frozen build record and the catalog)."""
    from blufio import build_record

    features = set(build_record.current()["features"])
    kinds = {p["adapter_type"] for p in build_record.catalog()["plugins"]
             if p["name"] in features}
    return [c for c in COMMANDS if c.needs is None or c.needs in kinds]


def usage_text(commands=None):
    """The docopt usage text for ``commands`` (default: this build's)."""
    commands = available_commands() if commands is None else commands
    lines = [f"  blufio [options] {line}" for c in commands for line in c.usage]
    lines += ["  blufio -h | --help", "  blufio --version", "", "Options:", *OPTIONS]
    lines += [option for c in commands for option in c.options]
    return HEADER + "\n".join(lines) + "\n"


def main(argv=None):
    """Run the command line ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    argv = sys.argv[1:] if argv is None else argv
    debug = "--debug" in argv
    try:
        if not argv or argv in (["-h"], ["--help"]):
            print(usage_text(), end="")
            return 0
        args = _fast_parse(argv) or _parse(argv)
        if args["--help"]:
            print(usage_text(), end="")
            return 0
        if args["--version"]:
            return _print_version()
        import importlib

        command = next(c for c in COMMANDS if args[c.word])
        return importlib.import_module(command.module).run(args) or 0
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
        return _report(exc, debug)


def _report(exc, debug):
    """Say what went wrong in one line on stderr (``--debug``: the traceback first); return
    the exit code. A BlufioError's message and exit code are its own; anything else is
    unexpected."""
    from blufio.errors import BlufioError

    if debug:
        import traceback

        traceback.print_exception(exc)
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

    from blufio.hints import command

    usage = usage_text()
    try:
        return docopt(usage, argv=argv, default_help=False)
    except DocoptExit:
        from blufio.errors import UsageError

        raise UsageError(f"unrecognised command line: blufio {' '.join(argv)}\n"
                         f"{usage.split('Options:')[0].split('Usage:')[1].rstrip()}\n"
                         f"Run '{command('--help')}' for the options.") from None


def _print_version():
    import blufio
    from blufio import build_record

    build = build_record.current()
    print(f"blufio {blufio.__version__}")
    print(f"features: {', '.join(build['features'])}")
    if build.get("extras"):
        print(f"extras: {', '.join(build['extras'])}")
    print(f"target: {build['target']}" + (f", built {build['built_at']}" if build["built_at"] else ""))
    return 0
