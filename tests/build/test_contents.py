"""What goes into the archive: Blufio's files, the frozen record, ``__main__``."""

import ast

import pytest

from blufio.errors import BuildError
from blufio_build import ROOT, contents
from blufio_build.catalog import load_catalog
from blufio_build.contents import (
    blufio_files,
    blufio_version,
    frozen_module,
    main_module,
    manifests_of,
    native_record,
)


def test_left_out_plugins_and_build_time_files_are_not_shipped():
    files = blufio_files(["anthropic", "sqlite"], load_catalog())
    assert "blufio/plugins/anthropic/plugin.toml" in files
    assert "blufio/_archive/bootstrap.py" in files and "blufio/cli.py" in files
    assert not any(n.startswith(("blufio/plugins/gateway/", "blufio/plugins/telegram/"))
                   for n in files)
    assert "blufio/catalog.json" not in files
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in files)
    assert all(n.startswith("blufio/") for n in files)  # blufio_build stays behind


def test_the_archives_main_is_the_bootstrap_entry_point_from_the_source_tree():
    with open(f"{ROOT}/blufio/_archive/__main__.py", "rb") as f:
        assert main_module() == f.read()


def test_the_native_key_depends_on_the_native_files_only():
    files = {".native/nacl/__init__.py": (b"x", 0o644)}
    key = native_record(files, {"nacl"}, ["pynacl==1"])["key"]
    assert native_record(dict(files), {"nacl"}, ["pynacl==1"])["key"] == key
    assert native_record({".native/nacl/__init__.py": (b"y", 0o644)}, {"nacl"}, [])["key"] != key
    assert native_record({}, set(), []) == {"key": None, "top_level": [], "dists": []}


def test_the_frozen_record_is_python_literals_that_read_back_the_same():
    build = {"version": blufio_version(), "features": ["sqlite"]}
    manifests = manifests_of(["sqlite"])
    source = frozen_module(build, load_catalog(), manifests, {"key": None})
    namespace = {node.targets[0].id: ast.literal_eval(node.value)
                 for node in ast.parse(source).body if isinstance(node, ast.Assign)}
    assert namespace["BUILD"] == build and namespace["MANIFESTS"] == manifests
    assert namespace["CATALOG"] == load_catalog() and namespace["NATIVE"] == {"key": None}


def test_an_invalid_manifest_is_a_build_error_naming_it(tmp_path, monkeypatch):
    plugin = tmp_path / "plugins" / "broken"
    plugin.mkdir(parents=True)
    (plugin / "plugin.toml").write_text("name = \n")
    monkeypatch.setattr(contents, "PACKAGE", str(tmp_path))
    with pytest.raises(BuildError, match=r"broken/plugin.toml: not valid TOML"):
        manifests_of(["broken"])
