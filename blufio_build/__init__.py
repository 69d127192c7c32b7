"""The build behind ``build_zipapp.py``: Blufio as one file, ``blufio.pyz``.

How the archive is laid out, and why:

- Pure-Python code (Blufio's and its dependencies') sits at the archive's root with
  bytecode compiled at build time for the target CPython minor: unchecked hash-based
  ``.pyc`` next to each ``.py``, the only place zipimport looks. It loads straight from
  the archive; nothing is extracted for it.
- Wheels with native code (PyNaCl, cffi, MarkupSafe; uvloop when built with that extra)
  sit under ``.native/`` (a name no import can reach). The archive's ``__main__``
  (``blufio/_archive/__main__.py``) runs ``blufio/_archive/bootstrap.py``, which installs a
  tiny meta-path finder; the first import of one of their top-level names extracts them,
  once, into a per-user cache directory named by their content hash
  (``blufio/_archive/native.py``).
- ``blufio/_frozen_build.py`` records the build (version, features, extras, target, time,
  native wheels) and bakes the catalog and the parsed manifests in as Python literals.
- Third-party packages come only from ``wheels.lock`` (name==version, sha256, file name),
  resolved per feature (a plugin or an extra, see ``catalog``) from ``catalog.json``'s
  ``core_packages`` and ``packages`` and their ``Requires-Dist``, with markers evaluated
  for the *target*. Downloads are cached in ``build/wheels/`` and verified against the
  lock; the package index is asked only for a wheel the cache does not have.
- Same inputs and ``SOURCE_DATE_EPOCH`` give a byte-identical archive.

One job per module:

- ``catalog``: the catalog and the features a build selects.
- ``target``: the interpreter and platform an archive is built for.
- ``interpreters``: finding a CPython of a given minor on this machine.
- ``wheels``: the wheel cache (download once, verify, read a wheel's files and metadata).
- ``resolve``: the one walk over requirements, and the wheels a build needs.
- ``lock``: ``wheels.lock``: read, write, re-pin (``--update-lock``).
- ``bytecode``: compiling ``.pyc`` files with the target's interpreter.
- ``contents``: what goes into the archive besides bytecode.
- ``writer``: writing the zip, reproducibly.
- ``build``: ``build_archive``, which ties these together; ``cli``: the command line.

This package runs on the build machine only; no file of it goes into the archive.
"""

import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CATALOG_PATH = os.path.join(ROOT, "catalog.json")
LOCK_PATH = os.path.join(ROOT, "wheels.lock")


def cache_dir(*parts):
    """A directory under the build cache: ``build/`` (``$BLUFIO_BUILD_CACHE`` to move it)."""
    return os.path.join(os.environ.get("BLUFIO_BUILD_CACHE") or os.path.join(ROOT, "build"),
                        *parts)
