"""``blufio.workers``: who a worker is, how many ``[gateway] workers`` means, the shared
port, and a supervisor that stops when a worker keeps failing at start. (``serve`` with
workers as real processes: tests/commands/test_serve_workers.py.)"""

import os
import sys

import pytest

from blufio import upgrade
from blufio.config import load_config
from blufio.paths import lock_data_dir
from blufio.workers import (WORKER_VARIABLE, Supervisor, current_worker, listening_socket,
                            worker_count)


def test_a_process_is_a_worker_only_when_its_supervisor_said_so():
    assert current_worker({}) is None
    worker = current_worker({WORKER_VARIABLE: "1,1.abc,7,9"})
    assert (worker.index, worker.owner, worker.socket_fd, worker.parent_fd) == (1, "1.abc", 7, 9)
    assert not worker.primary and current_worker({WORKER_VARIABLE: "0,0.x,-1,3"}).primary


@pytest.mark.parametrize(("value", "count"), [(None, 1), ("3", 3), ("auto", os.cpu_count())])
def test_workers_is_a_number_or_one_per_cpu(monkeypatch, value, count):
    if value is not None:
        monkeypatch.setenv("BLUFIO_GATEWAY__WORKERS", value)
    assert worker_count(load_config()) == count


def test_a_worker_serves_the_socket_its_supervisor_bound(monkeypatch):
    bound = listening_socket("127.0.0.1", 0)
    try:
        monkeypatch.setenv(WORKER_VARIABLE, f"1,1.abc,{bound.fileno()},-1")
        inherited = listening_socket("127.0.0.1", 1)  # the port asked for is not bound again
        assert inherited.getsockname() == bound.getsockname()
        inherited.detach()
    finally:
        bound.close()


def test_sockets_with_reuse_port_share_one_port():
    first = listening_socket("127.0.0.1", 0, reuse_port=True)
    second = listening_socket("127.0.0.1", first.getsockname()[1], reuse_port=True)
    try:
        assert first.getsockname() == second.getsockname()
        with pytest.raises(OSError):  # without it the port is taken
            listening_socket("127.0.0.1", first.getsockname()[1]).close()
    finally:
        first.close()
        second.close()


@pytest.mark.slow  # starts (failing) worker processes
def test_a_worker_that_keeps_failing_at_start_stops_the_service(monkeypatch, data_dir):
    monkeypatch.setenv("BLUFIO_GATEWAY__PORT", "0")
    monkeypatch.setattr(upgrade, "command_line",
                        lambda: [sys.executable, "-c", "import sys; sys.exit(3)"])
    config = load_config()
    with lock_data_dir(config.data_dir) as lock:
        supervisor = Supervisor(config, 2)
        assert supervisor.run(lock) == 3
    assert all(process is None for process in supervisor.processes)  # every one waited for
    assert all(sock.fileno() == -1 for sock in supervisor._sockets)  # the port is closed
