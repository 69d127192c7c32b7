"""Extract the archive's native wheels (PyNaCl, cffi, ...) once, into a per-user cache.

zipimport cannot load ``.so`` files, so the build stores wheels with native code whole
under ``NATIVE_PREFIX`` in the archive, and ``bootstrap.NativeFinder`` calls ``activate()``
on the first import of one of their top-level names. They are extracted into
``<cache root>/native/<key>/``, ``key`` being the hash of their content, computed at build
time (so no hashing at run time):

- Publishing is atomic and needs no lock: extract into ``mkdtemp()`` in the same parent,
  write a completion marker, ``os.rename()`` into place. The loser of a race between
  concurrent first runs sees the directory already there and deletes its own copy.
- A cache root is used only if it is a real directory (not a symlink) owned by this user,
  not group- or world-writable, writable, and not on a ``noexec`` mount.
- Roots tried, in order: ``$BLUFIO_CACHE_DIR``, ``$XDG_CACHE_HOME/blufio``,
  ``~/.cache/blufio``, then ``<tempdir>/blufio-<uid>`` (with one warning line). When none
  works the error lists each one and why.
- Extractions of other builds not used for ``PRUNE_AFTER_DAYS`` are removed when a new one
  is published, so the cache does not grow without bound.
"""

import os
import sys

MARKER = ".blufio-complete"
PRUNE_AFTER_DAYS = 30
NATIVE_PREFIX = ".native/"  # a name no import can reach; the build writes there too


def activate(finder, name):
    """Make the native wheels importable and return the spec of top-level module ``name``."""
    import importlib.machinery

    directory = ensure_extracted()
    if directory not in sys.path:
        sys.path.insert(1, directory)
    try:
        sys.meta_path.remove(finder)
    except ValueError:
        pass
    return importlib.machinery.PathFinder.find_spec(name, [directory])


def archive_path():
    """The archive this code runs from."""
    import blufio

    return blufio.__loader__.archive


def ensure_extracted(archive=None, key=None, environ=None):
    """The directory holding the extracted native wheels, extracting them if needed."""
    from blufio.errors import BlufioError

    if key is None:
        from blufio._frozen_build import NATIVE

        key = NATIVE["key"]
    archive = archive or archive_path()
    tried = []
    for root, fallback in candidate_roots(environ):
        problem = usable_root(root)
        if problem:
            tried.append(f"{root} ({problem})")
            continue
        try:
            directory = publish(archive, os.path.join(root, "native"), key)
        except OSError as exc:
            tried.append(f"{root} ({exc.strerror or exc})")
            continue
        if fallback and tried:
            print(f"blufio: warning: cannot use {tried[0]}; native code is cached in "
                  f"{root} instead (set BLUFIO_CACHE_DIR to choose)", file=sys.stderr)
        return directory
    raise BlufioError("cannot extract native code (PyNaCl, cffi) from the archive: no usable "
                      "cache directory; tried " + "; ".join(tried)
                      + ". Set BLUFIO_CACHE_DIR to a private directory you can write on an "
                      "exec-allowed filesystem")


def candidate_roots(environ=None):
    """``(root, is_fallback)`` pairs, best first."""
    import tempfile

    environ = os.environ if environ is None else environ
    roots = []
    if environ.get("BLUFIO_CACHE_DIR"):
        roots.append((os.path.abspath(environ["BLUFIO_CACHE_DIR"]), False))
    if environ.get("XDG_CACHE_HOME"):
        roots.append((os.path.join(os.path.abspath(environ["XDG_CACHE_HOME"]), "blufio"),
                      False))
    home = os.path.expanduser("~")
    if home and home != "~":
        roots.append((os.path.join(home, ".cache", "blufio"), False))
    roots.append((os.path.join(tempfile.gettempdir(), f"blufio-{os.geteuid()}"), True))
    seen, unique = set(), []
    for root, fallback in roots:
        if root not in seen:
            seen.add(root)
            unique.append((root, fallback))
    return unique


def usable_root(path):
    """None when ``path`` is a safe cache root (made if missing), else why it is not."""
    import stat

    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        info = os.lstat(path)
    except OSError as exc:
        return exc.strerror or str(exc)
    if stat.S_ISLNK(info.st_mode):
        return "is a symbolic link"
    if not stat.S_ISDIR(info.st_mode):
        return "is not a directory"
    if info.st_uid != os.geteuid():
        return f"owned by uid {info.st_uid}, not by you"
    if info.st_mode & 0o022:
        return "writable by group or others"
    if not os.access(path, os.W_OK | os.X_OK):
        return "not writable"
    try:
        if os.statvfs(path).f_flag & getattr(os, "ST_NOEXEC", 8):
            return "on a noexec mount"
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def publish(archive, parent, key):
    """Extract into ``parent/key`` atomically unless already there; return that path."""
    final = os.path.join(parent, key)
    marker = os.path.join(final, MARKER)
    if os.path.isfile(marker):
        _touch(marker)
        return final
    import shutil
    import tempfile

    os.makedirs(parent, mode=0o700, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f".{key}.", dir=parent)
    try:
        _extract(archive, staging)
        with open(os.path.join(staging, MARKER), "w") as f:
            f.write(key + "\n")
        for attempt in range(2):
            try:
                os.rename(staging, final)
                break
            except OSError:
                if os.path.isfile(marker):  # another process won the race: use its copy
                    shutil.rmtree(staging, ignore_errors=True)
                    return final
                if attempt or not os.path.isdir(final):
                    raise
                # an incomplete directory without a marker (not ours): move it aside
                aside = tempfile.mkdtemp(prefix=f".{key}.stale.", dir=parent)
                os.rename(final, os.path.join(aside, "old"))
                shutil.rmtree(aside, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _prune(parent, key)
    return final


def _extract(archive, destination):
    import zipfile

    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            name = info.filename
            if not name.startswith(NATIVE_PREFIX) or name.endswith("/"):
                continue
            relative = name[len(NATIVE_PREFIX):]
            if relative.startswith("/") or ".." in relative.split("/"):
                continue  # never write outside the destination
            target = os.path.join(destination, *relative.split("/"))
            os.makedirs(os.path.dirname(target), mode=0o700, exist_ok=True)
            mode = 0o700 if (info.external_attr >> 16) & 0o111 else 0o600
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
            with os.fdopen(fd, "wb") as out:
                out.write(zf.read(info))


def _touch(path):
    try:
        os.utime(path)
    except OSError:
        pass


def _prune(parent, keep):
    """Remove other builds' extractions whose marker is older than PRUNE_AFTER_DAYS."""
    import shutil
    import time

    limit = time.time() - PRUNE_AFTER_DAYS * 86400
    try:
        names = os.listdir(parent)
    except OSError:
        return
    for name in names:
        if name == keep or name.startswith("."):
            continue
        try:
            if os.stat(os.path.join(parent, name, MARKER)).st_mtime < limit:
                shutil.rmtree(os.path.join(parent, name), ignore_errors=True)
        except OSError:
            continue
