"""Bytecode for the archive, compiled by a CPython of the target's minor.

Each ``.py`` gets an unchecked hash-based ``.pyc``: in the archive next to its source (the
only place zipimport looks), for extracted native wheels in ``__pycache__``. Bytecode is
cached in ``build/pyc/<abi>-<interpreter tag>/`` by a hash of source and recorded name.
"""

import hashlib
import json
import os
import subprocess
import sys
import tempfile

from blufio._archive.native import NATIVE_PREFIX
from blufio.errors import BuildError
from blufio_build import cache_dir
from blufio_build.interpreters import find_python

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "compile_worker.py")


def find_interpreter(target):
    """A CPython of the target's minor, to compile bytecode with: this one if it fits."""
    if sys.version_info[:2] == target.minor and sys.implementation.name == "cpython":
        return sys.executable
    found = find_python(target.python_version)
    if found is None:
        v = target.python_version
        raise BuildError(f"building for CPython {v} needs a python{v} to compile bytecode; "
                         f"install one (e.g. 'pyenv install {v}') or put it on PATH")
    return found


def sources_to_compile(entries, native_files, target):
    """``{(arcname, recorded name, pyc arcname): source}`` for every ``.py`` to ship.

    ``entries`` load from the archive (pyc beside the source); ``native_files`` (under
    ``NATIVE_PREFIX``) are extracted first, so theirs go in ``__pycache__`` and record the
    name they will have once extracted.
    """
    sources = {}
    for arc, (data, _) in entries.items():
        if arc.endswith(".py"):
            sources[(arc, arc, arc + "c")] = data
    cache_tag = f"cpython-{target.abi[2:]}"
    for arc, (data, _) in native_files.items():
        if arc.endswith(".py"):
            directory, _, base = arc.rpartition("/")
            pyc = f"{directory}/__pycache__/{base[:-3]}.{cache_tag}.pyc"
            sources[(arc, arc[len(NATIVE_PREFIX):], pyc)] = data
    return sources


def compile_all(sources, target, interpreter):
    """``{key: source bytes}`` (keys as ``sources_to_compile`` makes) -> ``{key: pyc bytes}``."""
    cache = cache_dir("pyc", f"{target.abi}-{interpreter_tag(interpreter)}")
    os.makedirs(cache, exist_ok=True)
    results, missing = {}, []
    for key, source in sources.items():
        digest = hashlib.sha256(source + b"\0" + key[1].encode()).hexdigest()
        cached = os.path.join(cache, digest + ".pyc")
        if os.path.exists(cached):
            with open(cached, "rb") as f:
                results[key] = f.read()
        else:
            missing.append((key, source, cached))
    if missing:
        results.update(_compile(missing, interpreter))
    return results


def interpreter_tag(interpreter):
    """A short hash of the interpreter's version and bytecode magic number."""
    code = "import sys, importlib.util as u; print(sys.version, u.MAGIC_NUMBER.hex())"
    probe = subprocess.run([interpreter, "-c", code], capture_output=True, text=True,
                           check=True)
    return hashlib.sha256(probe.stdout.encode()).hexdigest()[:16]


def _compile(missing, interpreter):
    """Compile ``[(key, source, cache path)]`` in one run of the worker; cache the results."""
    results = {}
    # Scratch space beside the cache, so each result moves into it atomically (os.replace
    # cannot cross file systems, and the cache may live on another one than /tmp).
    with tempfile.TemporaryDirectory(dir=os.path.dirname(missing[0][2])) as tmp:
        jobs = []
        for i, (key, source, _) in enumerate(missing):
            path = os.path.join(tmp, f"{i}.py")
            with open(path, "wb") as f:
                f.write(source)
            jobs.append([path, path + "c", key[1]])
        result = subprocess.run([interpreter, "-I", WORKER], input=json.dumps(jobs),
                                capture_output=True, text=True, check=False,
                                env=dict(os.environ, PYTHONHASHSEED="0"))
        if result.returncode != 0:
            raise BuildError(f"compiling bytecode failed: {result.stderr.strip()[-2000:]}")
        for (key, _, cached), (_, cfile, _) in zip(missing, jobs):
            with open(cfile, "rb") as f:
                results[key] = f.read()
            os.replace(cfile, cached)
    return results
