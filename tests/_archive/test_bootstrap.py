"""The archive's bootstrap: the interpreter check and the native-code finder."""

import ast
import os
import sys

import pytest

from blufio._archive import bootstrap
from blufio._archive.bootstrap import (NativeFinder, interpreter_problem, platform_problem,
                                      prepare)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_the_interpreter_the_archive_was_built_for_may_run_it():
    assert interpreter_problem("3.12", (3, 12, 1, "final", 0)) is None


def test_another_minor_is_told_which_to_use_or_how_to_build_for_itself():
    assert interpreter_problem("3.12", (3, 11, 7)) == (
        "blufio: this blufio.pyz was built for CPython 3.12, and this is 3.11; run it with "
        "python3.12, or build one for this interpreter: python3 build_zipapp.py "
        "--python-version 3.11")


def test_a_python_older_than_3_10_is_told_the_minimum():
    assert interpreter_problem("3.12", (3, 9, 18)) == (
        "blufio: needs CPython 3.10 or newer, and this is 3.9; run it with python3.12")


def test_prepare_refuses_a_wrong_interpreter_with_one_line_and_exit_2(capsys):
    with pytest.raises(SystemExit) as exited:
        prepare({"python_version": "3.1"}, {"top_level": ["nacl"]})
    assert exited.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_an_archive_for_the_machine_it_runs_on_may_run():
    assert platform_problem("x86_64", "Linux", "x86_64") is None
    assert platform_problem("aarch64", "Linux", "arm64") is None
    assert platform_problem(None, "Darwin", "arm64") is None  # no native code recorded


def test_an_archive_for_another_machine_names_both_and_the_build_command():
    assert platform_problem("aarch64", "Linux", "x86_64") == (
        "blufio: this blufio.pyz was built for Linux aarch64, and this machine is x86_64; "
        "build one here with: python3 build_zipapp.py --platform x86_64")
    assert "Darwin aarch64" in platform_problem("x86_64", "Darwin", "arm64")


def test_prepare_refuses_another_machine_before_anything_else(capsys, monkeypatch):
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    before = list(sys.meta_path)
    here = "{}.{}".format(*sys.version_info[:2])
    other = "aarch64" if os.uname().machine == "x86_64" else "x86_64"
    with pytest.raises(SystemExit) as exited:
        prepare({"python_version": here, "platform": other}, {"top_level": ["nacl"]})
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and other in err and "--platform" in err
    assert sys.meta_path == before  # nothing armed, nothing extracted


def test_prepare_arms_the_native_finder_only_when_there_is_native_code(monkeypatch):
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    here = "{}.{}".format(*sys.version_info[:2])
    before = len(sys.meta_path)
    prepare({"python_version": here}, {"top_level": []})
    assert len(sys.meta_path) == before
    prepare({"python_version": here}, {"top_level": ["nacl", "_cffi_backend"]})
    assert isinstance(sys.meta_path[0], NativeFinder)
    assert sys.meta_path[0].top_level == {"nacl", "_cffi_backend"}


def test_run_from_a_source_checkout_there_is_nothing_to_check(monkeypatch):
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    before = list(sys.meta_path)
    prepare()  # no blufio._frozen_build here
    assert sys.meta_path == before


def test_the_finder_answers_only_for_native_top_level_names():
    finder = NativeFinder(["nacl"])
    assert finder.find_spec("json") is None
    assert finder.find_spec("nacl", path=["somewhere"]) is None  # a submodule: not ours


@pytest.mark.parametrize("relative", ["blufio/__init__.py", "blufio/_archive/__init__.py",
                                      "blufio/_archive/bootstrap.py",
                                      "blufio/_archive/__main__.py"])
def test_what_runs_before_the_check_parses_as_python_3_8(relative):
    with open(os.path.join(ROOT, relative), encoding="utf-8") as f:
        ast.parse(f.read(), relative, feature_version=(3, 8))


def test_the_minimum_python_is_written_once():
    from blufio_build import target

    assert target.MIN_PYTHON is bootstrap.MIN_PYTHON
