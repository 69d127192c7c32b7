"""Building archives for tests and running them with a bare interpreter.

The archives are built once per session (wheels and bytecode are cached under ``build/``)
and run with the pyenv CPython binaries directly, ``-I`` so nothing from a virtualenv or the
environment leaks in.
"""

import glob
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "build_zipapp.py")


def _pyenv(minor):
    found = sorted(glob.glob(f"/root/.pyenv/versions/{minor}.*/bin/python{minor}"))
    return found[-1] if found else None


HOST = f"{sys.version_info[0]}.{sys.version_info[1]}"
PYTHON = _pyenv(HOST) or os.path.realpath(sys.executable)
OTHER = next((m for m in ("3.12", "3.11", "3.13") if m != HOST and _pyenv(m)), None)
# Runs the archive's own __main__ up to the CLI, then imports argv[2] and prints __file__s.
IMPORTER = """\
import sys, zipimport
a = sys.argv[1]
sys.path.insert(0, a)
s = zipimport.zipimporter(a).get_source('__main__')
exec(compile(s.split('from blufio.cli import main')[0], '__main__', 'exec'))
for m in sys.argv[2].split(','):
    print(m, __import__(m).__file__)
"""


def build(*args, env=None):
    result = subprocess.run([PYTHON, BUILD, *args], capture_output=True, text=True, cwd=ROOT,
                            env=dict(os.environ, **(env or {})), timeout=600)
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


def run(archive, *args, python=PYTHON, env=None, cwd=None, preexec_fn=None):
    environ = {"PATH": os.environ["PATH"], "HOME": os.environ["HOME"],
               "BLUFIO_DATA_DIR": os.environ["BLUFIO_DATA_DIR"],
               "XDG_CONFIG_HOME": os.environ["XDG_CONFIG_HOME"],
               "XDG_CACHE_HOME": os.path.join(os.environ["HOME"], ".cache")}
    environ.update(env or {})
    return subprocess.run([python, "-I", archive, *args], capture_output=True, text=True,
                          env=environ, cwd=cwd, preexec_fn=preexec_fn, timeout=120)
