"""The wheel cache, and reading what an archive takes from a wheel."""

import os

import pytest

from blufio.errors import BuildError
from blufio_build.target import Target
from blufio_build.wheels import (
    fetch,
    is_native,
    top_level_names,
    wheel_files,
    wheel_requirements,
)
from tests.build.wheelhouse import make_wheel

TARGET = Target("3.11", "x86_64")


def test_a_cached_wheel_is_used_as_is_after_its_hash_is_checked(build_cache, local_index):
    digest, filename = make_wheel(build_cache, "lib", "1.0")  # the index has nothing
    assert fetch(("lib", "1.0", digest, filename), TARGET) == str(build_cache / filename)


@pytest.mark.slow  # waits out real time
def test_a_missing_wheel_is_downloaded_once_into_the_cache(build_cache, local_index):
    digest, filename = make_wheel(local_index, "lib", "1.0")
    path = fetch(("lib", "1.0", digest, filename), TARGET)
    assert path == str(build_cache / filename) and os.path.exists(path)
    os.unlink(local_index / filename)  # the index is gone: the cache answers now
    assert fetch(("lib", "1.0", digest, filename), TARGET) == path


def test_a_wheel_whose_hash_differs_from_the_lock_is_refused(build_cache, local_index):
    _, filename = make_wheel(build_cache, "lib", "1.0")
    with pytest.raises(BuildError, match=f"{filename}: sha256 .* does not match wheels.lock "
                       r"\(0000\); delete it and build again"):
        fetch(("lib", "1.0", "0000", filename), TARGET)


@pytest.mark.slow  # waits out real time
def test_pip_fetching_another_file_than_the_lock_names_is_an_error(build_cache, local_index):
    digest, _ = make_wheel(local_index, "lib", "1.0")
    with pytest.raises(BuildError, match="pip fetched lib-1.0-py3-none-any.whl for lib==1.0, "
                       "but wheels.lock expects lib-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"):
        fetch(("lib", "1.0", digest, "lib-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"), TARGET)


@pytest.mark.slow  # waits out real time
def test_a_wheel_the_index_lacks_is_a_clear_error(build_cache, local_index):
    with pytest.raises(BuildError, match="pip could not download nothere==1.0 for "
                       "cp311-manylinux_2_17_x86_64"):
        fetch(("nothere", "1.0", "00", "nothere-1.0-py3-none-any.whl"), TARGET)


def test_an_archive_takes_a_wheels_code_but_not_its_build_leftovers(tmp_path):
    _, filename = make_wheel(tmp_path, "pkg", "1.0", files={
        "pkg/__init__.py": b"", "pkg/__pycache__/x.cpython-311.pyc": b"", "pkg/x.pyi": b"",
        "pkg/tests/conftest.py": b"", "pkg-1.0.data/scripts/run": b"",
        "pkg/loop.pyx": b"", "pkg/loop.pxd": b"", "pkg/includes/consts.pxi": b"",
        "pkg/native.cpython-311-x86_64-linux-gnu.so": b"\x7fELF"})
    files = wheel_files(tmp_path / filename)
    assert sorted(files) == ["pkg-1.0.dist-info/METADATA", "pkg/__init__.py",
                             "pkg/native.cpython-311-x86_64-linux-gnu.so"]
    assert is_native(files) and not is_native({"pkg/__init__.py": (b"", 0o644)})


def test_top_level_names_are_packages_modules_and_extensions():
    files = {"nacl/__init__.py": 0, "_cffi_backend.cpython-311-x86_64-linux-gnu.so": 0,
             "six.py": 0, "cffi.libs/libffi.so": 0, "cffi-2.0.dist-info/METADATA": 0}
    assert top_level_names(files) == {"nacl", "_cffi_backend", "six"}


def test_requirements_are_read_from_the_wheels_metadata(tmp_path):
    _, filename = make_wheel(tmp_path, "app", "1.0", requires=["lib>=1",
                                                               "old; python_version < '3.11'"])
    assert wheel_requirements(tmp_path / filename) == ["lib>=1",
                                                       "old; python_version < '3.11'"]
