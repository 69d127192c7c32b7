"""The target an archive is built for: its checks, wheel tags and marker environment."""

import pytest

from blufio.errors import BuildUsageError
from blufio_build.target import Target, host_target, normalize_arch


@pytest.mark.parametrize("given, arch", [
    ("x86_64", "x86_64"), ("amd64", "x86_64"), ("arm64", "aarch64"), ("aarch64", "aarch64"),
    ("manylinux_2_17_x86_64", "x86_64"), ("manylinux2014_aarch64", "aarch64"),
    ("linux_x86_64", "x86_64"),
])
def test_machine_names_and_platform_tags_name_an_architecture(given, arch):
    assert normalize_arch(given) == arch


@pytest.mark.parametrize("version, arch, message", [
    ("3", "x86_64", "--python-version must look like 3.11, not '3'"),
    ("3.9", "x86_64", "Blufio needs CPython 3.10 or newer"),
    ("3.12", "sparc", "unsupported --platform 'sparc'; use x86_64 or aarch64"),
])
def test_an_impossible_target_is_a_usage_error(version, arch, message):
    with pytest.raises(BuildUsageError) as raised:
        Target(version, arch)
    assert str(raised.value) == message and raised.value.exit_code == 2


def test_wheels_rank_most_specific_first_and_foreign_ones_not_at_all():
    target = Target("3.11", "x86_64")
    ranks = [target.priority(f) for f in (
        "cffi-2.0.0-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.whl",
        "pynacl-1.6.2-cp38-abi3-manylinux_2_17_x86_64.whl",
        "idna-3.13-py3-none-any.whl")]
    assert ranks == sorted(ranks) and None not in ranks
    for foreign in ("cffi-2.0.0-cp311-cp311-manylinux_2_17_aarch64.whl",
                    "cffi-2.0.0-cp312-cp312-manylinux_2_17_x86_64.whl",
                    "cffi-2.0.0-cp311-cp311-manylinux_2_28_x86_64.whl",
                    "cffi-2.0.0-cp311-cp311-musllinux_1_1_x86_64.whl"):
        assert target.priority(foreign) is None, foreign


def test_markers_are_evaluated_for_the_target_not_the_build_machine():
    env = Target("3.10", "aarch64").environment()
    assert env["python_version"] == "3.10" and env["platform_machine"] == "aarch64"
    assert env["sys_platform"] == "linux"


def test_pip_is_asked_for_the_target_or_for_its_pure_wheel():
    target = Target("3.12", "aarch64")
    assert target.name == "cp312-manylinux_2_17_aarch64"
    args = target.pip_args()
    assert "manylinux_2_17_aarch64" in args and "cp312" in args and "abi3" in args
    assert target.pip_args(pure=True)[:2] == ["--platform", "any"]


def test_the_host_target_is_this_interpreter():
    import sys

    assert host_target().minor == sys.version_info[:2]
