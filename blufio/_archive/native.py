"""Extract the archive's native wheels (PyNaCl, cffi, ...) once, into a per-user cache.

zipimport cannot load ``.so`` files, so the build stores wheels with native code whole
under ``NATIVE_PREFIX`` in the archive, and ``bootstrap.NativeFinder`` calls ``activate()``
on the first import of one of their top-level names. They are extracted into
``<cache root>/native/<key>/``, ``key`` being the hash of their content, computed at build
time (so no hashing at run time):

- Publishing is atomic and needs no lock: extract into ``mkdtemp()`` in the same parent
  (named after the key and the pid), write a completion marker, ``os.rename()`` into place.
  The loser of a race between concurrent first runs sees the directory already there and
  deletes its own copy. What an extraction killed half-way left behind (its pid gone, or
  older than ``STALE_AFTER_SECONDS``) is removed by the next run.
- A cache root is used only if it is a real directory (not a symlink) owned by this user,
  not group- or world-writable, writable, and not on a ``noexec`` mount; every directory
  above it must belong to root or this user and be writable by no one else (unless sticky,
  as ``/tmp``), and a symlink on the way must belong to root or this user; ``native`` and
  ``native/<key>`` below it must be real directories of this user.
- Roots tried, in order: ``$BLUFIO_CACHE_DIR``, ``$XDG_CACHE_HOME/blufio``,
  ``~/.cache/blufio``, then ``<tempdir>/blufio-<uid>`` (with one warning line). A configured
  ``BLUFIO_CACHE_DIR`` that cannot be used is named with the reason in one warning line.
  When none works the error lists each one and why. A dangling symlink of this user at the
  fallback location is replaced by the directory.
- The cache stays bounded: each run removes other builds' extractions not used for
  ``PRUNE_AFTER_DAYS``, and beyond the ``KEEP_OTHERS`` most recently used ones, those not
  used for a day (a process of an older version still running keeps its own).
"""

import os
import sys

MARKER = ".blufio-complete"
PRUNE_AFTER_DAYS = 30
KEEP_OTHERS = 2
STALE_AFTER_SECONDS = 3600
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
    environ = os.environ if environ is None else environ
    configured = environ.get("BLUFIO_CACHE_DIR")
    configured = os.path.abspath(configured) if configured else None
    tried = []
    for root, fallback in candidate_roots(environ):
        problem = usable_root(root, replace_dangling=fallback)
        if problem is None:
            try:
                directory = publish(archive, os.path.join(root, "native"), key)
            except OSError as exc:
                problem = exc.strerror or str(exc)
        if problem:
            tried.append((root, problem))
            continue
        if tried and (fallback or tried[0][0] == configured):
            _warn_elsewhere(tried[0], root, configured)
        return directory
    tried = [f"{root} ({problem})" for root, problem in tried]
    raise BlufioError("cannot extract native code (PyNaCl, cffi) from the archive: no usable "
                      "cache directory; tried " + "; ".join(tried)
                      + ". Set BLUFIO_CACHE_DIR to a private directory you can write on an "
                      "exec-allowed filesystem")


def _warn_elsewhere(refused, root, configured):
    """One line: the first (or the configured) root was refused, and why; ``root`` is used."""
    where, problem = refused
    if where == configured:
        print(f"blufio: warning: BLUFIO_CACHE_DIR={configured} is not used: {problem}; "
              f"native code is cached in {root} instead", file=sys.stderr)
    else:
        print(f"blufio: warning: cannot use {where} ({problem}); native code is cached in "
              f"{root} instead (set BLUFIO_CACHE_DIR to choose)", file=sys.stderr)


def candidate_roots(environ=None, fallback=True):
    """``(root, is_fallback)`` pairs, best first (without the fallback in the temp directory
    unless ``fallback``)."""
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
    if fallback:
        import tempfile

        roots.append((os.path.join(tempfile.gettempdir(), f"blufio-{os.geteuid()}"), True))
    seen, unique = set(), []
    for root, fallback in roots:
        if root not in seen:
            seen.add(root)
            unique.append((root, fallback))
    return unique


