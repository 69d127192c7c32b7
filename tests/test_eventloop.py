"""The event loop: uvloop when the build carries it (or, from source, when installed),
asyncio's otherwise, and the choice logged in one line."""

import asyncio
import logging
import sys

import pytest
import uvloop

from blufio import eventloop

SOURCE = {"target": "source", "extras": None}
ARCHIVE_WITH_UVLOOP = {"target": "cp311-manylinux_2_17_x86_64", "extras": ["uvloop"]}
ARCHIVE_WITHOUT = {"target": "cp311-manylinux_2_17_x86_64", "extras": []}


@pytest.fixture
def uvloop_missing(monkeypatch):
    """uvloop cannot be imported (``None`` in ``sys.modules`` is Python's "not importable")."""
    monkeypatch.setitem(sys.modules, "uvloop", None)


async def loop_module():
    return type(asyncio.get_running_loop()).__module__


def loop_lines(caplog):
    return [r.getMessage() for r in caplog.records if r.name == "blufio.eventloop"]


def test_a_build_that_carries_uvloop_runs_on_it_and_says_so_once(caplog):
    caplog.set_level(logging.INFO, logger="blufio.eventloop")
    assert eventloop.run(loop_module(), ARCHIVE_WITH_UVLOOP).startswith("uvloop")
    assert loop_lines(caplog) == [f"event loop: uvloop {uvloop.__version__}"]


def test_a_build_without_uvloop_runs_on_asyncio_even_when_the_interpreter_has_uvloop(caplog):
    caplog.set_level(logging.INFO, logger="blufio.eventloop")
    assert eventloop.run(loop_module(), ARCHIVE_WITHOUT) == "asyncio.unix_events"
    assert loop_lines(caplog) == ["event loop: asyncio"]


def test_a_source_install_uses_uvloop_when_it_is_installed():
    assert eventloop.choose(SOURCE) == (f"uvloop {uvloop.__version__}", uvloop)


def test_a_source_install_without_uvloop_runs_on_asyncio_quietly(uvloop_missing, caplog):
    caplog.set_level(logging.INFO, logger="blufio.eventloop")
    assert eventloop.run(loop_module(), SOURCE) == "asyncio.unix_events"
    assert loop_lines(caplog) == ["event loop: asyncio"]


def test_a_carried_uvloop_that_does_not_load_is_a_warning_then_asyncio(uvloop_missing, caplog):
    caplog.set_level(logging.INFO, logger="blufio.eventloop")
    assert eventloop.run(loop_module(), ARCHIVE_WITH_UVLOOP) == "asyncio.unix_events"
    warning, chosen = caplog.records
    assert warning.levelname == "WARNING" and "carries uvloop, but it does not load" in \
        warning.getMessage()
    assert chosen.getMessage() == "event loop: asyncio"


@pytest.mark.parametrize("build", [ARCHIVE_WITH_UVLOOP, ARCHIVE_WITHOUT])
def test_run_returns_the_result_and_raises_the_error_as_asyncio_run_does(build):
    async def fails():
        await asyncio.sleep(0)
        raise KeyError("lost")

    async def answers():
        await asyncio.sleep(0.01)
        return 42

    assert eventloop.run(answers(), build) == 42
    with pytest.raises(KeyError, match="lost"):
        eventloop.run(fails(), build)


def test_this_checkout_is_a_source_build_so_uvloop_is_used_when_installed():
    assert eventloop.choose()[0] == f"uvloop {uvloop.__version__}"
