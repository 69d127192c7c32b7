#!/usr/bin/env python3
"""Build Blufio as one file, ``blufio.pyz``, that runs with a stock ``python3``.

    python3 build_zipapp.py                                   # dist/blufio.pyz, default bundle
    python3 build_zipapp.py --no-default-features --features api,anthropic,sqlite -o min.pyz
    python3 build_zipapp.py --list-features                   # the catalog, defaults marked
    python3 build_zipapp.py --python-version 3.12 --platform aarch64   # another target
    python3 build_zipapp.py --update-lock                     # re-pin wheels.lock

How the archive is laid out, and why:

- Pure-Python code (Blufio's and its dependencies') sits at the archive's root with
  bytecode compiled at build time for the target CPython minor: unchecked hash-based
  ``.pyc`` next to each ``.py``, the only place zipimport looks. It loads straight from
  the archive; nothing is extracted for it.
- Wheels with native code (PyNaCl, cffi, MarkupSafe) sit under ``.native/`` (a name no
  import can reach). ``__main__`` installs a tiny meta-path finder; the first import of
  one of their top-level names extracts them, once, into a per-user cache directory named
  by their content hash (``blufio/_archive/native.py``).
- ``blufio/_frozen_build.py`` records the build (version, features, target, time) and
  bakes the catalog and the parsed manifests in as Python literals.
- Third-party packages come only from ``wheels.lock`` (name==version, sha256, file name),
  resolved per feature from ``catalog.json``'s ``core_packages`` and ``packages`` and their
  ``Requires-Dist``, with markers evaluated for the *target*. Downloads are cached in
  ``build/wheels/`` and verified against the lock.
- Same inputs and ``SOURCE_DATE_EPOCH`` give a byte-identical archive.
"""

import argparse
import glob
import hashlib
import io
import json
import os
import platform as host_platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile

try:
    from packaging import markers, tags
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name, parse_wheel_filename
except ImportError:  # pip vendors packaging, and every python3 with pip has it
    from pip._vendor.packaging import markers, tags
    from pip._vendor.packaging.requirements import Requirement
    from pip._vendor.packaging.utils import canonicalize_name, parse_wheel_filename

ROOT = os.path.dirname(os.path.abspath(__file__))
CATALOG_PATH = os.path.join(ROOT, "catalog.json")
LOCK_PATH = os.path.join(ROOT, "wheels.lock")
# Downloaded wheels and compiled bytecode are cached here ($BLUFIO_BUILD_CACHE to move it).
CACHE = os.environ.get("BLUFIO_BUILD_CACHE") or os.path.join(ROOT, "build")
WHEEL_CACHE = os.path.join(CACHE, "wheels")
PYC_CACHE = os.path.join(CACHE, "pyc")
NATIVE_PREFIX = ".native/"
GLIBC_FLOOR = 17  # manylinux_2_17 (manylinux2014): CentOS 7, Ubuntu 14.04 and newer
MIN_PYTHON = (3, 10)
LOCK_TARGETS = [(minor, arch) for minor in ("3.10", "3.11", "3.12", "3.13")
                for arch in ("x86_64", "aarch64")]
# Packages whose pure-Python wheel is preferred where both exist (tomli's cp wheels are
# mypyc-compiled; the pure one loads from the archive with no extraction).
PREFER_PURE = {"tomli"}
# Files of a wheel that an archive does not need.
_DROP = re.compile(r"(^|/)(__pycache__/|tests?/conftest\.py$)|\.pyi$|\.pyc$|\.dist-info/"
                   r"(RECORD|INSTALLER|REQUESTED|WHEEL|direct_url\.json)$")
FIXED_DATE = (1980, 1, 1, 0, 0, 0)


class BuildError(Exception):
    """A build cannot proceed; the message says why and what to do."""

    def __init__(self, message, exit_code=1):
        super().__init__(message)
        self.exit_code = exit_code


