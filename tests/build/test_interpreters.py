"""Finding a CPython of a given minor wherever this machine keeps it."""

import os
import sys

from blufio_build.interpreters import candidates, find_python, find_pythons, probe

HOST = "{}.{}".format(*sys.version_info[:2])


def test_the_host_minor_is_found_as_a_real_interpreter_outside_any_virtualenv():
    found = find_python(HOST)
    assert found is not None and os.path.isabs(found) and not os.path.islink(found)
    minor, implementation, in_venv, _ = probe(found)
    assert (minor, implementation, in_venv) == (HOST, "cpython", False)
    assert found == find_pythons(HOST)[0]


def test_a_minor_nobody_installed_is_none():
    assert find_python("3.99") is None and find_pythons("3.99") == []


def test_pyenv_versions_come_first_newest_patch_first_then_path(tmp_path, monkeypatch):
    root = tmp_path / "pyenv"
    for version in ("3.12.2", "3.12.10", "3.11.1"):
        binary = root / "versions" / version / "bin" / "python3.12"
        binary.parent.mkdir(parents=True)
        binary.write_text("#!/bin/sh\n")
        binary.chmod(0o755)
    on_path = tmp_path / "bin"
    on_path.mkdir()
    (on_path / "python3.12").write_text("#!/bin/sh\n")
    (on_path / "python3.12").chmod(0o755)
    monkeypatch.setenv("PYENV_ROOT", str(root))
    monkeypatch.setenv("PATH", str(on_path))
    assert candidates("3.12") == [str(root / "versions/3.12.10/bin/python3.12"),
                                  str(root / "versions/3.12.2/bin/python3.12"),
                                  str(on_path / "python3.12")]


def test_something_that_is_not_an_interpreter_is_passed_over(tmp_path):
    fake = tmp_path / "python3.12"
    fake.write_text("#!/bin/sh\necho hello\n")
    fake.chmod(0o755)
    assert probe(str(fake)) is None and probe(str(tmp_path / "missing")) is None
