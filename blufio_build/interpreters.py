"""Finding a CPython of a given minor on this machine, wherever it is installed.

Candidates, best first: pyenv's versions (``$PYENV_ROOT``, else ``pyenv root`` when pyenv
is on ``PATH``, else ``~/.pyenv``), then every ``pythonX.Y`` on ``PATH``. Each is asked
what it is, so a pyenv shim for a version pyenv does not select, a virtualenv's python or
another implementation is passed over; what is returned is the interpreter's real binary.
"""

import glob
import os
import re
import shutil
import subprocess

_PROBE = ("import sys; print('%d.%d' % sys.version_info[:2], sys.implementation.name, "
          "int(sys.prefix != sys.base_prefix), sys.executable)")


def pyenv_roots():
    """Where pyenv may keep its versions, best first, without duplicates."""
    roots = [os.environ.get("PYENV_ROOT")]
    pyenv = shutil.which("pyenv")
    if pyenv and not roots[0]:
        result = subprocess.run([pyenv, "root"], capture_output=True, text=True,
                                check=False)
        roots.append(result.stdout.strip() if result.returncode == 0 else None)
    roots.append(os.path.expanduser("~/.pyenv"))
    return list(dict.fromkeys(r for r in roots if r and os.path.isdir(r)))


def candidates(minor):
    """Paths that may be a CPython ``minor`` ("3.12"), best first."""
    found = []
    for root in pyenv_roots():
        pattern = os.path.join(root, "versions", f"{minor}.*", "bin", f"python{minor}")
        found += sorted(glob.glob(pattern), key=_patch_level, reverse=True)
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        found.append(os.path.join(directory or ".", f"python{minor}"))
    return [path for path in dict.fromkeys(found) if os.access(path, os.X_OK)]


def _patch_level(path):
    match = re.search(r"/versions/\d+\.\d+\.(\d+)", path)
    return int(match.group(1)) if match else -1


def probe(path):
    """``(minor, implementation, in_virtualenv, executable)`` of an interpreter, or None."""
    try:
        result = subprocess.run([path, "-I", "-c", _PROBE], capture_output=True, text=True,
                                check=False, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    fields = result.stdout.split(None, 3)
    if result.returncode != 0 or len(fields) != 4:
        return None
    return fields[0], fields[1], fields[2] == "1", fields[3].strip()


def _cpythons(minor):
    """Yield the real binary of each CPython ``minor`` candidate (not in a virtualenv)."""
    for path in candidates(minor):
        info = probe(path)
        if info and info[:3] == (minor, "cpython", False):
            yield os.path.realpath(info[3])


def find_pythons(minor):
    """Every CPython ``minor`` found (not in a virtualenv), best first."""
    return list(dict.fromkeys(_cpythons(minor)))


def find_python(minor):
    """The best CPython ``minor`` on this machine, or None."""
    return next(_cpythons(minor), None)
