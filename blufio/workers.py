"""Several ``serve`` processes on one data directory: ``[gateway] workers``.

With ``workers = 1`` (the default) ``serve`` is one process and nothing here runs but
``current_worker()`` (None) and ``listening_socket`` (binds as before). With ``workers = N``
(or ``"auto"``: one per CPU) the ``serve`` the user started is the **supervisor**: it holds
the data-directory lock, binds the gateway's port, frees what an earlier run left
unanswered, and runs N **workers**: the same program with the same command line, each told
who it is by ``BLUFIO_WORKER`` and handed a listening socket, the lock and the read end of
a pipe only the supervisor writes to. Each worker is a whole ``Service``.

- **One port.** On Linux the supervisor binds one socket per worker to the same port
  (``SO_REUSEPORT``), and the kernel spreads new connections evenly over them; it keeps
  them open, so connections arriving while a worker restarts wait in its socket's backlog
  for the replacement. (With one socket shared by all, whichever worker woke first took
  every connection of a burst: 714 turns to one worker, none to the other.) Elsewhere
  every worker accepts on one shared socket.

- **Who answers a turn.** Each worker process has an owner id (its slot and a random part,
  new at every start), stored on every inbound entry it queues or claims. The supervisor is
  the one that knows which owners are gone, so it alone frees entries: at start every
  unfinished entry (no process of an earlier run is left: the workers hold the lock too, so
  the supervisor could not have taken it), and when a worker exits only that worker's
  entries. A live worker's entries are never touched. The replacement, like every worker
  at start, answers the entries nobody owns (``Agent.resume_unfinished(reset=False)``).
- **Sessions in order.** A turn starts only when its entry is the oldest unfinished one of
  its session, whichever worker holds the older ones (``SqliteStorage.claim`` waits): an
  HTTP request lands on whichever worker accepted it, so routing by session would mean
  proxying between workers; a rule in the shared database needs nothing more.
- **One place.** Worker 0 (the *primary*) alone runs the channels that cannot be shared
  (Telegram's long polling) and the scheduler, and answers their entries; the others run
  only the channels that serve the shared socket. A replacement keeps its slot's role.
- **Metrics.** Workers run prometheus-client's multiprocess mode, its files in
  ``<data dir>/metrics`` (emptied at start; a dead worker's live gauges dropped), so
  ``/metrics`` counts the whole service whichever worker answers.
- **Signals.** SIGTERM or SIGINT: every worker drains (``[agent] drain_timeout``), then
  the supervisor exits 0. SIGHUP: the same once the program on disk runs, then the
  supervisor re-executes it. A worker that dies is restarted (one that keeps dying at once
  stops the service); a worker whose supervisor is gone (``kill -9``) drains and exits.
"""

import logging
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from typing import NamedTuple

from blufio.errors import BlufioError

log = logging.getLogger("blufio.serve")

WORKER_VARIABLE = "BLUFIO_WORKER"  # "index,owner,socket fd,parent fd" in a worker
METRICS_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"  # prometheus-client's multiprocess directory
METRICS_DIR = "metrics"
BACKLOG = 1024  # connections the kernel holds until they are accepted
POLL = 0.1  # seconds between looks at the workers
QUICK_EXIT = 5.0  # seconds: a worker dying sooner after its start counts as failing to start
GIVE_UP = 3  # workers of one slot failing to start in a row: the service stops


class Worker(NamedTuple):
    """Who this process is among the workers of one supervisor."""

    index: int
    owner: str  # stored on the inbound entries this process answers
    socket_fd: int  # the shared listening socket (-1: none)
    parent_fd: int  # readable (end of file) once the supervisor is gone

    @property
    def primary(self):
        """Whether this worker runs what must run in one place (long polling, schedules)."""
        return self.index == 0


def current_worker(environ=None):
    """This process's ``Worker``, or None when it is not one (a single ``serve``)."""
    value = (os.environ if environ is None else environ).get(WORKER_VARIABLE)
    if not value:
        return None
    index, owner, socket_fd, parent_fd = value.split(",")
    return Worker(int(index), owner, int(socket_fd), int(parent_fd))


