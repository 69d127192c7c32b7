"""``blufio serve``: start every enabled channel over one agent; Ctrl-C/SIGTERM drains and exits.

With ``[gateway] workers`` above 1 this process supervises that many workers, each a run of
this same command (``blufio.workers``)."""

import sys

from blufio import eventloop
from blufio.config import load_config
from blufio.hints import command


def run(args):
    from blufio import logs
    from blufio.paths import lock_data_dir
    from blufio.service import Service
    from blufio.workers import current_worker, worker_count

    config = load_config(args["--config"])
    worker = current_worker()
    logs.configure(args["--debug"], config.secret_values(),
                   process=f"worker {worker.index}" if worker is not None else "")
    if worker is not None:  # one of several: the supervisor holds the lock and said the rest
        eventloop.run(Service(config).run(ready=_announce if worker.primary else None))
        return 0
    for warning in config.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    workers = worker_count(config)
    with lock_data_dir(config.data_dir) as lock:  # one serve per data directory
        if workers > 1:
            from blufio.workers import Supervisor

            supervisor = Supervisor(config, workers)
            code, reexec = supervisor.run(lock), supervisor.reexec
        else:
            service = Service(config)
            eventloop.run(service.run(ready=_announce))
            code, reexec = 0, service.reexec
        if reexec:  # SIGHUP: the lock is released by the exec itself
            from blufio import upgrade

            upgrade.reexec()
    return code


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
