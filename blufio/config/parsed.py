"""Configuration files parsed once, remembered, so a command need not import ``tomllib``.

Importing ``tomllib`` (with the ``typing``, ``string``, ``datetime`` and regular expressions
it brings) takes ~10 ms: more than the rest of ``blufio plugin list`` beyond the
interpreter's own start. So the document parsed from a configuration file is kept, as
``marshal`` data, in ``config-<crc of its path>`` in the cache directory of the archive's
native code (``$BLUFIO_CACHE_DIR``, ``$XDG_CACHE_HOME/blufio`` or ``~/.cache/blufio``, the
first that passes that cache's checks: a real directory of this user that no one else can
write), with the file's path, device, inode, size and modification and change times (ns).
Any write, replacement or ``chmod`` of the file changes one of them, and it is parsed again.

- A file modified in the last ``SETTLE_SECONDS`` is parsed and not kept: the kernel stamps
  times at a coarse tick, so two writes of the same size in one tick would look alike
  (git's "racy clean" problem).
- A document ``marshal`` cannot hold (a TOML date or time) is not kept.
- No cache directory fit to use: the file is parsed each time. Any failure to read or write
  the cache is silent: the file is parsed as if there were none.
"""

import marshal
import os
import time
import zlib

from blufio.paths import PRIVATE_FILE_MODE

FORMAT = 1  # bump when what is stored changes
SETTLE_SECONDS = 2.0


def read_document(path, parse, environ=None):
    """The document of the configuration file at ``path``: remembered, else ``parse(path)``
    (remembered when it may be)."""
    try:
        info = os.stat(path)
    except OSError:
        return parse(path)
    path = os.path.abspath(path)
    signature = (FORMAT, path, info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns,
                 info.st_ctime_ns)
    directory = _cache_dir(environ)
    if directory is None:
        return parse(path)
    kept = os.path.join(directory, f"config-{zlib.crc32(path.encode()):08x}")
    document = _recall(kept, signature)
    if document is None:
        document = parse(path)
        if time.time_ns() - info.st_mtime_ns > SETTLE_SECONDS * 1e9:
            _keep(kept, signature, document)
    return document


def _cache_dir(environ):
    from blufio._archive.native import candidate_roots, usable_root

    for root, _ in candidate_roots(environ, fallback=False):
        if usable_root(root) is None:
            return root
    return None


def _recall(kept, signature):
    try:
        with open(kept, "rb") as f:
            stored, document = marshal.load(f)
    except (OSError, EOFError, ValueError, TypeError):
        return None
    return document if stored == signature else None


def _keep(kept, signature, document):
    try:
        data = marshal.dumps((signature, document))
    except ValueError:  # a date or time: parsed each time
        return
    scratch = f"{kept}.{os.getpid()}"
    try:
        fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
        with open(fd, "wb") as f:
            f.write(data)
        os.replace(scratch, kept)
    except OSError:
        try:
            os.unlink(scratch)
        except OSError:
            pass
