"""Hints name the command as the user runs it: ``blufio``, or the interpreter and archive."""

import os

import pytest

from blufio.hints import command
from tests.archives import PYTHON, run


def test_from_an_installed_blufio_hints_say_blufio():
    assert command("auth token") == "blufio auth token"


@pytest.mark.slow
def test_from_an_archive_hints_name_the_interpreter_and_the_archive(archives):
    archive = archives["default"]
    result = run(archive, "auth", "revoke", "no-such-id")
    assert result.returncode == 2
    assert f"'{os.path.basename(PYTHON)} {archive} auth list' shows them" in result.stderr
