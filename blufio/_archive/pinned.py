"""Keep a long-running ``blufio.pyz`` on its own version whatever happens to the file on disk.

zipimport reads a module lazily, by path, at the offsets it read when the archive was first
opened; once the file is replaced (``mv new.pyz blufio.pyz``) or overwritten (``cp``), every
later import from it fails with ``ZipImportError: bad local file header``. ``pin()`` copies
the archive once into an unlinked private file (``O_TMPFILE``: no name, nothing to clean up,
gone with the process) and points every import at that copy through ``/proc/self/fd/N``.
It costs one copy of the archive (7 MB, about 10 ms) in the temp directory per ``serve`` or
``shell``; the other commands are too short-lived to need it.

``changed()`` says whether the file at the original path is no longer the one pinned, and
``version_on_disk()`` which version it now holds.
"""

import os
import sys

LONG_RUNNING = ("serve", "shell")
_pinned = {}  # "archive": the path as started, "copy": the /proc path, "signature"


def wanted(argv):
    """Whether the command line ``argv`` (without the program) runs long enough to pin."""
    return any(word in LONG_RUNNING for word in argv)


def pin(archive):
    """Serve every later import from a private copy of ``archive``; return the copy's path
    (None where there is no ``/proc/self/fd``, and imports keep reading ``archive``)."""
    if not os.path.isdir("/proc/self/fd"):
        return None
    signature = _signature(archive)
    fd = _private_copy(archive)
    copy = f"/proc/self/fd/{fd}"
    _repoint(archive, copy)
    _pinned.update(archive=os.path.abspath(archive), copy=copy, signature=signature)
    return copy


def archive():
    """The archive's path as this process was started with it, or None when not pinned."""
    return _pinned.get("archive")


def changed():
    """Whether the file at the archive's path is no longer the one this process runs."""
    if not _pinned:
        return False
    return _signature(_pinned["archive"]) != _pinned["signature"]


def version_on_disk():
    """The version of the archive now at the original path (None if unreadable or gone)."""
    import re
    import zipfile

    try:
        with zipfile.ZipFile(_pinned["archive"]) as zf:
            text = zf.read("blufio/_frozen_build.py").decode("utf-8", "replace")
    except (KeyError, OSError, zipfile.BadZipFile):
        return None
    match = re.search(r"'version': '([^']+)'", text)
    return match.group(1) if match else None


def _signature(path):
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)


def _private_copy(archive):
    import tempfile

    directory = tempfile.gettempdir()
    try:
        fd = os.open(directory, os.O_TMPFILE | os.O_RDWR | os.O_CLOEXEC, 0o600)
    except (AttributeError, OSError):  # no O_TMPFILE here: a named file, unlinked at once
        fd, name = tempfile.mkstemp(dir=directory)
        os.unlink(name)
    with open(archive, "rb") as source, open(fd, "wb", closefd=False) as target:
        while True:
            chunk = source.read(1 << 20)
            if not chunk:
                break
            target.write(chunk)
    return fd


def _repoint(old, new):
    """Make sys.path, the import caches and the modules already loaded from ``old`` use
    ``new`` instead."""
    import zipimport

    def moved(path):
        if path == old or path.startswith(old + "/"):
            return new + path[len(old):]
        return path

    sys.path[:] = [moved(entry) for entry in sys.path]
    for key in [k for k in sys.path_importer_cache if moved(k) != k]:
        del sys.path_importer_cache[key]
    for module in list(sys.modules.values()):
        loader = getattr(module, "__loader__", None)
        if not isinstance(loader, zipimport.zipimporter) or loader.archive != old:
            continue
        if isinstance(getattr(module, "__path__", None), list):
            module.__path__ = [moved(p) for p in module.__path__]
        module.__file__ = moved(module.__file__)
        loader = zipimport.zipimporter(os.path.join(new, loader.prefix))
        module.__loader__ = loader
        spec = getattr(module, "__spec__", None)
        if spec is not None:
            spec.loader, spec.origin = loader, module.__file__
            if spec.submodule_search_locations is not None:
                spec.submodule_search_locations[:] = [
                    moved(p) for p in spec.submodule_search_locations]
