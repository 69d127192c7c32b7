"""``wheels.lock``: reading, writing and re-pinning it."""

import pytest

from blufio.errors import BuildError
from blufio_build import wheels
from blufio_build.lock import format_lock, parse_lock, read_lock, update_lock
from tests.build.wheelhouse import catalog, make_wheel

LOCK = """\
# a comment
Foo_Bar==1.0 sha256:aa foo_bar-1.0-py3-none-any.whl  # trailing comment

cffi==2.0.0 sha256:bb cffi-2.0.0-cp311-cp311-manylinux_2_17_x86_64.whl
cffi==2.0.0 sha256:cc cffi-2.0.0-cp311-cp311-manylinux_2_17_aarch64.whl
"""


def test_a_lock_maps_each_canonical_name_to_its_version_and_wheels():
    assert parse_lock(LOCK) == {
        "foo-bar": ("1.0", [("aa", "foo_bar-1.0-py3-none-any.whl")]),
        "cffi": ("2.0.0", [("bb", "cffi-2.0.0-cp311-cp311-manylinux_2_17_x86_64.whl"),
                           ("cc", "cffi-2.0.0-cp311-cp311-manylinux_2_17_aarch64.whl")])}


@pytest.mark.parametrize("line, problem", [
    ("foo==1.0 sha256:aa", "expected 'name==version sha256:HEX file.whl'"),
    ("foo>=1.0 sha256:aa foo-1.0-py3-none-any.whl", "expected 'name==version"),
    ("foo==1.0 md5:aa foo-1.0-py3-none-any.whl", "expected 'name==version"),
    ("foo==1.1 sha256:aa foo-1.1-py3-none-any.whl", "foo is pinned twice"),
])
def test_a_bad_line_is_named_by_file_and_number(line, problem):
    text = "# header\nfoo==1.0 sha256:00 foo-1.0-py3-none-any.whl\n" + line + "\n"
    with pytest.raises(BuildError, match=f"^wheels.lock:3: {problem}"):
        parse_lock(text, "wheels.lock")


def test_writing_then_reading_gives_the_same_lock_sorted(tmp_path):
    lock = parse_lock(LOCK)
    path = tmp_path / "wheels.lock"
    path.write_text(format_lock(lock))
    assert read_lock(str(path)) == {name: (v, sorted(f, key=lambda x: x[1]))
                                    for name, (v, f) in lock.items()}
    body = [line for line in path.read_text().splitlines() if not line.startswith("#")]
    assert body == sorted(body, key=lambda line: (line.split("==")[0], line.split()[-1]))


def test_the_repository_lock_parses_and_pins_what_the_catalog_needs():
    from blufio_build.catalog import load_catalog

    lock = read_lock()
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    for requirement in load_catalog()["core_packages"]:
        wanted = Requirement(requirement)  # a name, maybe a version range and a marker
        name = canonicalize_name(wanted.name)
        assert name in lock, name
        assert wanted.specifier.contains(lock[name][0]), (requirement, lock[name][0])


def test_the_repository_lock_has_a_wheel_of_every_extra_for_every_target():
    from blufio_build.catalog import load_catalog
    from blufio_build.lock import LOCK_TARGETS
    from blufio_build.resolve import best_wheel
    from blufio_build.target import Target

    lock = read_lock()
    for extra in load_catalog()["extras"]:
        for package in extra["packages"]:
            version, files = lock[package]
            for minor, arch in LOCK_TARGETS:
                best = best_wheel(package, files, Target(minor, arch))
                assert best is not None, (package, minor, arch)
                assert f"-cp{minor.replace('.', '')}-" in best[1] and arch in best[1]


def test_a_missing_lock_says_how_to_make_one(tmp_path):
    with pytest.raises(BuildError, match="missing; create it with: python3 build_zipapp.py "
                       "--update-lock"):
        read_lock(str(tmp_path / "wheels.lock"))


def _pure_world(index):
    """app needs lib (>=1), and old-lib only on Python < 3.11."""
    made = {
        "app": make_wheel(index, "app", "1.0", requires=[
            "lib>=1", "old-lib; python_version < '3.11'", "extra-lib; extra == 'fancy'"]),
        "lib": make_wheel(index, "lib", "1.2"),
        "old-lib": make_wheel(index, "old-lib", "0.5"),
    }
    return made


@pytest.mark.slow  # runs pip several times
def test_update_lock_pins_every_target_from_the_index(tmp_path, build_cache, local_index):
    made = _pure_world(local_index)
    path = tmp_path / "wheels.lock"
    update_lock(str(path), catalog(core=["app"]), targets=[("3.10", "x86_64"),
                                                           ("3.12", "x86_64")])
    assert read_lock(str(path)) == {name: (f.split("-")[1], [(digest, f)])
                                    for name, (digest, f) in made.items()}


@pytest.mark.slow  # runs pip several times
def test_update_lock_with_nothing_to_change_needs_no_index(tmp_path, build_cache, local_index,
                                                            monkeypatch):
    _pure_world(local_index)
    path = tmp_path / "wheels.lock"
    world = catalog(core=["app"])
    update_lock(str(path), world, targets=[("3.10", "x86_64")])
    before = path.read_text()

    def no_index(*args, **kwargs):
        raise AssertionError("pip was asked for a wheel the cache has")

    monkeypatch.setattr(wheels, "pip_download", no_index)
    update_lock(str(path), world, targets=[("3.10", "x86_64")])
    assert path.read_text() == before


@pytest.mark.slow  # runs pip several times
def test_update_lock_raises_a_pin_a_new_requirement_excludes(tmp_path, build_cache,
                                                              local_index):
    lib1 = make_wheel(local_index, "lib", "1.0")
    lib2 = make_wheel(local_index, "lib", "2.0")
    app = make_wheel(local_index, "app", "1.0", requires=["lib>=2"])
    path = tmp_path / "wheels.lock"
    path.write_text(format_lock({"lib": ("1.0", [lib1])}))
    update_lock(str(path), catalog(core=["lib", "app"]), targets=[("3.11", "x86_64")])
    assert read_lock(str(path)) == {"lib": ("2.0", [lib2]), "app": ("1.0", [app])}
