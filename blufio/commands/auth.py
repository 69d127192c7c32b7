"""``blufio auth token | list | revoke | rotate``: the device key's bearer tokens.

These work in any build that has an auth plugin that issues tokens (``keypair``), with or without the gateway: they
only touch the vault. ``auth token`` prints nothing but the token on stdout, so
``TOKEN=$(blufio auth token --name ci)`` works; everything else goes to stderr.
"""

import sys
import time

from blufio.errors import UsageError
from blufio.hints import command
from blufio.registry import ENABLED, PluginRegistry

# What an auth plugin's manifest lists when it issues, lists, revokes and rotates tokens
# (``blufio.contracts.TokenIssuer``).
TOKENS = "signed-tokens"


def run(args):
    auth = _token_issuer(args)
    for name in ("token", "list", "revoke", "rotate"):
        if args[name]:
            return globals()[f"cmd_{name}"](auth, args)
    raise UsageError("unknown auth command")  # pragma: no cover - docopt prevents it


def cmd_token(auth, args):
    from blufio.durations import parse_duration

    expires_in = None
    if args["--expires"] is not None:
        try:
            expires_in = parse_duration(args["--expires"])
        except ValueError as exc:
            raise UsageError(f"--expires: {exc}") from None
    try:
        token, record = auth.issue(args["--name"] or "", expires_in)
    except ValueError as exc:
        raise UsageError(f"--name: {exc}") from None
    print(token)
    print(f"token {record['id']}{_quoted(record['name'])} expires {_when(record['expires'])}; "
          f"revoke it with '{command('auth revoke ' + record['id'])}'", file=sys.stderr)
    return 0


def cmd_list(auth, args):
    from blufio.commands import print_table

    records = auth.tokens()
    if args["--json"]:
        import json

        print(json.dumps(records, indent=2))
        return 0
    if not records:
        print(f"no tokens issued yet; '{command('auth token --name NAME')}' makes one")
        return 0
    print_table(("ID", "NAME", "ISSUED", "EXPIRES", "STATE"),
                [(r["id"], r["name"] or "-", _when(r["issued"]), _when(r["expires"]), r["state"])
                 for r in records])
    counts = {}
    for record in records:
        counts[record["state"]] = counts.get(record["state"], 0) + 1
    summary = ", ".join(f"{n} {state}" for state, n in counts.items())
    print(f"\n{len(records)} token{'s' if len(records) != 1 else ''} ({summary}).")
    return 0


def cmd_revoke(auth, args):
    token_id = args["ID"].strip()
    before = auth.revoke(token_id)
    if before is None:
        raise UsageError(f"no token has the id '{token_id}'; '{command('auth list')}' "
                         "shows them")
    if before["state"] == "revoked":
        print(f"token {token_id}{_quoted(before['name'])} was already revoked")
    else:
        print(f"revoked token {token_id}{_quoted(before['name'])}; a running server refuses "
              "it from its next request")
    return 0


def cmd_rotate(auth, args):
    kid, active = auth.rotate()
    ended = f"{active} active token{'s' if active != 1 else ''}" if active else "no active token"
    print(f"new device key {kid}: every token issued before now no longer works ({ended} "
          f"ended). Issue new ones with '{command('auth token')}'.")
    return 0


def _token_issuer(args):
    """The auth plugin of this build that issues tokens (it only touches the vault, so it
    works even when disabled); exit 2 when the build has none."""
    registry = PluginRegistry.load(args["--config"])
    names = registry.offering("auth", TOKENS)
    present = [name for name in names if registry.in_build(name)]
    if not present:
        wanted = names[0] if names else "token-issuing auth"
        raise UsageError(f"the auth commands need the {wanted} plugin, which is not in this "
                         f"build; rebuild with: {registry.rebuild_command(*names[:1])}")
    info = registry.get(present[0])
    if info.state != ENABLED:
        print(f"note: the {info.name} plugin is {info.state}; the gateway accepts these tokens "
              f"only once it is enabled ('{command('plugin install ' + info.name)}')",
              file=sys.stderr)
    return registry.adapter_class(info.name)(registry.config)


def _when(unix):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(unix))


def _quoted(name):
    return f" ('{name}')" if name else ""
