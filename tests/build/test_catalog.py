"""Choosing the features of a build from the catalog."""

import pytest

from blufio.errors import BuildError, BuildUsageError
from blufio_build.catalog import feature_lines, load_catalog, select_features


@pytest.fixture
def catalog():
    return load_catalog()


def names(catalog, default=True):
    return [p["name"] for p in catalog["plugins"] if p["default"] or not default]


def test_the_default_bundle_is_every_default_plugin_in_catalog_order(catalog):
    assert select_features(catalog, [], True, False) == (names(catalog), [])


def test_names_and_aliases_in_any_case_and_blanks_pick_plugins_in_catalog_order(catalog):
    features, gaps = select_features(catalog, ["SQLite", " ", "api", "anthropic", ""],
                                     False, False)
    assert features == ["anthropic", "sqlite", "gateway"] and gaps == []


def test_an_unknown_feature_is_a_usage_error_listing_the_valid_ones(catalog):
    with pytest.raises(BuildUsageError) as raised:
        select_features(catalog, ["anthropic", "nope"], True, False)
    assert raised.value.exit_code == 2
    assert str(raised.value).startswith("unknown feature 'nope'; valid features: telegram")
    assert "gateway (alias api)" in str(raised.value)


def test_a_selection_without_provider_or_storage_is_refused_unless_allowed(catalog):
    with pytest.raises(BuildUsageError, match="no provider plugin.*no storage plugin.*"
                       "--allow-incomplete"):
        select_features(catalog, ["gateway"], False, False)
    features, gaps = select_features(catalog, ["gateway"], False, True)
    assert features == ["gateway"]
    assert [gap.split(":")[0] for gap in gaps] == ["no provider plugin", "no storage plugin"]


def test_build_errors_are_blufio_errors_with_their_exit_codes():
    from blufio.errors import BlufioError

    assert issubclass(BuildUsageError, BuildError) and issubclass(BuildError, BlufioError)
    assert BuildError("x").exit_code == 1 and BuildUsageError("x").exit_code == 2


def test_the_feature_list_marks_defaults_and_aliases(catalog):
    lines = feature_lines(catalog)
    gateway = next(line for line in lines if line.split()[1:2] == ["gateway"])
    assert gateway.startswith("* gateway ") and gateway.endswith("(alias: api)")
    assert lines[-2:] == ["", "* in the default bundle"]
    assert len(lines) == len(catalog["plugins"]) + 2
