"""Fixtures for the build's unit tests: a private build cache, and pip kept off the index."""

import pytest


@pytest.fixture
def build_cache(tmp_path, monkeypatch):
    """An empty build cache (``$BLUFIO_BUILD_CACHE``) for this test; its wheels directory."""
    cache = tmp_path / "build-cache"
    monkeypatch.setenv("BLUFIO_BUILD_CACHE", str(cache))
    return cache / "wheels"


@pytest.fixture
def local_index(tmp_path, monkeypatch):
    """A directory pip downloads from instead of any index (``--find-links``, no index).

    Put wheels in it (``wheelhouse.make_wheel``); pip asked for anything else fails.
    """
    index = tmp_path / "find-links"
    index.mkdir()
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/")
    monkeypatch.setenv("PIP_FIND_LINKS", str(index))
    monkeypatch.setenv("PIP_CONSTRAINT", "")
    return index