def usable_root(path, replace_dangling=False):
    """None when ``path`` is a safe cache root (made if missing), else why it is not.

    ``replace_dangling``: a dangling symlink of this user at ``path`` is removed and the
    directory made in its place (the fallback in the temp directory)."""
    problem = _make_dir(path, replace_dangling)
    if problem:
        return problem
    try:
        problem = _own_dir_problem(path) or _ancestors_problem(path)
    except OSError as exc:
        problem = exc.strerror or str(exc)
    if problem:
        return problem
    if not os.access(path, os.W_OK | os.X_OK):
        return "not writable"
    try:
        if os.statvfs(path).f_flag & getattr(os, "ST_NOEXEC", 8):
            return "on a noexec mount, where native code cannot be loaded from"
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def _make_dir(path, replace_dangling):
    import stat

    try:
        info = os.lstat(path)
        if stat.S_ISLNK(info.st_mode) and not os.path.exists(path):
            if not replace_dangling or info.st_uid != os.geteuid():
                return (f"is a symbolic link to {os.readlink(path)}, which does not exist "
                        f"(owned by uid {info.st_uid}); remove it")
            os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        return exc.strerror or str(exc)
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def _own_dir_problem(path):
    """Why ``path`` is not a real directory of this user writable by no one else, or None."""
    import stat

    try:
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
    return None


def _ancestors_problem(path):
    """Why a directory above ``path`` (or a symlink on the way) lets another user replace
    what is below it, or None."""
    import stat

    trusted = (0, os.geteuid())
    current = "/"
    for part in os.path.abspath(path).strip("/").split("/")[:-1]:
        current = os.path.join(current, part)
        info = os.lstat(current)
        if stat.S_ISLNK(info.st_mode) and info.st_uid not in trusted:
            return f"{current} is a symbolic link owned by uid {info.st_uid}"
    current = os.path.realpath(os.path.dirname(os.path.abspath(path)))
    while True:
        info = os.stat(current)
        sticky = info.st_mode & stat.S_ISVTX
        if info.st_uid not in trusted:
            return f"{current} above it belongs to uid {info.st_uid}"
        if info.st_mode & 0o002 and not sticky:
            return f"{current} above it is writable by anyone"
        if info.st_mode & 0o020 and not sticky and info.st_gid != os.getegid():
            return f"{current} above it is writable by group {info.st_gid}"
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent


def publish(archive, parent, key):
    """Extract into ``parent/key`` atomically unless already there; return that path."""
    final = os.path.join(parent, key)
    marker = os.path.join(final, MARKER)
    os.makedirs(parent, mode=0o700, exist_ok=True)
    _check_own_dir(parent)
    _clean(parent, key)
    if os.path.isfile(marker):
        _check_own_dir(final)
        _touch(marker)
        return final
    import shutil
    import tempfile

    staging = tempfile.mkdtemp(prefix=f".{key}.{os.getpid()}.", dir=parent)
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
    _check_own_dir(final)
    return final


def _check_own_dir(path):
    problem = _own_dir_problem(path)
    if problem:
        raise OSError(0, f"{path} {problem}")


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


def _clean(parent, keep):
    """Remove what killed extractions left, and other builds' old extractions."""
    import shutil
    import time

    now = time.time()
    try:
        names = os.listdir(parent)
    except OSError:
        return
    used = []
    for name in names:
        path = os.path.join(parent, name)
        try:
            if name.startswith("."):
                if _abandoned(name, os.lstat(path).st_mtime, now):
                    shutil.rmtree(path, ignore_errors=True)
            elif name != keep:
                used.append((os.stat(os.path.join(path, MARKER)).st_mtime, path))
        except OSError:
            continue
    used.sort(reverse=True)
    for rank, (mtime, path) in enumerate(used):
        age_days = (now - mtime) / 86400
        if age_days > PRUNE_AFTER_DAYS or (rank >= KEEP_OTHERS and age_days > 1):
            shutil.rmtree(path, ignore_errors=True)


def _abandoned(name, mtime, now):
    """Whether the hidden staging directory ``name`` (``.<key>.<pid>.<random>``) was left
    by an extraction that no longer runs."""
    if now - mtime > STALE_AFTER_SECONDS:
        return True
    parts = name.split(".")
    if len(parts) < 4 or not parts[2].isdigit():
        return False  # not ours to judge before it is stale
    pid = int(parts[2])
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False
