"""The first code that runs in a ``blufio.pyz``: check the interpreter, arm the native finder.

The archive's ``__main__.py`` is a copy of ``blufio/_archive/__main__.py``, which calls
``main()`` here. What it needs to know about the build comes from the frozen record
(``blufio._frozen_build``, written by the build): the CPython minor the bytecode was
compiled for (``BUILD["python_version"]``) and the top-level names of the wheels with
native code (``NATIVE["top_level"]``).

This module, ``blufio/__init__.py`` and ``blufio/_archive/__init__.py`` run before the
interpreter is checked, so they use no syntax newer than Python 3.8 (a test parses them
that way) and import nothing heavy.
"""

import os
import sys

MIN_PYTHON = (3, 10)
# Machine names (``uname -m``) as the build spells them in ``BUILD["platform"]``.
_MACHINES = {"amd64": "x86_64", "x64": "x86_64", "arm64": "aarch64", "armv8l": "aarch64"}


def platform_problem(built_for, system=None, machine=None):
    """The one-line message refusing this machine, or None when the archive may run here.

    ``built_for`` is the build's ``BUILD["platform"]`` ("x86_64", "aarch64"; None or empty:
    pure Python, any machine); ``system`` and ``machine`` are ``os.uname()``'s (this host's
    by default). The native wheels inside were built for Linux on that machine only.
    """
    if not built_for:
        return None
    if system is None or machine is None:
        uname = os.uname()
        system, machine = system or uname.sysname, machine or uname.machine
    here = _MACHINES.get(machine.lower(), machine.lower())
    if system == "Linux" and here == built_for:
        return None
    host = here if system == "Linux" else f"{system} {here}"
    return (f"blufio: this blufio.pyz was built for Linux {built_for}, and this machine is "
            f"{host}; build one here with: python3 build_zipapp.py --platform {here}")


def interpreter_problem(built_for, running=None):
    """The one-line message refusing this interpreter, or None when it may run the archive.

    ``built_for`` is the CPython minor the archive was built for ("3.12"); ``running`` a
    ``sys.version_info``-like tuple (this interpreter's by default).
    """
    running = tuple((running or sys.version_info)[:2])
    this = "{}.{}".format(*running)
    if this == built_for:
        return None
    if running < MIN_PYTHON:
        oldest = "{}.{}".format(*MIN_PYTHON)
        return (f"blufio: needs CPython {oldest} or newer, and this is {this}; run it with "
                f"python{built_for}")
    return (f"blufio: this blufio.pyz was built for CPython {built_for}, and this is {this}; "
            f"run it with python{built_for}, or build one for this interpreter: "
            f"python3 build_zipapp.py --python-version {this}")


class NativeFinder:
    """A meta-path finder that extracts the native wheels on the first import of one of
    their top-level names (``blufio._archive.native``), then removes itself."""

    def __init__(self, top_level):
        self.top_level = frozenset(top_level)

    def find_spec(self, name, path=None, target=None):
        """The spec of ``name`` from the extracted wheels, or None when it is not theirs."""
        if path is None and name in self.top_level:
            from blufio._archive.native import activate

            return activate(self, name)
        return None


def prepare(build=None, native=None):
    """Refuse a wrong machine or interpreter (one line, exit 2), then arm the native finder.

    ``build`` and ``native`` default to the frozen record's; run from a source checkout
    there is none, and there is nothing to check or extract.
    """
    if build is None:
        try:
            from blufio._frozen_build import BUILD as build
            from blufio._frozen_build import NATIVE as native
        except ImportError:
            return
    problem = (platform_problem(build.get("platform"))
               or interpreter_problem(build["python_version"]))
    if problem:
        sys.stderr.write(problem + "\n")
        sys.exit(2)
    if native["top_level"]:
        sys.meta_path.insert(0, NativeFinder(native["top_level"]))


def main():
    """Run Blufio's command line from the archive; return its exit status.

    A long-running command (``serve``, ``shell``) first pins the archive (``pinned``), so
    that replacing the file on disk does not break it."""
    prepare()
    from blufio._archive import pinned

    if pinned.wanted(sys.argv[1:]):
        import blufio

        pinned.pin(blufio.__loader__.archive)
    from blufio.cli import main as cli_main

    return cli_main()
