"""The interpreter and platform an archive is built for."""

import platform
import re
import sys

from blufio._archive.bootstrap import MIN_PYTHON
from blufio.errors import BuildUsageError
from blufio_build._packaging import parse_wheel_filename, tags

GLIBC_FLOOR = 17  # manylinux_2_17 (manylinux2014): CentOS 7, Ubuntu 14.04 and newer
ARCHES = ("x86_64", "aarch64")
_ARCH_ALIASES = {"amd64": "x86_64", "arm64": "aarch64"}


class Target:
    """A CPython minor (``"3.12"``) on Linux ``x86_64`` or ``aarch64`` with glibc 2.17+."""

    def __init__(self, python_version, arch):
        if not re.fullmatch(r"3\.\d+", python_version):
            raise BuildUsageError(f"--python-version must look like 3.11, not {python_version!r}")
        self.python_version = python_version
        self.minor = tuple(int(x) for x in python_version.split("."))
        if self.minor < MIN_PYTHON:
            raise BuildUsageError("Blufio needs CPython {}.{} or newer".format(*MIN_PYTHON))
        self.arch = normalize_arch(arch)
        self.abi = "cp" + python_version.replace(".", "")
        self.platforms = ([f"manylinux_2_{n}_{self.arch}" for n in range(GLIBC_FLOOR, 4, -1)]
                          + [f"manylinux2014_{self.arch}"]
                          + ([f"manylinux2010_{self.arch}", f"manylinux1_{self.arch}"]
                             if self.arch == "x86_64" else []))
        self.tags = list(tags.cpython_tags(self.minor, [self.abi], self.platforms)) + list(
            tags.compatible_tags(self.minor, self.abi, self.platforms))
        self._priority = {tag: i for i, tag in enumerate(self.tags)}

    @property
    def name(self):
        """E.g. ``cp312-manylinux_2_17_x86_64``."""
        return f"{self.abi}-manylinux_2_{GLIBC_FLOOR}_{self.arch}"

    def environment(self):
        """The marker environment of the target (pip would use the build host's)."""
        return {"implementation_name": "cpython", "implementation_version":
                f"{self.python_version}.0", "os_name": "posix", "platform_machine": self.arch,
                "platform_release": "", "platform_system": "Linux", "platform_version": "",
                "python_full_version": f"{self.python_version}.0",
                "platform_python_implementation": "CPython",
                "python_version": self.python_version, "sys_platform": "linux", "extra": ""}

    def priority(self, filename):
        """Lower is better; None when the wheel cannot run on the target."""
        _, _, _, wheel_tags = parse_wheel_filename(filename)
        found = [self._priority[t] for t in wheel_tags if t in self._priority]
        return min(found) if found else None

    def pip_args(self, pure=False):
        """``pip download`` options that fetch the target's wheel (or its pure one)."""
        if pure:
            return ["--platform", "any", "--python-version", self.python_version,
                    "--implementation", "py", "--abi", "none"]
        args = []
        for plat in (f"manylinux_2_{GLIBC_FLOOR}_{self.arch}", f"manylinux2014_{self.arch}"):
            args += ["--platform", plat]
        return args + ["--python-version", self.python_version, "--implementation", "cp",
                       "--abi", self.abi, "--abi", "abi3", "--abi", "none"]


def normalize_arch(arch):
    """``x86_64`` or ``aarch64`` from a machine name or a manylinux platform tag."""
    tag = re.fullmatch(r"manylinux(?:_\d+_\d+|\d+)_(\w+)", arch)
    arch = tag.group(1) if tag else arch
    arch = _ARCH_ALIASES.get(arch, arch)
    if arch.endswith("x86_64"):  # linux_x86_64, ...
        arch = "x86_64"
    if arch not in ARCHES:
        raise BuildUsageError(f"unsupported --platform {arch!r}; use x86_64 or aarch64")
    return arch


def host_target():
    """The target of the interpreter and machine running the build."""
    return Target("{}.{}".format(*sys.version_info[:2]), platform.machine())
