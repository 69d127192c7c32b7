"""A configuration file's parsed document is remembered in the cache directory until the file
changes, so later commands need not parse TOML (nor import tomllib) again."""

import os
import time

import pytest

import blufio.config
from blufio.config import load_config, parse_env_value
from blufio.config.parsed import read_document
from blufio.config.schema import ConfigKey

HOUR = 3600


@pytest.fixture
def cache(isolated_env, monkeypatch):
    """The cache directory the documents are kept in."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(isolated_env / "cache"))
    return isolated_env / "cache" / "blufio"


def settled_file(path, text, age=HOUR):
    """``text`` written to ``path``, its modification time ``age`` seconds ago."""
    path.write_text(text)
    past = time.time() - age
    os.utime(path, (past, past))
    return str(path)


class CountingParser:
    def __init__(self):
        self.calls = 0

    def __call__(self, path):
        from blufio.config.toml import loads

        self.calls += 1
        with open(path) as f:
            return loads(f.read())


def test_a_settled_file_is_parsed_once(isolated_env, cache):
    path = settled_file(isolated_env / "blufio.toml", "[gateway]\nport = 9000\n")
    parse = CountingParser()
    documents = [read_document(path, parse) for _ in range(3)]
    assert documents == [{"gateway": {"port": 9000}}] * 3
    assert parse.calls == 1
    kept = list(cache.glob("config-*"))
    assert len(kept) == 1 and kept[0].stat().st_mode & 0o777 == 0o600


def test_a_changed_file_is_parsed_again_even_at_the_same_size_and_time(isolated_env, cache):
    path = isolated_env / "blufio.toml"
    settled_file(path, "[gateway]\nport = 9000\n")
    stamp = path.stat().st_mtime_ns
    parse = CountingParser()
    read_document(str(path), parse)
    path.write_text("[gateway]\nport = 9001\n")
    os.utime(path, ns=(stamp, stamp))  # same size, same modification time: the change time moved
    assert read_document(str(path), parse) == {"gateway": {"port": 9001}}
    assert parse.calls == 2


def test_a_file_modified_just_now_is_not_kept(isolated_env, cache):
    path = settled_file(isolated_env / "blufio.toml", "a = 1\n", age=0)
    parse = CountingParser()
    read_document(path, parse)
    read_document(path, parse)
    assert parse.calls == 2
    assert not list(cache.glob("config-*"))


def test_a_document_with_a_date_is_not_kept(isolated_env, cache):
    path = settled_file(isolated_env / "blufio.toml", "day = 2026-11-25\n")
    parse = CountingParser()
    read_document(path, parse)
    assert read_document(path, parse)["day"].isoformat() == "2026-11-25"
    assert parse.calls == 2


def test_a_cache_directory_others_can_write_is_not_used(isolated_env, cache, monkeypatch):
    shared = isolated_env / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    monkeypatch.setenv("BLUFIO_CACHE_DIR", str(shared))
    path = settled_file(isolated_env / "blufio.toml", "a = 1\n")
    assert read_document(path, CountingParser()) == {"a": 1}
    assert not list(shared.iterdir())
    assert list(cache.glob("config-*"))  # the next directory in line


def test_a_damaged_cache_is_parsed_over(isolated_env, cache):
    path = settled_file(isolated_env / "blufio.toml", "a = 1\n")
    parse = CountingParser()
    read_document(path, parse)
    for kept in cache.glob("config-*"):
        kept.write_bytes(b"\x00garbage")
    assert read_document(path, parse) == {"a": 1}
    assert parse.calls == 2


def test_load_config_uses_the_remembered_document(isolated_env, cache, monkeypatch):
    settled_file(isolated_env / "work" / "blufio.toml", "[gateway]\nport = 9000\n")
    assert load_config().get("gateway.port") == 9000
    monkeypatch.setattr(blufio.config, "_read_file", lambda path: {"gateway": {"port": 1}})
    assert load_config().get("gateway.port") == 9000


def test_plain_environment_values_read_like_toml_scalars():
    flag, number = ConfigKey("plugins", "telegram", "bool"), ConfigKey("gateway", "port", "int")
    assert parse_env_value("false", flag) is False
    assert parse_env_value("true", flag) is True
    assert parse_env_value("0", number) == 0
    assert parse_env_value("8080", number) == 8080
    assert parse_env_value("0x1F", number) == 31
    assert parse_env_value("007", number) == "007"  # not TOML: kept as text, refused later
