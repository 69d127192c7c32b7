"""The wheel cache: each wheel downloaded once, verified against the lock, then read.

Wheels live in ``build/wheels/`` (see ``blufio_build.cache_dir``) under their own file
names; pip (``pip download --no-deps --only-binary=:all:``) is asked only for a wheel that
is not there, so a build with a warm cache never needs the package index.
"""

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile

from blufio.errors import BuildError
from blufio_build import cache_dir

# Packages whose pure-Python wheel is preferred where both exist (tomli's cp wheels are
# mypyc-compiled; the pure one loads from the archive with no extraction).
PREFER_PURE = frozenset({"tomli"})
# Files of a wheel that an archive does not need (Cython sources: uvloop ships its own).
_DROP = re.compile(r"(^|/)(__pycache__/|tests?/conftest\.py$)|\.pyi$|\.pyc$|\.dist-info/"
                   r"(RECORD|INSTALLER|REQUESTED|WHEEL|direct_url\.json)$|\.(pyx|pxd|pxi)$")


def wheel_cache():
    """The directory downloaded wheels are kept in."""
    return cache_dir("wheels")


def is_pure(filename):
    """Whether a wheel's file name says it runs on any platform and interpreter."""
    return filename.endswith("-none-any.whl")


def sha256_file(path):
    """The hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def pip_download(requirements, target, dest, pure=False):
    """``pip download --no-deps --only-binary=:all:`` for ``target`` into ``dest``."""
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "-q", "-d", dest, *target.pip_args(pure),
               *requirements]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR")]
        raise BuildError(f"pip could not download {' '.join(requirements)} for "
                         f"{target.name}: {'; '.join(errors) or result.stderr.strip()}")


def download(requirement, target, pure=False, expect=None):
    """Download one wheel of ``requirement`` for ``target`` into the cache; its file name.

    ``expect`` is the file name the lock names: pip fetching another is an error.
    """
    os.makedirs(wheel_cache(), exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        pip_download([requirement], target, tmp, pure=pure)
        got = os.listdir(tmp)[0]
        if expect and got != expect:
            raise BuildError(f"pip fetched {got} for {requirement}, but wheels.lock expects "
                             f"{expect}")
        shutil.move(os.path.join(tmp, got), os.path.join(wheel_cache(), got))
    return got


def fetch(wheel, target):
    """The path of ``wheel`` (name, version, sha256, filename) in the cache, downloaded
    only when missing; its hash is checked against the lock's either way."""
    name, version, digest, filename = wheel
    path = os.path.join(wheel_cache(), filename)
    if not os.path.exists(path):
        download(f"{name}=={version}", target, pure=is_pure(filename) and name in PREFER_PURE,
                 expect=filename)
    actual = sha256_file(path)
    if actual != digest:
        raise BuildError(f"{path}: sha256 {actual} does not match wheels.lock ({digest}); "
                         "delete it and build again, or check where it came from")
    return path


def wheel_requirements(wheel_path):
    """The ``Requires-Dist`` lines of a wheel's METADATA."""
    with zipfile.ZipFile(wheel_path) as zf:
        meta = next(n for n in zf.namelist()
                    if n.count("/") == 1 and n.endswith(".dist-info/METADATA"))
        text = zf.read(meta).decode("utf-8")
    header = text.split("\n\n", 1)[0]
    return [line.split(":", 1)[1].strip() for line in header.splitlines()
            if line.startswith("Requires-Dist:")]


def wheel_files(path):
    """``{arcname: (bytes, mode)}`` of a wheel, less what an archive does not need."""
    out = {}
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            if info.is_dir() or _DROP.search(info.filename):
                continue
            if info.filename.split("/", 1)[0].endswith(".data"):
                continue  # scripts and headers: nothing an import needs
            out[info.filename] = (zf.read(info), (info.external_attr >> 16) & 0o777)
    return out


def is_native(files):
    """Whether a wheel's files include native code (which zipimport cannot load)."""
    return any(name.endswith((".so", ".pyd")) or ".so." in name for name in files)


def top_level_names(files):
    """The top-level import names a wheel's files provide."""
    names = set()
    for name in files:
        head = name.split("/", 1)[0]
        if head.endswith((".dist-info", ".libs")) or head.startswith("."):
            continue
        if "/" in name:
            names.add(head)
        elif name.endswith(".py"):
            names.add(head[:-3])
        elif name.endswith(".so"):
            names.add(head.split(".", 1)[0])
    return names
