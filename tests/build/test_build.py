"""Whole builds (slow): what the archive holds of the build, and building offline.

These use the session's test archives (``tests.archives``), so the wheel cache is warm.
"""

import os
import zipfile

import pytest

from blufio_build import ROOT
from tests.archives import build

pytestmark = pytest.mark.slow


def test_no_file_of_the_build_package_is_in_the_archive(archives):
    names = zipfile.ZipFile(archives["default"]).namelist()
    assert not any(n.startswith("blufio_build") for n in names)
    assert "build_zipapp.py" not in names


def test_the_archives_main_is_the_bootstrap_entry_point(archives):
    with zipfile.ZipFile(archives["default"]) as zf:
        main = zf.read("__main__.py")
        assert "blufio/_archive/bootstrap.pyc" in zf.namelist()
    with open(os.path.join(ROOT, "blufio", "_archive", "__main__.py"), "rb") as f:
        assert main == f.read()


def test_a_build_with_a_warm_cache_needs_no_package_index(archives, tmp_path):
    unreachable = {"PIP_NO_INDEX": "1", "PIP_INDEX_URL": "http://127.0.0.1:9/",
                   "PIP_EXTRA_INDEX_URL": "", "PIP_FIND_LINKS": str(tmp_path)}
    out = tmp_path / "api.pyz"
    result = build("--no-default-features", "--features", "api,anthropic,sqlite", "-o",
                   str(out), env=unreachable)
    assert result.returncode == 0, result.stderr
    assert zipfile.ZipFile(out).testzip() is None