# -- the catalog and features ------------------------------------------------------------

def load_catalog():
    with open(CATALOG_PATH, encoding="utf-8") as f:
        return json.load(f)


def select_features(catalog, requested, defaults, allow_incomplete):
    """The plugin names to build, in catalog order; exit 2 on an unknown one."""
    plugins = {p["name"]: p for p in catalog["plugins"]}
    aliases = {a: p["name"] for p in catalog["plugins"] for a in p.get("aliases", ())}
    chosen = {p["name"] for p in catalog["plugins"] if p["default"]} if defaults else set()
    for raw in requested:
        name = raw.strip().lower()
        if not name:
            continue
        name = aliases.get(name, name)
        if name not in plugins:
            valid = ", ".join(f"{p['name']}" + (f" (alias {', '.join(p['aliases'])})"
                                                 if p.get("aliases") else "")
                              for p in catalog["plugins"])
            raise BuildError(f"unknown feature '{raw}'; valid features: {valid}", 2)
        chosen.add(name)
    features = [p["name"] for p in catalog["plugins"] if p["name"] in chosen]
    kinds = {plugins[name]["kind"] for name in features}
    gaps = [why for kind, why in (
        ("provider", "no provider plugin: the agent cannot answer (serve, shell)"),
        ("storage", "no storage plugin: sessions and the cost ledger cannot be kept"),
    ) if kind not in kinds]
    if gaps and not allow_incomplete:
        raise BuildError("this selection is incomplete: " + "; ".join(gaps)
                         + ". Add one (e.g. --features anthropic,sqlite) or pass "
                         "--allow-incomplete to build it anyway", 2)
    return features, gaps


# -- the target ------------------------------------------------------------------------------

class Target:
    """The interpreter and platform an archive is built for."""

    def __init__(self, python_version, arch):
        if not re.fullmatch(r"3\.\d+", python_version):
            raise BuildError(f"--python-version must look like 3.11, not {python_version!r}", 2)
        self.python_version = python_version
        self.minor = tuple(int(x) for x in python_version.split("."))
        if self.minor < MIN_PYTHON:
            raise BuildError("Blufio needs CPython 3.10 or newer", 2)
        arch = arch.rsplit("_", 1)[-1] if arch.startswith("manylinux") else arch
        arch = {"amd64": "x86_64", "arm64": "aarch64"}.get(arch, arch)
        if arch.endswith("x86_64"):
            arch = "x86_64"
        if arch not in ("x86_64", "aarch64"):
            raise BuildError(f"unsupported --platform {arch!r}; use x86_64 or aarch64", 2)
        self.arch = arch
        self.abi = "cp" + python_version.replace(".", "")
        self.platforms = ([f"manylinux_2_{n}_{arch}" for n in range(GLIBC_FLOOR, 4, -1)]
                          + [f"manylinux2014_{arch}"]
                          + ([f"manylinux2010_{arch}", f"manylinux1_{arch}"]
                             if arch == "x86_64" else []))
        self.tags = list(tags.cpython_tags(self.minor, [self.abi], self.platforms)) + list(
            tags.compatible_tags(self.minor, self.abi, self.platforms))
        self._priority = {tag: i for i, tag in enumerate(self.tags)}

    @property
    def name(self):
        return f"{self.abi}-manylinux_2_{GLIBC_FLOOR}_{self.arch}"

    def environment(self):
        """The marker environment of the target (pip would use the build host's)."""
        return {"implementation_name": "cpython", "implementation_version":
                f"{self.python_version}.0", "os_name": "posix", "platform_machine": self.arch,
                "platform_release": "", "platform_system": "Linux", "platform_version": "",
                "python_full_version": f"{self.python_version}.0",
                "platform_python_implementation": "CPython",
                "python_version": self.python_version, "sys_platform": "linux", "extra": ""}

    def priority(self, filename):
        """Lower is better; None when the wheel cannot run on the target."""
        _, _, _, wheel_tags = parse_wheel_filename(filename)
        found = [self._priority[t] for t in wheel_tags if t in self._priority]
        return min(found) if found else None

    def pip_args(self, pure=False):
        if pure:
            return ["--platform", "any", "--python-version", self.python_version,
                    "--implementation", "py", "--abi", "none"]
        args = []
        for plat in (f"manylinux_2_{GLIBC_FLOOR}_{self.arch}", f"manylinux2014_{self.arch}"):
            args += ["--platform", plat]
        return args + ["--python-version", self.python_version, "--implementation", "cp",
                       "--abi", self.abi, "--abi", "abi3", "--abi", "none"]


