"""Upgrading a running ``serve`` in place: notice the new file, re-execute on SIGHUP.

Run from an archive, ``serve`` keeps its own version whatever happens to ``blufio.pyz``
(``blufio._archive.pinned``). When the file on disk changes, one warning says so, and
``/v1/health`` shows it (``status()``). On SIGHUP the new file is first checked (it must
run ``--version`` with this interpreter and machine); then ``serve`` stops accepting,
drains, and re-executes the same command line, keeping its pid (systemd's ``ExecReload``).
Turns still running when the drain timeout ends are resumed by the new process.
"""

import asyncio
import logging
import os
import subprocess
import sys

import blufio

log = logging.getLogger("blufio.serve")
WATCH_INTERVAL = 5.0  # seconds between looks at the archive on disk
_said = []  # the one warning about the replaced file, once said


def _pinned():
    from blufio._archive import pinned

    return pinned


def status():
    """What ``/v1/health`` says about this process's version and the file on disk."""
    pinned = _pinned()
    report = {"version": blufio.__version__}
    if pinned.archive() is not None:
        replaced = pinned.changed()
        report["archive_replaced"] = replaced
        if replaced:
            report["version_on_disk"] = on_disk = pinned.version_on_disk()
            _say_replaced(on_disk)
    return report


def watched():
    """Whether there is an archive to watch (not from a source checkout)."""
    return _pinned().archive() is not None


async def watch(interval=WATCH_INTERVAL):
    """Wait until the archive on disk changes, then say so once, in one warning."""
    pinned = _pinned()
    while not pinned.changed():  # noqa: ASYNC110 - a file on disk: nothing to await but time
        await asyncio.sleep(interval)
    _say_replaced(await asyncio.to_thread(pinned.version_on_disk))


def _say_replaced(on_disk):
    if _said:
        return
    _said.append(on_disk)
    log.warning("%s was replaced on disk (%s); still serving version %s; to run the new "
                "file send SIGHUP (systemctl reload blufio, or kill -HUP %d)",
                _pinned().archive(),
                f"version {on_disk}" if on_disk else "not a readable blufio.pyz",
                blufio.__version__, os.getpid())


def command_line():
    """The command line that started this process, interpreter options included."""
    return [sys.executable, *sys.orig_argv[1:]]


def reload_refused():
    """Whether a SIGHUP must not reload: the program on disk does not run (said in the log;
    this one goes on serving)."""
    problem = check_runnable()
    if problem:
        log.error("SIGHUP: not reloading, the program on disk does not run (%s); still "
                  "serving", problem)
    return bool(problem)


def check_runnable(timeout=60):
    """None when the program this process would re-execute runs here with this
    configuration (its ``config validate`` passes), else why not, in one line."""
    program = sys.orig_argv[1:len(sys.orig_argv) - len(sys.argv) + 1]
    words = [word for arg in sys.argv[1:]
             for word in (["config", "validate"] if arg == "serve" else [arg])]
    try:
        result = subprocess.run([sys.executable, *program, *words], timeout=timeout,
                                capture_output=True, text=True, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines()
        return lines[-1] if lines else f"exit status {result.returncode}"
    return None


def reexec():
    """Replace this process with a fresh run of the same command line (same pid)."""
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os.execv(sys.executable, command_line())