def worker_count(config):
    """``[gateway] workers`` as a number (``"auto"``: one per CPU); 1 without a gateway."""
    if "gateway" not in config.schema.sections:
        return 1
    value = config.get("gateway.workers")
    return (os.cpu_count() or 1) if value == "auto" else value


def listening_socket(host, port, backlog=BACKLOG, *, reuse_port=False):
    """The gateway's listening socket: the one this worker's supervisor gave it, else a new
    one bound to ``host``:``port`` (OSError if it cannot be), with ``SO_REUSEPORT`` when
    ``reuse_port``."""
    worker = current_worker()
    if worker is not None and worker.socket_fd >= 0:
        return socket.socket(fileno=worker.socket_fd)
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(address)
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock


class Supervisor:
    """Runs ``count`` workers of ``serve`` for ``config`` (see the module docstring)."""

    def __init__(self, config, count, registry=None):
        from blufio.registry import PluginRegistry

        self.config = config
        self.count = count
        self.registry = registry or PluginRegistry(config)
        self.processes = [None] * count  # slot -> subprocess.Popen (None once stopped)
        self.owners = [""] * count
        self.started = [0.0] * count
        self.failures = [0] * count  # quick exits in a row, per slot
        self.metrics = os.path.join(config.data_dir, METRICS_DIR)
        self.stopping = False
        self.reexec = False  # SIGHUP: once every worker is gone, run the program again
        self.exit_code = 0
        self._told = set()  # pids already sent SIGTERM
        self._reload = False
        self._sockets = []  # slot -> its listening socket (all the same one without REUSEPORT)
        self._lock_fd = None
        self._parent = None  # (read end, write end) of the pipe that outlives no supervisor

    def run(self, lock):
        """Serve until SIGTERM/SIGINT (or SIGHUP) with ``lock`` (the data directory's, from
        ``lock_data_dir``) held; return the exit code."""
        self._lock_fd = lock.fileno()
        self._sockets = self._listen()
        self._prepare_metrics()
        freed = free_entries(self.registry, channels=self._channels())
        if freed:
            log.info("workers: %d message(s) left unanswered by the last run will be answered",
                     freed)
        self._parent = os.pipe()
        handlers = {signum: signal.signal(signum, self._signalled)
                    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
        try:
            for index in range(self.count):
                self._start(index)
            self._supervise()
        finally:
            for signum, handler in handlers.items():
                signal.signal(signum, handler)
            for fd in self._parent:
                os.close(fd)
            for sock in set(self._sockets):
                sock.close()
        return self.exit_code

    def _listen(self):
        """One listening socket per slot, on one port (see the module docstring)."""
        if not any(info.name == "gateway" for info in self.registry.enabled("channel")):
            return []
        host, port = self.config.get("gateway.host"), self.config.get("gateway.port")
        spread = sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")
        sockets = []
        try:
            for _ in range(self.count if spread else 1):
                sockets.append(listening_socket(host, port, reuse_port=spread))
                port = sockets[0].getsockname()[1]  # port 0 chose one: the others take it too
        except OSError as exc:
            for sock in sockets:
                sock.close()
            raise BlufioError(f"gateway: cannot listen on {host}:{port} "
                              f"({exc.strerror or exc}); change [gateway] port or host") from exc
        log.info("workers: %d workers serve %s:%d", self.count, *sockets[0].getsockname()[:2])
        return sockets if spread else sockets * self.count

    def _prepare_metrics(self):
        from blufio.paths import ensure_private_dir

        ensure_private_dir(self.metrics, "metrics directory")
        for name in os.listdir(self.metrics):  # counts of an earlier run are not this run's
            if name.endswith(".db"):
                os.unlink(os.path.join(self.metrics, name))

    def _start(self, index):
        from blufio import upgrade

        owner = f"{index}.{uuid.uuid4().hex[:12]}"
        socket_fd = self._sockets[index].fileno() if self._sockets else -1
        fds = [fd for fd in (socket_fd, self._lock_fd, self._parent[0]) if fd >= 0]
        env = dict(os.environ, **{WORKER_VARIABLE: f"{index},{owner},{socket_fd},{self._parent[0]}",
                                  METRICS_VARIABLE: self.metrics})
        process = subprocess.Popen(upgrade.command_line(), env=env, pass_fds=fds)
        self.processes[index], self.owners[index] = process, owner
        self.started[index] = time.monotonic()
        log.info("workers: worker %d started (pid %d, owner %s)", index, process.pid, owner)

    def _channels(self):
        """The channels whose entries this service answers (a shell's own wait for it)."""
        from blufio.scheduler.engine import CHANNEL

        return [info.name for info in self.registry.enabled("channel")] + [CHANNEL]

    def _supervise(self):
        while any(process is not None for process in self.processes):
            time.sleep(POLL)
            if self.stopping:  # again: a signal may have come while a worker was starting
                self._stop_all()
            if self._reload:
                self._reload = False
                self._check_reload()
            for index, process in enumerate(self.processes):
                if process is not None and process.poll() is not None:
                    self._ended(index, process)

    def _ended(self, index, process):
        """Worker ``index`` exited: free its entries, then restart it unless stopping."""
        code = process.returncode
        quick = time.monotonic() - self.started[index] < QUICK_EXIT
        if not self.stopping:
            log.warning("workers: worker %d (pid %d) exited with %s; restarting it", index,
                        process.pid, _status(code))
        self._forget_metrics(process.pid)
        freed = free_entries(self.registry, owner=self.owners[index])
        if freed:
            log.info("workers: %d message(s) of worker %d will be answered again", freed, index)
        self.processes[index] = None
        if self.stopping:
            return
        self.failures[index] = self.failures[index] + 1 if quick else 0
        if self.failures[index] >= GIVE_UP:
            log.error("workers: worker %d failed to start %d times in a row; stopping", index,
                      GIVE_UP)
            self.exit_code = code if code and code > 0 else 1
            self._stop_all()
            return
        time.sleep(POLL * 2 ** self.failures[index])
        if not self.stopping:
            self._start(index)

    def _forget_metrics(self, pid):
        try:
            from prometheus_client.multiprocess import mark_process_dead
        except ImportError:  # a build without the prometheus plugin
            return
        mark_process_dead(pid, self.metrics)

    def _signalled(self, signum, _frame):
        if signum == signal.SIGHUP:
            self._reload = True  # checked in the loop: a signal handler must not wait
        else:
            self._stop_all()

    def _check_reload(self):
        from blufio import upgrade

        if upgrade.reload_refused():
            return
        self.reexec = True
        self._stop_all()

    def _stop_all(self):
        if not self.stopping:
            log.info("workers: %s: draining every worker",
                     "reloading" if self.reexec else "shutting down")
        self.stopping = True
        for process in self.processes:
            if process is not None and process.pid not in self._told and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                self._told.add(process.pid)


def free_entries(registry, owner=None, channels=None):
    """Return to ``pending``, owned by nobody, the unfinished entries of ``owner`` (of every
    owner of ``channels`` when None); return how many. Only for owners whose process is
    gone."""
    import asyncio

    # A few statements on a loop of its own, not the serving one (``blufio.eventloop``):
    # plain asyncio, and no "event loop" line in the log at every worker's exit.
    return asyncio.run(_free_entries(registry, owner, channels))


async def _free_entries(registry, owner, channels):
    storages = registry.enabled("storage")
    if not storages:
        return 0
    storage = registry.create(storages[0].name)
    await storage.open()
    try:
        return await storage.reset_processing(owner=owner, channels=channels)
    finally:
        await storage.shutdown()


def _status(code):
    return f"signal {-code}" if code < 0 else f"status {code}"
