"""``blufio auth token | list | revoke | rotate`` through the real command line."""

import json
import re

import pytest

from blufio import build_record
from blufio.config import load_config
from blufio.plugins.keypair.auth import KeypairAuth


def verify(token):
    return KeypairAuth(load_config()).verify(token)


def issue(blufio, *args, env=None):
    result = blufio("auth", "token", *args, env=env)
    assert result.returncode == 0, result.stderr
    return result


def listed(blufio):
    result = blufio("auth", "list", "--json")
    assert result.returncode == 0, result.stderr
    return {record["id"]: record for record in json.loads(result.stdout)}


def test_token_prints_only_the_token(blufio):
    result = issue(blufio, "--name", "laptop")
    assert re.fullmatch(r"blufio_[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{86}\n", result.stdout)
    claims = verify(result.stdout.strip())
    assert claims["name"] == "laptop"
    assert claims["expires"] - claims["issued"] == 30 * 86400  # [auth] default_expiry
    assert claims["id"] in result.stderr and "blufio auth revoke" in result.stderr


@pytest.mark.parametrize("duration, seconds", [("30s", 30), ("15m", 900), ("1h", 3600),
                                               ("7d", 7 * 86400)])
def test_token_expires_as_asked(blufio, duration, seconds):
    claims = verify(issue(blufio, "--expires", duration).stdout.strip())
    assert claims["expires"] - claims["issued"] == seconds


def test_the_default_expiry_comes_from_the_file(blufio, isolated_env):
    (isolated_env / "work" / "blufio.toml").write_text('[auth]\ndefault_expiry = "2h"\n')
    claims = verify(issue(blufio).stdout.strip())
    assert claims["expires"] - claims["issued"] == 7200


@pytest.mark.parametrize("duration", ["2x", "1.5h", "soon", "0s", "-1d"])
def test_a_bad_duration_is_a_usage_error_naming_the_forms(blufio, duration):
    result = blufio("auth", "token", "--expires", duration)
    assert result.returncode == 2
    assert result.stdout == ""
    assert "30s, 15m, 1h or 30d" in result.stderr or "out of range" in result.stderr
    assert "Traceback" not in result.stderr
    assert listed(blufio) == {}


def test_a_bad_name_is_a_usage_error(blufio):
    result = blufio("auth", "token", "--name", "x" * 100)
    assert result.returncode == 2
    assert "--name" in result.stderr


def test_list_shows_aligned_columns_and_never_the_token(blufio):
    first = issue(blufio, "--name", "laptop").stdout.strip()
    issue(blufio, "--name", "phone with spaces", "--expires", "1h")
    result = blufio("auth", "list")
    assert result.returncode == 0, result.stderr
    assert first not in result.stdout
    assert first.split(".")[1] not in result.stdout
    lines = result.stdout.splitlines()
    header = lines[0]
    assert header.split() == ["ID", "NAME", "ISSUED", "EXPIRES", "STATE"]
    rows = lines[1:3]
    for column in ("NAME", "ISSUED", "EXPIRES", "STATE"):
        offset = header.index(column)
        assert all(row[offset - 2:offset] == "  " and row[offset] != " " for row in rows)
    assert all(row.endswith("active") for row in rows)
    assert lines[-1] == "2 tokens (2 active)."


def test_list_when_nothing_was_issued(blufio):
    result = blufio("auth", "list")
    assert result.returncode == 0
    assert "no tokens issued yet" in result.stdout


def test_revoke_ends_one_token(blufio):
    token = issue(blufio, "--name", "laptop").stdout.strip()
    other = issue(blufio, "--name", "phone").stdout.strip()
    token_id = verify(token)["id"]
    result = blufio("auth", "revoke", token_id)
    assert result.returncode == 0, result.stderr
    assert f"revoked token {token_id}" in result.stdout
    assert verify(token) is None
    assert verify(other) is not None
    assert listed(blufio)[token_id]["state"] == "revoked"
    assert "revoked" in blufio("auth", "list").stdout
    again = blufio("auth", "revoke", token_id)
    assert again.returncode == 0 and "already revoked" in again.stdout


def test_revoking_an_unknown_id_is_a_usage_error(blufio):
    issue(blufio)
    result = blufio("auth", "revoke", "0123456789abcdef")
    assert result.returncode == 2
    assert "no token has the id '0123456789abcdef'" in result.stderr
    assert "blufio auth list" in result.stderr


def test_rotate_ends_every_token_and_says_so(blufio):
    tokens = [issue(blufio, "--name", n).stdout.strip() for n in ("a", "b")]
    result = blufio("auth", "rotate")
    assert result.returncode == 0, result.stderr
    assert "new device key" in result.stdout
    assert "no longer works" in result.stdout and "2 active tokens ended" in result.stdout
    assert not any(verify(t) for t in tokens)
    assert {r["state"] for r in listed(blufio).values()} == {"revoked"}
    fresh = issue(blufio).stdout.strip()
    assert verify(fresh) is not None


def test_a_disabled_plugin_still_issues_but_warns(blufio):
    result = issue(blufio, env={"BLUFIO_PLUGINS__KEYPAIR": "false"})
    assert result.stdout.startswith("blufio_")
    assert "keypair plugin is disabled" in result.stderr


def test_a_build_without_keypair_explains_and_exits_2(monkeypatch, capsys):
    from blufio import cli

    source = build_record.source_build()
    stripped = {**source, "features": [f for f in source["features"] if f != "keypair"]}
    monkeypatch.setattr(build_record, "current", lambda: stripped)
    for argv in (["auth", "list"], ["auth", "token"], ["auth", "rotate"]):
        assert cli.main(argv) == 2
        err = capsys.readouterr().err
        assert "keypair plugin, which is not in this build" in err
        assert "--features" in err and "keypair" in err.split("rebuild with:")[1]


def test_a_build_without_the_gateway_still_has_auth(monkeypatch, capsys):
    from blufio import cli

    source = build_record.source_build()
    stripped = {**source, "features": [f for f in source["features"] if f != "gateway"]}
    monkeypatch.setattr(build_record, "current", lambda: stripped)
    assert cli.main(["auth", "token", "--name", "ci"]) == 0
    token = capsys.readouterr().out.strip()
    assert token.startswith("blufio_")
