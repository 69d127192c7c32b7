"""``blufio serve``: start every enabled channel over one agent; Ctrl-C/SIGTERM drains and exits."""

import sys

from blufio import eventloop
from blufio.config import load_config
from blufio.hints import command


def run(args):
    from blufio import logs
    from blufio.paths import lock_data_dir
    from blufio.service import Service

    config = load_config(args["--config"])
    logs.configure(args["--debug"], config.secret_values())
    for warning in config.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    service = Service(config)
    with lock_data_dir(config.data_dir):  # one serve per data directory
        eventloop.run(service.run(ready=_announce))
        if service.reexec:  # SIGHUP: the lock is released by the exec itself
            from blufio import upgrade

            upgrade.reexec()
    return 0


def _announce(service):
    """Tell the user where the gateway is and how to get a token."""
    gateway = service.gateway()
    if gateway is None:
        return
    print(f"Blufio gateway: {gateway.url}  (health: {gateway.url}/v1/health)", flush=True)
    if not gateway.has_credentials:
        print("No token is configured, so every request but /v1/health gets 401: set one with "
              f"'{command('config set-secret gateway.bearer_token')}'", flush=True)
    elif service.auth:
        print(f"Get a token with: {command('auth token --name NAME')}", flush=True)
