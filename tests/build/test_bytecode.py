"""Compiling the archive's bytecode, and finding the interpreter to do it."""

import importlib.util
import sys

import pytest

from blufio.errors import BuildError
from blufio_build.bytecode import compile_all, find_interpreter, sources_to_compile
from blufio_build.target import Target, host_target


def test_archive_code_gets_a_pyc_beside_it_and_native_code_a_pycache_entry():
    target = Target("3.12", "x86_64")
    sources = sources_to_compile({"pkg/a.py": (b"A", 0o644), "pkg/data.txt": (b"", 0o644)},
                                 {".native/nacl/b.py": (b"B", 0o644)}, target)
    assert sources == {("pkg/a.py", "pkg/a.py", "pkg/a.pyc"): b"A",
                       (".native/nacl/b.py", "nacl/b.py",
                        ".native/nacl/__pycache__/b.cpython-312.pyc"): b"B"}


def test_bytecode_is_unchecked_hash_based_and_cached(build_cache, tmp_path):
    target = host_target()
    key = ("m.py", "m.py", "m.pyc")
    first = compile_all({key: b"x = 1\n"}, target, sys.executable)[key]
    assert first[:4] == importlib.util.MAGIC_NUMBER
    assert int.from_bytes(first[4:8], "little") == 0b01  # hash-based, not checked
    cached = list((build_cache.parent / "pyc").rglob("*.pyc"))
    assert len(cached) == 1 and cached[0].read_bytes() == first
    assert compile_all({key: b"x = 1\n"}, target, sys.executable)[key] == first


def test_the_recorded_name_is_part_of_the_bytecode(build_cache):
    target = host_target()
    one = compile_all({("a.py", "a.py", "a.pyc"): b"x = 1\n"}, target, sys.executable)
    two = compile_all({("b.py", "b.py", "b.pyc"): b"x = 1\n"}, target, sys.executable)
    assert one[("a.py", "a.py", "a.pyc")] != two[("b.py", "b.py", "b.pyc")]


def test_source_that_does_not_compile_is_a_build_error(build_cache):
    with pytest.raises(BuildError, match=r"compiling bytecode failed: File \"bad.py\", line 1\n(.|\n)*SyntaxError"):
        compile_all({("bad.py", "bad.py", "bad.pyc"): b"def (:\n"}, host_target(),
                    sys.executable)


def test_the_build_interpreter_compiles_for_its_own_minor():
    assert find_interpreter(host_target()) == sys.executable


def test_a_target_without_an_interpreter_here_says_how_to_get_one():
    with pytest.raises(BuildError, match="building for CPython 3.99 needs a python3.99 to "
                       "compile bytecode; install one"):
        find_interpreter(Target("3.99", "x86_64"))