def host_target():
    return Target(f"{sys.version_info[0]}.{sys.version_info[1]}", host_platform.machine())


# -- the lock --------------------------------------------------------------------------------

def read_lock(path=LOCK_PATH):
    """``{name: (version, [(sha256, filename), ...])}`` from ``wheels.lock``."""
    lock = {}
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        raise BuildError(f"{path} is missing; create it with: python3 build_zipapp.py "
                         "--update-lock") from None
    for number, line in enumerate(lines, 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            pin, digest, filename = line.split()
            name, version = pin.split("==")
            assert digest.startswith("sha256:")
        except (ValueError, AssertionError):
            raise BuildError(f"{path}:{number}: expected 'name==version sha256:HEX file.whl'")
        name = canonicalize_name(name)
        if name in lock and lock[name][0] != version:
            raise BuildError(f"{path}:{number}: {name} is pinned twice")
        lock.setdefault(name, (version, []))[1].append((digest[7:], filename))
    return lock


def write_lock(lock, path=LOCK_PATH):
    lines = ["# Pinned, hashed wheels for build_zipapp.py: name==version sha256 wheel.",
             "# Regenerate with: python3 build_zipapp.py --update-lock",
             f"# Targets: CPython {', '.join(sorted({m for m, _ in LOCK_TARGETS}))} on "
             f"manylinux_2_{GLIBC_FLOOR} x86_64 and aarch64."]
    for name in sorted(lock):
        version, files = lock[name]
        for digest, filename in sorted(set(files), key=lambda f: f[1]):
            lines.append(f"{name}=={version} sha256:{digest} {filename}")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def sha256_file(path):
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
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        errors = [l for l in result.stderr.splitlines() if l.startswith("ERROR")]
        raise BuildError(f"pip could not download {' '.join(requirements)} for "
                         f"{target.name}: {'; '.join(errors) or result.stderr.strip()}")


def wheel_requirements(wheel_path):
    """The ``Requires-Dist`` lines of a wheel's METADATA."""
    with zipfile.ZipFile(wheel_path) as zf:
        meta = next(n for n in zf.namelist()
                    if n.count("/") == 1 and n.endswith(".dist-info/METADATA"))
        text = zf.read(meta).decode("utf-8")
    header = text.split("\n\n", 1)[0]
    return [line.split(":", 1)[1].strip() for line in header.splitlines()
            if line.startswith("Requires-Dist:")]


def wanted(requirement, environment, extras):
    """Whether ``requirement`` applies on the target, for the requested ``extras``."""
    if requirement.marker is None:
        return True
    return any(requirement.marker.evaluate(dict(environment, extra=extra))
               for extra in ("", *extras))


def top_level_requirements(catalog, features):
    plugins = {p["name"]: p for p in catalog["plugins"]}
    names = list(catalog["core_packages"])
    for feature in features:
        names += plugins[feature]["packages"]
    return [Requirement(n) for n in names]


def update_lock():
    """Re-pin every package any feature needs, for every lock target, from the index.

    A package keeps its pinned version (or the one installed here, or else pip's pick);
    each target's wheel is downloaded, hashed and recorded.
    """
    catalog = load_catalog()
    try:
        old = read_lock()
    except BuildError:
        old = {}
    everything = [p["name"] for p in catalog["plugins"]]
    pins, files, constraints = {}, {}, {}
    while not _lock_pass(catalog, everything, old, pins, files, constraints):
        pass  # a pin was raised to satisfy a later requirement: walk every target again
    write_lock({name: (pins[name], files[name]) for name in pins})
    print(f"wrote {LOCK_PATH}", file=sys.stderr)


def _lock_pass(catalog, everything, old, pins, files, constraints):
    """Walk every target's dependency tree once; False when a pin had to change."""
    from packaging.specifiers import SpecifierSet

    for minor, arch in LOCK_TARGETS:
        target = Target(minor, arch)
        env = target.environment()
        queue = [(r, set(r.extras)) for r in top_level_requirements(catalog, everything)]
        seen = set()
        while queue:
            requirement, extras = queue.pop(0)
            if not wanted(requirement, env, extras):
                continue
            name = canonicalize_name(requirement.name)
            spec = constraints.setdefault(name, SpecifierSet())
            spec &= requirement.specifier
            constraints[name] = spec
            if name in pins and not spec.contains(pins[name], prereleases=True):
                print(f"re-pinning {name} (was {pins[name]}) for {spec}", file=sys.stderr)
                pins.pop(name)
                files.pop(name, None)
                pins[name] = _choose_version(name, Requirement(f"{name}{spec}"), {}, target)
                return False
            if (name, frozenset(extras)) in seen:
                continue
            seen.add((name, frozenset(extras)))
            if name not in pins:
                pins[name] = _choose_version(name, Requirement(f"{name}{spec}"), old, target)
            path = _lock_fetch(name, pins[name], target, files)
            for line in wheel_requirements(path):
                dep = Requirement(line)
                queue.append((dep, set(dep.extras)))
        print(f"locked {target.name}: {len({n for n, _ in seen})} packages", file=sys.stderr)
    return True


def _choose_version(name, requirement, old, target):
    if name in old and requirement.specifier.contains(old[name][0], prereleases=True):
        return old[name][0]
    try:
        from importlib.metadata import version as installed

        here = installed(name)
        if requirement.specifier.contains(here, prereleases=True):
            return here
    except Exception:
        pass
    with tempfile.TemporaryDirectory() as tmp:
        pip_download([str(Requirement(f"{name}{requirement.specifier}"))], target, tmp)
        return parse_wheel_filename(os.listdir(tmp)[0])[1].public


def _lock_fetch(name, version, target, files):
    """Download (or reuse) ``name==version``'s wheel for ``target``; record it in ``files``."""
    have = files.setdefault(name, [])
    usable = [(target.priority(f), d, f) for d, f in have if target.priority(f) is not None]
    pure = name in PREFER_PURE
    if usable and (not pure or any(f.endswith("-none-any.whl") for _, _, f in usable)):
        filename = min(usable)[2]
        return os.path.join(WHEEL_CACHE, filename)
    os.makedirs(WHEEL_CACHE, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        pip_download([f"{name}=={version}"], target, tmp, pure=pure)
        filename = os.listdir(tmp)[0]
        shutil.move(os.path.join(tmp, filename), os.path.join(WHEEL_CACHE, filename))
    path = os.path.join(WHEEL_CACHE, filename)
    have.append((sha256_file(path), filename))
    return path


# -- resolving and fetching for one build ----------------------------------------------------

def resolve(catalog, features, target, lock):
    """The wheels (name, version, sha256, filename) this build needs, sorted by name."""
    env = target.environment()
    queue = [(r, set(r.extras), "catalog.json") for r in top_level_requirements(catalog, features)]
    chosen, seen = {}, set()
    while queue:
        requirement, extras, needed_by = queue.pop(0)
        if not wanted(requirement, env, extras):
            continue
        name = canonicalize_name(requirement.name)
        if (name, frozenset(extras)) in seen:
            continue
        seen.add((name, frozenset(extras)))
        if name not in lock:
            raise BuildError(f"{name} (needed by {needed_by}) is not in wheels.lock; run "
                             "python3 build_zipapp.py --update-lock")
        version, files = lock[name]
        if not requirement.specifier.contains(version, prereleases=True):
            raise BuildError(f"wheels.lock pins {name}=={version}, but {needed_by} needs "
                             f"{requirement}; run python3 build_zipapp.py --update-lock")
        if name not in chosen:
            ranked = sorted((target.priority(f), not f.endswith("-none-any.whl"), f, d)
                            for d, f in files if target.priority(f) is not None)
            if name in PREFER_PURE:
                ranked.sort(key=lambda r: r[1])
            if not ranked:
                raise BuildError(f"wheels.lock has no wheel of {name}=={version} for "
                                 f"{target.name}; run python3 build_zipapp.py --update-lock")
            _, _, filename, digest = ranked[0]
            chosen[name] = (name, version, digest, filename)
            path = fetch(chosen[name], target)
            for line in wheel_requirements(path):
                dep = Requirement(line)
                queue.append((dep, set(dep.extras), f"{name}=={version}"))
    return [chosen[name] for name in sorted(chosen)]


def fetch(wheel, target):
    """The path of ``wheel`` in the cache, downloading it when missing; hash-checked."""
    name, version, digest, filename = wheel
    path = os.path.join(WHEEL_CACHE, filename)
    if not os.path.exists(path):
        os.makedirs(WHEEL_CACHE, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            pip_download([f"{name}=={version}"], target, tmp, pure=filename.endswith(
                "-none-any.whl") and name in PREFER_PURE)
            got = os.listdir(tmp)[0]
            if got != filename:
                raise BuildError(f"pip fetched {got} for {name}=={version}, but wheels.lock "
                                 f"expects {filename}")
            shutil.move(os.path.join(tmp, got), path)
    actual = sha256_file(path)
    if actual != digest:
        raise BuildError(f"{path}: sha256 {actual} does not match wheels.lock ({digest}); "
                         "delete it and build again, or check where it came from")
    return path


# -- bytecode --------------------------------------------------------------------------------

_COMPILER = r"""
import json, py_compile, sys
for source, cfile, dfile in json.load(sys.stdin):
    py_compile.compile(source, cfile=cfile, dfile=dfile, doraise=True,
                       invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
"""


def find_interpreter(target):
    """A CPython of the target's minor, to compile bytecode with."""
    if sys.version_info[:2] == target.minor and sys.implementation.name == "cpython":
        return sys.executable
    v = target.python_version
    candidates = []
    for root in (os.environ.get("PYENV_ROOT"), os.path.expanduser("~/.pyenv"), "/root/.pyenv"):
        if root:
            candidates += sorted(glob.glob(os.path.join(root, "versions", f"{v}.*", "bin",
                                                        f"python{v}")), reverse=True)
    candidates += [shutil.which(f"python{v}"), f"/usr/bin/python{v}", f"/usr/local/bin/python{v}"]
    for candidate in candidates:
        if not candidate or not os.access(candidate, os.X_OK):
            continue
        probe = subprocess.run([candidate, "-I", "-c", "import sys; print('%d.%d' % "
                                "sys.version_info[:2], sys.implementation.name)"],
                               capture_output=True, text=True)
        if probe.returncode == 0 and probe.stdout.split() == [v, "cpython"]:
            return os.path.realpath(candidate)
    raise BuildError(f"building for CPython {v} needs a python{v} to compile bytecode; "
                     f"install one (e.g. 'pyenv install {v}') or put it on PATH")


def compile_all(sources, target, interpreter):
    """``{(arcname, dfile, cache_name): source bytes}`` -> ``{key: pyc bytes}``.

    Bytecode is an unchecked hash-based pyc, so it depends only on the source, the name it
    is compiled under and the interpreter; it is cached in ``build/pyc`` on that key.
    """
    tag = hashlib.sha256(subprocess.run(
        [interpreter, "-c", "import sys, importlib.util as u; print(sys.version, "
         "u.MAGIC_NUMBER.hex())"], capture_output=True, text=True, check=True
    ).stdout.encode()).hexdigest()[:16]
    results, missing = {}, []
    cache_dir = os.path.join(PYC_CACHE, f"{target.abi}-{tag}")
    os.makedirs(cache_dir, exist_ok=True)
    for key, source in sources.items():
        digest = hashlib.sha256(source + b"\0" + key[1].encode()).hexdigest()
        cached = os.path.join(cache_dir, digest + ".pyc")
        if os.path.exists(cached):
            with open(cached, "rb") as f:
                results[key] = f.read()
        else:
            missing.append((key, source, cached))
    if missing:
        with tempfile.TemporaryDirectory() as tmp:
            jobs = []
            for i, (key, source, cached) in enumerate(missing):
                path = os.path.join(tmp, f"{i}.py")
                with open(path, "wb") as f:
                    f.write(source)
                jobs.append([path, path + "c", key[1]])
            env = dict(os.environ, PYTHONHASHSEED="0")
            result = subprocess.run([interpreter, "-I", "-c", _COMPILER], input=json.dumps(jobs),
                                    capture_output=True, text=True, env=env)
            if result.returncode != 0:
                raise BuildError(f"compiling bytecode failed: {result.stderr.strip()[-2000:]}")
            for (key, _, cached), (_, cfile, _) in zip(missing, jobs):
                with open(cfile, "rb") as f:
                    results[key] = f.read()
                os.replace(cfile, cached)
    return results


# -- the archive's contents ------------------------------------------------------------------

def blufio_files(features, catalog):
    """``{arcname: bytes}`` of the blufio package, less the plugins left out."""
    left_out = {p["name"] for p in catalog["plugins"]} - set(features)
    package = os.path.join(ROOT, "blufio")
    files = {}
    for directory, dirs, names in os.walk(package):
        rel = os.path.relpath(directory, ROOT).replace(os.sep, "/")
        dirs[:] = sorted(d for d in dirs if d != "__pycache__" and
                         not (rel == "blufio/plugins" and d in left_out))
        for name in sorted(names):
            if name.endswith((".pyc", ".pyo")) or name == "catalog.json" \
                    or name == "_frozen_build.py":
                continue
            with open(os.path.join(directory, name), "rb") as f:
                files[f"{rel}/{name}"] = f.read()
    return files


def wheel_files(path):
    """``{arcname: (bytes, mode)}`` of a wheel, less what an archive does not need."""
    out = {}
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            if info.is_dir() or _DROP.search(info.filename):
                continue
            if ".data/" in info.filename.split("/", 1)[0] + "/":
                continue  # scripts and headers: nothing an import needs
            out[info.filename] = (zf.read(info), (info.external_attr >> 16) & 0o777)
    return out


def is_native(files):
    return any(name.endswith((".so", ".pyd")) or ".so." in name for name in files)


def top_level_names(files):
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


def manifests_of(features):
    """Parse each feature's ``plugin.toml`` here, so the archive needs no TOML parser."""
    try:
        import tomllib as toml
    except ImportError:  # CPython 3.10 builds with the tomli it has installed
        import tomli as toml
    manifests = {}
    for name in features:
        path = os.path.join(ROOT, "blufio", "plugins", name, "plugin.toml")
        with open(path, "rb") as f:
            try:
                manifests[name] = toml.load(f)
            except toml.TOMLDecodeError as exc:
                raise BuildError(f"{path}: not valid TOML ({exc})")
    return manifests


MAIN_TEMPLATE = '''\
"""Start Blufio from its single-file archive (written by build_zipapp.py; keep it tiny)."""
import sys

if sys.version_info[:2] != {minor!r}:
    _this = "%d.%d" % tuple(sys.version_info[:2])
    if sys.version_info < (3, 10):
        sys.stderr.write("blufio: needs CPython 3.10 or newer, and this is %s; run it with "
                         "python{version}\\n" % _this)
    else:
        sys.stderr.write("blufio: this blufio.pyz was built for CPython {version}, and this is "
                         "%s; run it with python{version}, or build one for this interpreter: "
                         "python3 build_zipapp.py --python-version %s\\n" % (_this, _this))
    sys.exit(2)

_NATIVE = {native!r}


class _NativeFinder:
    """Extract the native wheels on the first import of one of their top-level names."""

    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if path is None and name in _NATIVE:
            from blufio._archive.native import activate

            return activate(cls, name)
        return None


if _NATIVE:
    sys.meta_path.insert(0, _NativeFinder)

from blufio.cli import main

sys.exit(main())
'''


def frozen_module(build, catalog, manifests, native):
    return ('"""The frozen record of this build, written by build_zipapp.py."""\n\n'
            f"BUILD = {build!r}\n\nCATALOG = {catalog!r}\n\nMANIFESTS = {manifests!r}\n\n"
            f"NATIVE = {native!r}\n")


def _version():
    text = open(os.path.join(ROOT, "blufio", "__init__.py"), encoding="utf-8").read()
    return re.search(r'^__version__ = "([^"]+)"', text, re.M).group(1)


def build_archive(features, target, output):
    catalog = load_catalog()
    lock = read_lock()
    interpreter = find_interpreter(target)
    wheels = resolve(catalog, features, target, lock)
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    built_at = time.strftime("%Y-%m-%dT%H:%M:%SZ",
                             time.gmtime(int(epoch) if epoch else time.time()))
    date_time = time.gmtime(int(epoch))[:6] if epoch else FIXED_DATE
    date_time = max(date_time, FIXED_DATE)

    entries = {}  # arcname -> (bytes, mode)
    sources = {}  # (arcname, dfile, cache name) -> bytes to compile
    native_files, native_names, native_dists = {}, set(), []
    for name, version, digest, filename in wheels:
        files = fetch((name, version, digest, filename), target)
        files = wheel_files(files)
        if is_native(files):
            native_dists.append(f"{name}=={version}")
            native_names |= top_level_names(files)
            for arc, (data, mode) in files.items():
                native_files[NATIVE_PREFIX + arc] = (data, mode or 0o644)
        else:
            for arc, (data, mode) in files.items():
                entries[arc] = (data, 0o644)
    for arc, data in blufio_files(features, catalog).items():
        entries[arc] = (data, 0o644)

    native_key = hashlib.sha256()
    for arc in sorted(native_files):
        native_key.update(arc.encode() + b"\0" + native_files[arc][0] + b"\0")
    native = {"key": native_key.hexdigest()[:24] if native_files else None,
              "top_level": sorted(native_names), "dists": native_dists}
    record = {"version": _version(), "features": list(features), "target": target.name,
              "python_version": target.python_version, "platform": target.arch,
              "built_at": built_at}
    entries["blufio/_frozen_build.py"] = (frozen_module(
        record, catalog, manifests_of(features), native).encode(), 0o644)
    entries["__main__.py"] = (MAIN_TEMPLATE.format(
        minor=target.minor, version=target.python_version,
        native=tuple(sorted(native_names))).encode(), 0o644)

    # Bytecode: next to the .py in the archive; in __pycache__ for what gets extracted.
    cache_tag = f"cpython-{target.abi[2:]}"
    for arc, (data, _) in entries.items():
        if arc.endswith(".py"):
            sources[(arc, arc, arc + "c")] = data
    for arc, (data, _) in native_files.items():
        if arc.endswith(".py"):
            directory, _, base = arc.rpartition("/")
            pyc = f"{directory}/__pycache__/{base[:-3]}.{cache_tag}.pyc"
            sources[(arc, arc[len(NATIVE_PREFIX):], pyc)] = data
    compiled = compile_all(sources, target, interpreter)
    for (arc, _, pyc), data in compiled.items():
        (native_files if arc.startswith(NATIVE_PREFIX) else entries)[pyc] = (data, 0o644)
    entries.update(native_files)

    directories = set()
    for arc in entries:
        parts = arc.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            directories.add("/".join(parts[:i]) + "/")
    os.makedirs(os.path.dirname(os.path.abspath(output)) or ".", exist_ok=True)
    tmp = f"{output}.{os.getpid()}.tmp"
    with open(tmp, "wb") as raw:
        raw.write(b"#!/usr/bin/env python3\n")
        with zipfile.ZipFile(raw, "w") as zf:
            for arc in sorted(directories | set(entries)):
                info = zipfile.ZipInfo(arc, date_time)
                info.create_system = 3
                if arc.endswith("/"):
                    info.external_attr = (0o40755 << 16) | 0x10
                    zf.writestr(info, b"")
                    continue
                data, mode = entries[arc]
                info.external_attr = (0o100000 | (0o755 if mode & 0o111 else 0o644)) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, data, compresslevel=9)
    os.chmod(tmp, 0o755)
    os.replace(tmp, output)
    return {"output": output, "size": os.path.getsize(output), "wheels": wheels,
            "native": native_dists, "record": record}


# -- the command line ------------------------------------------------------------------------

def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="build_zipapp.py", description="Build Blufio as one file (a zipapp).")
    parser.add_argument("--features", action="append", default=[],
                        help="plugins to add, comma-separated (see --list-features)")
    parser.add_argument("--no-default-features", action="store_true",
                        help="start from no plugins instead of the default bundle")
    parser.add_argument("--allow-incomplete", action="store_true",
                        help="build even without a provider or a storage plugin")
    parser.add_argument("--list-features", action="store_true",
                        help="list the catalog's plugins, defaults marked, and exit")
    parser.add_argument("-o", "--output", default=os.path.join("dist", "blufio.pyz"))
    parser.add_argument("--python-version", default=None,
                        help="target CPython minor, e.g. 3.12 (default: this interpreter's)")
    parser.add_argument("--platform", default=None,
                        help="target architecture: x86_64 or aarch64 (default: this machine's)")
    parser.add_argument("--update-lock", action="store_true",
                        help="re-pin wheels.lock for every supported target, then exit")
    args = parser.parse_args(argv)
    try:
        catalog = load_catalog()
        if args.list_features:
            for p in catalog["plugins"]:
                alias = f" (alias: {', '.join(p['aliases'])})" if p.get("aliases") else ""
                mark = "*" if p["default"] else " "
                print(f"{mark} {p['name']:<12} {p['kind']:<14} {p['description']}{alias}")
            print("\n* in the default bundle")
            return 0
        if args.update_lock:
            update_lock()
            return 0
        requested = [f for group in args.features for f in group.split(",")]
        features, gaps = select_features(catalog, requested, not args.no_default_features,
                                         args.allow_incomplete)
        host = host_target()
        target = Target(args.python_version or host.python_version, args.platform or host.arch)
        started = time.monotonic()
        summary = build_archive(features, target, args.output)
        for gap in gaps:
            print(f"warning: {gap}", file=sys.stderr)
        print(f"built {summary['output']} ({summary['size'] / 1e6:.1f} MB) for {target.name} "
              f"in {time.monotonic() - started:.1f}s: {', '.join(features) or 'no plugins'}; "
              f"{len(summary['wheels'])} wheels, native: {', '.join(summary['native']) or 'none'}")
        return 0
    except BuildError as exc:
        print(f"build_zipapp.py: error: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
