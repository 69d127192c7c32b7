"""The vault: round trips, keys from a passphrase or a key file, and refusing wrong keys."""

import os
import stat

import pytest

from blufio.errors import VaultError
from blufio.vault import Vault


def test_secrets_round_trip_and_names_are_listed_without_the_key(data_dir):
    vault = Vault(str(data_dir))
    vault.put("anthropic.api_key", "sk-round-trip")
    vault.put_bytes("keypair.signing_key", b"\x00\x01")
    assert vault.get("anthropic.api_key") == "sk-round-trip"
    assert vault.get_bytes("keypair.signing_key") == b"\x00\x01"
    assert Vault(str(data_dir)).names() == ["anthropic.api_key", "keypair.signing_key"]
    assert vault.delete("anthropic.api_key") is True
    assert vault.get("anthropic.api_key") is None


def test_values_are_encrypted_at_rest_in_private_files(data_dir):
    Vault(str(data_dir)).put("anthropic.api_key", "sk-never-in-clear")
    for name in os.listdir(data_dir):
        path = data_dir / name
        assert b"sk-never-in-clear" not in path.read_bytes()
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(data_dir).st_mode) == 0o700


def test_a_passphrase_vault_opens_with_the_same_passphrase(data_dir):
    env = {"BLUFIO_VAULT_PASSPHRASE": "correct horse"}
    Vault(str(data_dir), env).put("gateway.bearer_token", "tok")
    assert Vault(str(data_dir), env).get("gateway.bearer_token") == "tok"
    assert not (data_dir / "vault.key").exists()


def test_a_wrong_passphrase_is_refused_and_changes_nothing(data_dir):
    Vault(str(data_dir), {"BLUFIO_VAULT_PASSPHRASE": "right"}).put("gateway.bearer_token", "tok")
    before = (data_dir / "vault.db").read_bytes()
    wrong = Vault(str(data_dir), {"BLUFIO_VAULT_PASSPHRASE": "wrong"})
    with pytest.raises(VaultError, match="passphrase in BLUFIO_VAULT_PASSPHRASE is wrong"):
        wrong.put("gateway.bearer_token", "overwritten")
    with pytest.raises(VaultError, match="wrong"):
        wrong.get("gateway.bearer_token")
    assert (data_dir / "vault.db").read_bytes() == before
    assert Vault(str(data_dir), {"BLUFIO_VAULT_PASSPHRASE": "right"}).get("gateway.bearer_token") == "tok"


def test_a_passphrase_vault_without_the_passphrase_says_what_to_set(data_dir):
    Vault(str(data_dir), {"BLUFIO_VAULT_PASSPHRASE": "right"}).put("a.b", "c")
    with pytest.raises(VaultError, match="set BLUFIO_VAULT_PASSPHRASE"):
        Vault(str(data_dir), {}).get("a.b")


def test_a_damaged_key_file_is_a_clear_error(data_dir):
    Vault(str(data_dir), {}).put("a.b", "c")
    (data_dir / "vault.key").write_bytes(b"short")
    with pytest.raises(VaultError, match="damaged"):
        Vault(str(data_dir), {}).get("a.b")


def test_the_log_scrubber_removes_secrets_from_records():
    import logging

    from blufio.logs import SecretScrubber

    scrubber = SecretScrubber(["sk-secret-value"])
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "calling with %s", ("sk-secret-value",), None)
    scrubber.filter(record)
    assert record.getMessage() == "calling with [secret]"
