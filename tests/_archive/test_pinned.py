"""A pinned archive: later imports read the private copy whatever happens to the file."""

import subprocess
import sys
import zipfile

from tests.conftest import REPO_ROOT

CHILD = """
import os, sys, zipfile
archive = sys.argv[1]
sys.path.insert(0, archive)
import pinpkg
from blufio._archive import pinned
pinned.pin(archive)
assert not pinned.changed()
with zipfile.ZipFile(archive, "w") as zf:  # overwritten in place, as cp does
    zf.writestr("pinpkg/__init__.py", "WHICH = 'new'\\n")
    zf.writestr("pinpkg/late.py", "WHICH = 'new late, and much longer than the old one'\\n")
import pinpkg.late
print(pinpkg.WHICH, pinpkg.late.WHICH, pinned.changed(), pinpkg.__file__.startswith("/proc"))
"""


def make_archive(path):
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("pinpkg/__init__.py", "WHICH = 'old'\n")
        zf.writestr("pinpkg/late.py", "WHICH = 'old late'\n")


def test_imports_after_the_file_is_overwritten_come_from_the_pinned_copy(tmp_path):
    archive = str(tmp_path / "app.pyz")
    make_archive(archive)
    result = subprocess.run([sys.executable, "-c", CHILD, archive], capture_output=True,
                            text=True, timeout=60, cwd=REPO_ROOT, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["old", "old", "late", "True", "True"]


def test_only_long_running_commands_are_pinned():
    from blufio._archive.pinned import wanted

    assert wanted(["serve"]) and wanted(["--debug", "shell", "--session", "x"])
    assert not wanted(["plugin", "list"]) and not wanted(["--version"])
