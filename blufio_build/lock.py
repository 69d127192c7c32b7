"""``wheels.lock``: pinned, hashed wheels, one line each: ``name==version sha256:HEX file``.

``read_lock``/``write_lock`` read and write it; ``update_lock`` (``--update-lock``) re-pins
every package any feature needs for every target in ``LOCK_TARGETS``, walking the same
requirements a build walks (``blufio_build.resolve.walk``). A package keeps its pinned
version while every requirement allows it; a wheel the old lock already names for that
version is reused from the cache, so re-running it with nothing to change needs no index.
"""

import os
import sys
import tempfile

from blufio.errors import BuildError
from blufio_build import LOCK_PATH
from blufio_build._packaging import (
    Requirement,
    SpecifierSet,
    canonicalize_name,
    parse_wheel_filename,
)
from blufio_build.catalog import every_feature, load_catalog
from blufio_build.resolve import best_wheel, top_level_requirements, walk
from blufio_build.target import GLIBC_FLOOR, Target
from blufio_build.wheels import (
    PREFER_PURE,
    download,
    fetch,
    is_pure,
    pip_download,
    sha256_file,
    wheel_cache,
)

LOCK_TARGETS = [(minor, arch) for minor in ("3.10", "3.11", "3.12", "3.13")
                for arch in ("x86_64", "aarch64")]
_LINE = "expected 'name==version sha256:HEX file.whl'"


def parse_lock(text, path=LOCK_PATH):
    """``{name: (version, [(sha256, filename), ...])}`` from a lock file's text."""
    lock = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            pin, digest, filename = line.split()
            name, version = pin.split("==")
        except ValueError:
            raise BuildError(f"{path}:{number}: {_LINE}") from None
        if not digest.startswith("sha256:"):
            raise BuildError(f"{path}:{number}: {_LINE}")
        name = canonicalize_name(name)
        if name in lock and lock[name][0] != version:
            raise BuildError(f"{path}:{number}: {name} is pinned twice")
        lock.setdefault(name, (version, []))[1].append((digest[7:], filename))
    return lock


def read_lock(path=LOCK_PATH):
    """The parsed lock file (see ``parse_lock``)."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise BuildError(f"{path} is missing; create it with: python3 build_zipapp.py "
                         "--update-lock") from None
    return parse_lock(text, path)


def format_lock(lock):
    """The text of a lock file: a header, then one sorted line per wheel."""
    minors = ", ".join(sorted({minor for minor, _ in LOCK_TARGETS}))
    lines = ["# Pinned, hashed wheels for build_zipapp.py: name==version sha256 wheel.",
             "# Regenerate with: python3 build_zipapp.py --update-lock",
             f"# Targets: CPython {minors} on manylinux_2_{GLIBC_FLOOR} x86_64 and aarch64."]
    for name in sorted(lock):
        version, files = lock[name]
        for digest, filename in sorted(set(files), key=lambda f: f[1]):
            lines.append(f"{name}=={version} sha256:{digest} {filename}")
    return "\n".join(lines) + "\n"


def write_lock(lock, path=LOCK_PATH):
    """Write ``lock`` (as ``parse_lock`` returns it) to ``path``."""
    with open(path, "w", encoding="utf-8") as f:
        f.write(format_lock(lock))


def update_lock(path=LOCK_PATH, catalog=None, targets=None):
    """Re-pin every package any feature (plugin or extra) needs, for every target, and
    write the lock."""
    catalog = catalog or load_catalog()
    try:
        old = read_lock(path)
    except BuildError:
        old = {}
    pinner = Pinner(old)
    requirements = top_level_requirements(catalog, every_feature(catalog))
    while True:
        pinner.changed = False
        for minor, arch in targets or LOCK_TARGETS:
            target = Target(minor, arch)
            names = walk(requirements, target, pinner.chooser(target))
            print(f"locked {target.name}: {len(names)} packages", file=sys.stderr)
        if not pinner.changed:
            break  # else a pin was raised for a later requirement: walk every target again
    write_lock(pinner.lock(), path)
    print(f"wrote {path}", file=sys.stderr)


class Pinner:
    """The versions and wheels ``update_lock`` has chosen so far."""

    def __init__(self, old):
        self.old = old
        self.pins = {}  # name -> version
        self.files = {}  # name -> [(sha256, filename)] recorded for the pin
        self.constraints = {}  # name -> SpecifierSet: every requirement seen on it
        self.changed = False

    def lock(self):
        """The lock to write."""
        return {name: (self.pins[name], self.files[name]) for name in self.pins}

    def chooser(self, target):
        """A ``walk`` callback pinning each package for ``target``."""
        def choose(name, requirement, needed_by):
            spec = self.constraints.get(name, SpecifierSet()) & requirement.specifier
            self.constraints[name] = spec
            if name in self.pins and not spec.contains(self.pins[name], prereleases=True):
                print(f"re-pinning {name} (was {self.pins[name]}) for {spec}", file=sys.stderr)
                self.files.pop(name, None)
                self.pins[name] = choose_version(name, spec, {}, target)
                self.changed = True
            if name not in self.pins:
                self.pins[name] = choose_version(name, spec, self.old, target)
            return self.wheel(name, target)
        return choose

    def wheel(self, name, target):
        """The cached path of the pinned wheel of ``name`` for ``target``, recorded."""
        version = self.pins[name]
        have = self.files.setdefault(name, [])
        old_version, old_files = self.old.get(name, (None, []))
        known = have + ([f for f in old_files if f not in have] if old_version == version
                        else [])
        best = best_wheel(name, known, target)
        if best is not None and (name not in PREFER_PURE or is_pure(best[1])):
            if best not in have:
                have.append(best)
            return fetch((name, version, *best), target)
        filename = download(f"{name}=={version}", target, pure=name in PREFER_PURE)
        path = os.path.join(wheel_cache(), filename)
        have.append((sha256_file(path), filename))
        return path


def choose_version(name, specifier, old, target):
    """The version to pin: the old pin, else the one installed here, else pip's pick, the
    first of these ``specifier`` allows."""
    if name in old and specifier.contains(old[name][0], prereleases=True):
        return old[name][0]
    try:
        from importlib.metadata import version as installed

        here = installed(name)
        if specifier.contains(here, prereleases=True):
            return here
    except (ImportError, ValueError):  # not installed here, or not a version we can read
        pass
    with tempfile.TemporaryDirectory() as tmp:
        pip_download([str(Requirement(f"{name}{specifier}"))], target, tmp)
        return parse_wheel_filename(os.listdir(tmp)[0])[1].public
