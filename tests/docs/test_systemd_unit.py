"""``docs/blufio.service``: a unit systemd accepts, reloading by SIGHUP, sandboxed."""

import configparser
import os
import shutil
import subprocess

import pytest

from tests.conftest import REPO_ROOT

UNIT = os.path.join(REPO_ROOT, "docs", "blufio.service")


def service_section():
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read(UNIT)
    return parser["Service"]


def test_systemd_analyze_verifies_the_unit_without_a_complaint():
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed on this machine")
    result = subprocess.run([tool, "verify", "--man=no", UNIT], capture_output=True, text=True,
                            timeout=60, check=False)
    # verify exits 0 even for unknown keys or bad values: its complaints name the file
    complaints = [line for line in (result.stdout + result.stderr).splitlines()
                  if "blufio.service" in line]
    assert result.returncode == 0 and complaints == [], result.stderr


def test_reload_is_sighup_and_the_stop_timeout_outlasts_the_drain():
    service = service_section()
    assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert service["ExecStart"].endswith("blufio.pyz serve")
    assert int(service["TimeoutStopSec"]) > 30  # [agent] drain_timeout's default


def test_the_service_runs_sandboxed():
    service = service_section()
    for key, value in {"NoNewPrivileges": "yes", "ProtectSystem": "strict",
                       "ProtectHome": "yes", "PrivateTmp": "yes", "UMask": "0077",
                       "CapabilityBoundingSet": "", "StateDirectoryMode": "0700"}.items():
        assert service[key] == value, key
