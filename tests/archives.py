"""Building archives for tests and running them with a bare interpreter.

The archives are built once per session (wheels and bytecode are cached under ``build/``)
and run with real CPython binaries directly (not a virtualenv's, nor a pyenv shim), ``-I``
so nothing from a virtualenv or the environment leaks in. Interpreters are found the way
the build finds them (``blufio_build.interpreters``: pyenv wherever it lives, then
``PATH``); a test that needs one this machine lacks is skipped and says which.
"""

import fcntl
import functools
import json
import os
import subprocess
import sys

from blufio_build.interpreters import find_python

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "build_zipapp.py")


@functools.cache
def interpreter(minor):
    """The real binary of a CPython ``minor`` ("3.12") on this machine, or None."""
    return find_python(minor)


HOST = f"{sys.version_info[0]}.{sys.version_info[1]}"
PYTHON = interpreter(HOST) or os.path.realpath(sys.executable)
OTHER = next((m for m in ("3.12", "3.11", "3.13") if m != HOST and interpreter(m)), None)
# Does what the archive's __main__ does before the CLI (the interpreter check, the native
# finder), then imports argv[2] and prints each module's __file__.
IMPORTER = """\
import sys
sys.path.insert(0, sys.argv[1])
from blufio._archive.bootstrap import prepare
prepare()
for m in sys.argv[2].split(','):
    print(m, __import__(m).__file__)
"""


def build(*args, env=None):
    result = subprocess.run([PYTHON, BUILD, *args], capture_output=True, text=True, cwd=ROOT,
                            env=dict(os.environ, **(env or {})), timeout=600, check=False)
    return result


def build_archives(out):
    """Build the test archives into ``out``; return ``{"default", "stripped", "api",
    "other"}`` -> archive path ("other" only when pyenv has another CPython minor)."""
    env = {"SOURCE_DATE_EPOCH": "1700000000"}
    made = {}
    for name, args in (
            ("default", []),
            ("stripped", ["--no-default-features", "--features", "anthropic,sqlite,telegram"]),
            ("api", ["--no-default-features", "--features", "api,anthropic,sqlite"]),
    ):
        path = str(out / f"{name}.pyz")
        result = build(*args, "-o", path, env=env)
        if result.returncode != 0:
            raise AssertionError(f"build failed: {result.stderr}")
        made[name] = path
    if OTHER:
        path = str(out / "other.pyz")
        result = build("--python-version", OTHER, "-o", path)
        if result.returncode != 0:
            raise AssertionError(f"build failed: {result.stderr}")
        made["other"] = path
    return made


def shared_archives(out):
    """``build_archives(out)`` done once however many processes ask: the first builds under a
    lock while the others wait, then all read the list it wrote."""
    out.mkdir(parents=True, exist_ok=True)
    listing = out / "archives.json"
    with open(out / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not listing.exists():
            listing.write_text(json.dumps(build_archives(out)))
    return json.loads(listing.read_text())


def run(archive, *args, python=PYTHON, env=None, cwd=None, preexec_fn=None):
    environ = {"PATH": os.environ["PATH"], "HOME": os.environ["HOME"],
               "BLUFIO_DATA_DIR": os.environ["BLUFIO_DATA_DIR"],
               "XDG_CONFIG_HOME": os.environ["XDG_CONFIG_HOME"],
               "XDG_CACHE_HOME": os.path.join(os.environ["HOME"], ".cache")}
    environ.update(env or {})
    return subprocess.run([python, "-I", archive, *args], capture_output=True, text=True,
                          env=environ, cwd=cwd, preexec_fn=preexec_fn, timeout=120, check=False)
