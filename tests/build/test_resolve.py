"""Which wheels a build takes from the lock, for its target and features."""

import pytest

from blufio.errors import BuildError
from blufio_build import wheels
from blufio_build.resolve import best_wheel, resolve
from blufio_build.target import Target
from tests.build.wheelhouse import catalog, make_wheel

X86_311 = Target("3.11", "x86_64")


@pytest.fixture
def no_index(monkeypatch):
    """Fail any attempt to download: everything must come from the cache."""
    def refuse(*args, **kwargs):
        raise AssertionError("pip was asked for a wheel the cache has")

    monkeypatch.setattr(wheels, "pip_download", refuse)


def lock_of(*wheels_made):
    """A lock from ``(name, version, (sha256, filename))`` triples."""
    lock = {}
    for name, version, made in wheels_made:
        lock.setdefault(name, (version, []))[1].append(made)
    return lock


def test_requirements_are_followed_with_markers_for_the_target(build_cache, no_index):
    lock = lock_of(
        ("app", "1.0", make_wheel(build_cache, "app", "1.0", requires=[
            "lib>=1", "old-lib; python_version < '3.11'",
            "arm-lib; platform_machine == 'aarch64'", "extra-lib; extra == 'fancy'"])),
        ("lib", "1.2", make_wheel(build_cache, "lib", "1.2")),
        ("old-lib", "0.5", make_wheel(build_cache, "old-lib", "0.5")),
        ("arm-lib", "1.0", make_wheel(build_cache, "arm-lib", "1.0")),
        ("extra-lib", "1.0", make_wheel(build_cache, "extra-lib", "1.0")),
    )

    def names(target, *packages):
        return [w[0] for w in resolve(catalog(core=packages), [], target, lock)]

    assert names(X86_311, "app") == ["app", "lib"]
    assert names(Target("3.10", "x86_64"), "app") == ["app", "lib", "old-lib"]
    assert names(Target("3.12", "aarch64"), "app") == ["app", "arm-lib", "lib"]
    assert names(X86_311, "app[fancy]") == ["app", "extra-lib", "lib"]


def test_only_the_selected_features_packages_are_resolved(build_cache, no_index):
    lock = lock_of(("core", "1", make_wheel(build_cache, "core", "1")),
                   ("one", "1", make_wheel(build_cache, "one", "1")),
                   ("two", "1", make_wheel(build_cache, "two", "1")))
    world = catalog(core=["core"], anthropic=["one"], sqlite=["two"])
    assert [w[0] for w in resolve(world, ["sqlite"], X86_311, lock)] == ["core", "two"]


def test_the_most_specific_wheel_wins_except_where_pure_is_preferred():
    files = [("a", "pkg-1-py3-none-any.whl"), ("b", "pkg-1-cp38-abi3-manylinux_2_17_x86_64.whl"),
             ("c", "pkg-1-cp311-cp311-manylinux_2_17_x86_64.whl"),
             ("d", "pkg-1-cp311-cp311-manylinux_2_17_aarch64.whl")]
    assert best_wheel("pkg", files, X86_311) == files[2]
    assert best_wheel("pkg", files[:2], X86_311) == files[1]
    assert best_wheel("tomli", files, X86_311) == files[0]
    assert best_wheel("pkg", files[3:], X86_311) is None


def test_a_package_missing_from_the_lock_names_who_needs_it(build_cache, no_index):
    lock = lock_of(("app", "1.0", make_wheel(build_cache, "app", "1.0", requires=["lib"])))
    with pytest.raises(BuildError, match=r"^lib \(needed by app==1.0\) is not in wheels.lock; "
                       "run python3 build_zipapp.py --update-lock"):
        resolve(catalog(core=["app"]), [], X86_311, lock)


def test_a_pin_a_requirement_excludes_is_an_error(build_cache, no_index):
    lock = lock_of(("app", "1.0", make_wheel(build_cache, "app", "1.0", requires=["lib>=2"])),
                   ("lib", "1.0", make_wheel(build_cache, "lib", "1.0")))
    with pytest.raises(BuildError, match="wheels.lock pins lib==1.0, but app==1.0 needs "
                       "lib>=2; run"):
        resolve(catalog(core=["app"]), [], X86_311, lock)


def test_a_lock_without_a_wheel_for_the_target_is_an_error(build_cache, no_index):
    lock = lock_of(("native", "1", make_wheel(build_cache, "native", "1",
                                              tag="cp311-cp311-manylinux_2_17_aarch64")))
    with pytest.raises(BuildError, match="no wheel of native==1 for "
                       "cp311-manylinux_2_17_x86_64"):
        resolve(catalog(core=["native"]), [], X86_311, lock)


def test_the_result_is_the_same_whatever_order_the_catalog_lists_packages(build_cache,
                                                                           no_index):
    lock = lock_of(("a", "1", make_wheel(build_cache, "a", "1", requires=["c"])),
                   ("b", "1", make_wheel(build_cache, "b", "1", requires=["c"])),
                   ("c", "1", make_wheel(build_cache, "c", "1")))
    first = resolve(catalog(core=["a", "b"]), [], X86_311, lock)
    assert first == resolve(catalog(core=["b", "a"]), [], X86_311, lock)
    assert [w[0] for w in first] == ["a", "b", "c"]
