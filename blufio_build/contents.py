"""What goes into the archive besides bytecode: Blufio's files, the wheels' files, the
frozen record of the build and ``__main__``.

Entries are ``{arcname: (bytes, mode)}``; wheels with native code are kept apart under
``NATIVE_PREFIX`` (see ``blufio._archive.native``), whole, to be extracted at run time.
"""

import hashlib
import os
import re

from blufio._archive.native import NATIVE_PREFIX
from blufio.errors import BuildError
from blufio_build import ROOT
from blufio_build.wheels import fetch, is_native, top_level_names, wheel_files

PACKAGE = os.path.join(ROOT, "blufio")
MAIN = os.path.join(PACKAGE, "_archive", "__main__.py")
FROZEN = "blufio/_frozen_build.py"
# Files of the package that the archive gets otherwise (the catalog is frozen in).
_NOT_SHIPPED = {"catalog.json", "_frozen_build.py"}


def blufio_files(features, catalog):
    """``{arcname: bytes}`` of the blufio package, less the plugins left out."""
    left_out = {p["name"] for p in catalog["plugins"]} - set(features)
    files = {}
    for directory, dirs, names in os.walk(PACKAGE):
        rel = os.path.relpath(directory, ROOT).replace(os.sep, "/")
        dirs[:] = sorted(d for d in dirs if d != "__pycache__" and
                         not (rel == "blufio/plugins" and d in left_out))
        for name in sorted(names):
            if name.endswith((".pyc", ".pyo")) or name in _NOT_SHIPPED:
                continue
            with open(os.path.join(directory, name), "rb") as f:
                files[f"{rel}/{name}"] = f.read()
    return files


def wheel_entries(wheels, target):
    """``(entries, native_files, native)`` for the resolved ``wheels``.

    Pure wheels' files become entries; native wheels' go under ``NATIVE_PREFIX`` in
    ``native_files``; ``native`` is their record (see ``native_record``).
    """
    entries, native_files, names, dists = {}, {}, set(), []
    for name, version, digest, filename in wheels:
        files = wheel_files(fetch((name, version, digest, filename), target))
        if is_native(files):
            dists.append(f"{name}=={version}")
            names |= top_level_names(files)
            for arc, (data, mode) in files.items():
                native_files[NATIVE_PREFIX + arc] = (data, mode or 0o644)
        else:
            for arc, (data, _) in files.items():
                entries[arc] = (data, 0o644)
    return entries, native_files, native_record(native_files, names, dists)


def native_record(native_files, top_level, dists):
    """The frozen ``NATIVE`` record: ``key`` (a hash of the native files, naming their
    extraction directory; None without any), ``top_level`` names and ``dists``."""
    key = hashlib.sha256()
    for arc in sorted(native_files):
        key.update(arc.encode() + b"\0" + native_files[arc][0] + b"\0")
    return {"key": key.hexdigest()[:24] if native_files else None,
            "top_level": sorted(top_level), "dists": dists}


def manifests_of(features):
    """Parse each feature's ``plugin.toml`` here, so the archive needs no TOML parser."""
    try:
        import tomllib as toml
    except ImportError:  # CPython 3.10 builds with the tomli it has installed
        import tomli as toml
    manifests = {}
    for name in features:
        path = os.path.join(PACKAGE, "plugins", name, "plugin.toml")
        with open(path, "rb") as f:
            try:
                manifests[name] = toml.load(f)
            except toml.TOMLDecodeError as exc:
                raise BuildError(f"{path}: not valid TOML ({exc})") from None
    return manifests


def frozen_module(build, catalog, manifests, native):
    """The source of ``blufio/_frozen_build.py`` (see ``blufio.build_record``)."""
    return ('"""The frozen record of this build, written by build_zipapp.py."""\n\n'
            f"BUILD = {build!r}\n\nCATALOG = {catalog!r}\n\nMANIFESTS = {manifests!r}\n\n"
            f"NATIVE = {native!r}\n")


def main_module():
    """The archive's ``__main__.py``: a copy of ``blufio/_archive/__main__.py``."""
    with open(MAIN, "rb") as f:
        return f.read()


def blufio_version():
    """``blufio.__version__``, read from the source (importing it is not needed)."""
    with open(os.path.join(PACKAGE, "__init__.py"), encoding="utf-8") as f:
        return re.search(r'^__version__ = "([^"]+)"', f.read(), re.MULTILINE).group(1)
