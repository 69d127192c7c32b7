"""Choosing the features of a build from the catalog."""

import sys

import pytest

from packaging.requirements import Requirement

from blufio.errors import BuildError, BuildUsageError
from blufio_build.catalog import feature_lines, load_catalog, select_features


@pytest.fixture
def catalog():
    return load_catalog()


def names(catalog, default=True):
    return [p["name"] for p in catalog["plugins"] if p["default"] or not default]


def test_the_default_bundle_is_every_default_plugin_in_catalog_order(catalog):
    assert select_features(catalog, [], True, False) == (names(catalog), [], [])


def test_names_and_aliases_in_any_case_and_blanks_pick_plugins_in_catalog_order(catalog):
    features, extras, gaps = select_features(catalog, ["SQLite", " ", "api", "anthropic", ""],
                                             False, False)
    assert features == ["anthropic", "sqlite", "gateway"] and extras == [] and gaps == []


def test_an_unknown_feature_is_a_usage_error_listing_the_valid_ones(catalog):
    with pytest.raises(BuildUsageError) as raised:
        select_features(catalog, ["anthropic", "nope"], True, False)
    assert raised.value.exit_code == 2
    assert str(raised.value).startswith("unknown feature 'nope'; valid features: telegram")
    assert "gateway (alias api)" in str(raised.value)
    assert str(raised.value).endswith("; extras: uvloop")


def test_a_selection_without_provider_or_storage_is_refused_unless_allowed(catalog):
    with pytest.raises(BuildUsageError, match="no provider plugin.*no storage plugin.*"
                       "--allow-incomplete"):
        select_features(catalog, ["gateway"], False, False)
    features, extras, gaps = select_features(catalog, ["gateway"], False, True)
    assert features == ["gateway"]
    assert [gap.split(":")[0] for gap in gaps] == ["no provider plugin", "no storage plugin"]


def test_build_errors_are_blufio_errors_with_their_exit_codes():
    from blufio.errors import BlufioError

    assert issubclass(BuildUsageError, BuildError) and issubclass(BuildError, BlufioError)
    assert BuildError("x").exit_code == 1 and BuildUsageError("x").exit_code == 2


def test_the_feature_list_marks_defaults_and_aliases_and_lists_extras_last(catalog):
    lines = feature_lines(catalog)
    gateway = next(line for line in lines if line.split()[1:2] == ["gateway"])
    assert gateway.startswith("* gateway ") and gateway.endswith("(alias: api)")
    assert lines[len(catalog["plugins"])].split()[:2] == ["uvloop", "extra"]
    assert lines[-3:] == ["", "* in the default bundle", "extra: a package (not a plugin) "
                          "that Blufio uses when the build carries it"]
    assert len(lines) == len(catalog["plugins"]) + len(catalog["extras"]) + 3


def test_an_extra_is_chosen_like_a_plugin_and_is_not_in_the_default_bundle(catalog):
    assert select_features(catalog, ["UVLoop"], True, False) == (names(catalog), ["uvloop"], [])
    features, extras, _ = select_features(catalog, ["uvloop", "api", "anthropic", "sqlite"],
                                          False, False)
    assert features == ["anthropic", "sqlite", "gateway"] and extras == ["uvloop"]


def test_an_extra_alone_is_still_an_incomplete_selection(catalog):
    with pytest.raises(BuildUsageError, match="no provider plugin"):
        select_features(catalog, ["uvloop"], False, False)


def test_no_extra_shares_a_name_with_a_plugin_or_an_alias(catalog):
    taken = {n for p in catalog["plugins"] for n in (p["name"], *p["aliases"])}
    assert not taken & {e["name"] for e in catalog["extras"]}


def test_each_extra_is_the_optional_dependency_of_the_same_name_in_pyproject(catalog):
    from blufio_build import ROOT

    tomllib = pytest.importorskip("tomllib" if sys.version_info >= (3, 11) else "tomli")

    with open(f"{ROOT}/pyproject.toml", "rb") as f:
        optional = tomllib.load(f)["project"]["optional-dependencies"]
    for extra in catalog["extras"]:
        declared = [Requirement(r).name for r in optional[extra["name"]]]
        assert declared == [Requirement(p).name for p in extra["packages"]]
