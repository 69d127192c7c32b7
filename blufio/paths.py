"""Where Blufio keeps its data, and how that directory is made private.

The data directory holds the database, the vault and the workspace: ``$BLUFIO_DATA_DIR``,
else ``$XDG_DATA_HOME/blufio``, else ``~/.local/share/blufio``. It is created 0700 and every
file Blufio writes in it is 0600.
"""

import os

from blufio.errors import BlufioError

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def data_dir(environ=None):
    """The data directory's path (not created)."""
    environ = os.environ if environ is None else environ
    if environ.get("BLUFIO_DATA_DIR"):
        return os.path.abspath(os.path.expanduser(environ["BLUFIO_DATA_DIR"]))
    base = environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(base, "blufio")


DATA_DIR_HINT = "set BLUFIO_DATA_DIR to a directory you can write"


def ensure_private_dir(path, what="data directory", hint=DATA_DIR_HINT):
    """Create ``path`` (and its parents) if needed and make it 0700; return it.

    A failure names ``what`` the directory is for and ``hint``s how to choose another."""
    try:
        os.makedirs(path, mode=PRIVATE_DIR_MODE, exist_ok=True)
        if os.stat(path).st_mode & 0o777 != PRIVATE_DIR_MODE:
            os.chmod(path, PRIVATE_DIR_MODE)
    except OSError as exc:
        raise BlufioError(
            f"cannot create the {what} {path}: {exc.strerror or exc}; {hint}") from exc
    return path


def touch_private(path):
    """Create ``path`` empty with mode 0600 if it does not exist; fix its mode if it does."""
    fd = os.open(path, os.O_CREAT | os.O_RDWR, PRIVATE_FILE_MODE)
    try:
        os.fchmod(fd, PRIVATE_FILE_MODE)
    finally:
        os.close(fd)
    return path


def atomic_write(path, text, mode=None):
    """Replace ``path`` with ``text`` so a crash leaves the old or the new file, never half.

    The file keeps its current permissions; a new one gets ``mode`` (default 0600).
    """
    directory = os.path.dirname(os.path.abspath(path))
    try:
        mode = os.stat(path).st_mode & 0o777
    except FileNotFoundError:
        mode = PRIVATE_FILE_MODE if mode is None else mode
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


SERVE_LOCK_FILE = "serve.lock"


def lock_data_dir(path):
    """Make this process the one ``serve`` of data directory ``path``; return the open lock.

    An exclusive ``flock`` on ``<path>/serve.lock``, held while the returned file stays open
    (closed by the kernel when the process ends or execs, so no stale lock survives a
    crash). The file holds the owner's pid, to name it to the next one. ``shell`` and the
    other commands do not take it: they may run beside ``serve``.
    """
    import fcntl

    ensure_private_dir(path)
    lock_path = os.path.join(path, SERVE_LOCK_FILE)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, PRIVATE_FILE_MODE)
    lock = os.fdopen(fd, "r+", encoding="ascii")
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = lock.read().strip() or "unknown"
        lock.close()
        # Exit status 1, as for a port already in use: the command and configuration are
        # right, another process holds what this one needs.
        raise BlufioError(f"another 'blufio serve' (pid {holder}) already uses the data "
                          f"directory {path}; stop it first, or give this one its own "
                          "with BLUFIO_DATA_DIR") from None
    lock.truncate(0)
    lock.write(f"{os.getpid()}\n")
    lock.flush()
    return lock
