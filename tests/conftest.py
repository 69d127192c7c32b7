"""Shared fixtures: an isolated environment per test and a way to run the real CLI."""

import functools
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Variables that would let the developer's own setup leak into a test.
_LEAKY_PREFIXES = ("BLUFIO_", "ANTHROPIC_", "TELEGRAM_")

SHM = "/dev/shm"


# Fixtures that start Blufio as a separate process: a test using one is marked ``slow``.
_PROCESS_FIXTURES = {"blufio", "archives", "serve"}


def pytest_configure(config):
    """Temporary directories live in memory (``/dev/shm``) where the machine has it: most
    tests write a fresh database and vault, and waiting for a disk's fsync was much of their
    time. ``--basetemp`` chooses another place; the directory is removed after the run."""
    if config.option.basetemp or hasattr(config, "workerinput") or not os.path.isdir(SHM):
        return
    config.option.basetemp = tempfile.mkdtemp(prefix="blufio-tests-", dir=SHM)
    config.add_cleanup(functools.partial(shutil.rmtree, config.option.basetemp, True))


@pytest.fixture(autouse=True, scope="session")
def one_tls_context():
    """Every HTTP client in the tests (the SDK's, httpx's, the providers') builds the same
    default TLS context, and parsing the CA bundle for each cost ~20 ms of CPU, a large share
    of the fast tests' time; they talk plain HTTP to 127.0.0.1, so they share one."""
    import httpx
    from httpx._transports import default

    made = {}

    def shared(verify=True, cert=None, trust_env=True):
        if verify is not True or cert is not None:
            return httpx.create_ssl_context(verify=verify, cert=cert, trust_env=trust_env)
        if trust_env not in made:
            made[trust_env] = httpx.create_ssl_context(trust_env=trust_env)
        return made[trust_env]

    patch = pytest.MonkeyPatch()
    patch.setattr(default, "create_ssl_context", shared)
    yield
    patch.undo()


def pytest_collection_modifyitems(items):
    """``pytest -m "not slow"`` keeps the in-process tests: mark every test that runs
    Blufio as a process (besides those marked ``slow`` by hand: builds, fuzzing)."""
    for item in items:
        if _PROCESS_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    """Every test gets its own HOME, data directory and working directory, and no
    BLUFIO_*/provider variables from the outside."""
    for name in list(os.environ):
        if name.startswith(_LEAKY_PREFIXES):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("BLUFIO_DATA_DIR", str(tmp_path / "data"))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return tmp_path


@pytest.fixture
def data_dir(isolated_env):
    return isolated_env / "data"


def run_blufio(*args, input=None, env=None, cwd=None, timeout=60):
    """Run ``python -m blufio ARGS`` in a subprocess from this checkout; return the result."""
    environ = dict(os.environ)
    environ["PYTHONPATH"] = REPO_ROOT + os.pathsep + environ.get("PYTHONPATH", "")
    environ.update(env or {})
    return subprocess.run([sys.executable, "-m", "blufio", *args], input=input, env=environ,
                          cwd=cwd, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def blufio():
    """The real command line, run in a subprocess: ``blufio("config", "path")``."""
    return run_blufio


@pytest.fixture
def config(isolated_env):
    """The configuration a fresh user has: defaults, no file, this test's data directory."""
    from blufio.config import load_config

    return load_config()


@pytest.fixture
async def storage(config):
    """An open ``SqliteStorage`` in this test's data directory."""
    from blufio.plugins.sqlite.storage import SqliteStorage

    store = SqliteStorage(config)
    await store.open()
    yield store
    await store.shutdown()


@pytest.fixture
def repo_root():
    """This checkout's root directory."""
    return REPO_ROOT


@pytest.fixture(scope="session")
def archives(tmp_path_factory):
    """The test archives (see ``tests.archives.build_archives``), built once per run: under
    pytest-xdist the first worker to ask builds them and the others wait and reuse them."""
    from tests.archives import shared_archives

    run_temp = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):  # each worker has its own; the parent is the run's
        run_temp = run_temp.parent
    return shared_archives(run_temp / "archives")


@pytest.fixture
def fake_anthropic():
    """A fake Anthropic Messages API on 127.0.0.1 (see ``tests.fakes.anthropic_server``)."""
    from tests.fakes.anthropic_server import FakeAnthropic

    with FakeAnthropic() as server:
        yield server
