"""KeypairAuth: what verifies and what does not, revocation across processes, the key at rest."""

import base64
import json
import os
import stat
import subprocess
import sys

import nacl.signing
import pytest

from blufio.contracts import Auth
from blufio.errors import ConfigError
from blufio.plugins.keypair import auth as keypair
from blufio.plugins.keypair.auth import KEY_NAME, KeypairAuth, parse_duration

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
B64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@pytest.fixture
def auth(config):
    return KeypairAuth(config)


def blufio_cli(*args):
    """The real ``blufio`` in another process, on this test's data directory."""
    env = dict(os.environ, PYTHONPATH=REPO_ROOT)
    return subprocess.run([sys.executable, "-m", "blufio", *args], env=env,
                          capture_output=True, text=True, timeout=60)


class FrozenClock:
    def __init__(self, now):
        self.now = now

    def time(self):
        return self.now


def test_it_matches_the_auth_contract(auth):
    assert isinstance(auth, Auth)
    assert (auth.name, auth.adapter_type) == ("keypair", "auth")


def test_a_fresh_token_verifies_with_its_claims(auth):
    token, record = auth.issue("laptop", 3600)
    assert token.startswith("blufio_")
    claims = auth.verify(token)
    assert claims == record
    assert claims["name"] == "laptop"
    assert claims["expires"] - claims["issued"] == 3600
    assert set(claims) == {"id", "name", "issued", "expires", "kid"}
    assert auth.verify(token) == claims  # cached path gives the same answer
    claims["name"] = "changed"  # the caller's copy, not the cache
    assert auth.verify(token)["name"] == "laptop"


def test_another_instance_on_the_same_vault_verifies_it(auth, config):
    token, _ = auth.issue("a", 60)
    assert KeypairAuth(config).verify(token) is not None


def test_the_default_expiry_comes_from_the_configuration(auth, monkeypatch):
    _, record = auth.issue()
    assert record["expires"] - record["issued"] == 30 * 86400
    monkeypatch.setenv("BLUFIO_AUTH__DEFAULT_EXPIRY", "2h")
    from blufio.config import load_config

    _, record = KeypairAuth(load_config()).issue()
    assert record["expires"] - record["issued"] == 7200


def test_a_bad_default_expiry_is_a_config_error(monkeypatch):
    monkeypatch.setenv("BLUFIO_AUTH__DEFAULT_EXPIRY", "forever")
    from blufio.config import load_config

    with pytest.raises(ConfigError, match="auth.default_expiry.*BLUFIO_AUTH__DEFAULT_EXPIRY"):
        KeypairAuth(load_config()).issue()


def test_an_expired_token_fails(auth, monkeypatch):
    token, record = auth.issue("short", 60)
    monkeypatch.setattr(keypair, "time", FrozenClock(record["expires"] - 1))
    assert auth.verify(token) is not None
    monkeypatch.setattr(keypair, "time", FrozenClock(record["expires"]))
    assert auth.verify(token) is None


def test_a_revoked_token_fails_and_others_still_pass(auth):
    revoked, record = auth.issue("old", 60)
    kept, _ = auth.issue("new", 60)
    assert auth.verify(revoked) is not None
    assert auth.revoke(record["id"])["state"] == "active"
    assert auth.verify(revoked) is None
    assert auth.verify(kept) is not None
    assert auth.revoke(record["id"])["state"] == "revoked"  # twice is harmless
    assert auth.revoke("no-such-id") is None


def test_rotation_ends_every_earlier_token(auth):
    tokens = [auth.issue(f"t{i}", 60)[0] for i in range(3)]
    assert all(auth.verify(t) for t in tokens)
    _, active = auth.rotate()
    assert active == 3
    assert not any(auth.verify(t) for t in tokens)
    assert {r["state"] for r in auth.tokens()} == {"revoked"}
    fresh, _ = auth.issue("after", 60)
    assert auth.verify(fresh) is not None


def test_any_changed_character_fails(auth):
    token, _ = auth.issue("laptop", 3600)
    assert auth.verify(token) is not None
    for i, char in enumerate(token):
        for other in {B64_ALPHABET[(B64_ALPHABET.find(char) + 1) % 64], "A", "~"} - {char}:
            tampered = token[:i] + other + token[i + 1:]
            assert auth.verify(tampered) is None, (i, char, other)


def test_a_flipped_byte_in_the_claims_or_the_signature_fails(auth):
    token, _ = auth.issue("laptop", 3600)
    body, signature = token[len("blufio_"):].split(".")
    claims = bytearray(_decode(body))
    claims[claims.index(b"laptop")] ^= 0x01
    assert auth.verify(f"blufio_{_encode(bytes(claims))}.{signature}") is None
    raw = bytearray(_decode(signature))
    for i in (0, 31, 63):
        flipped = bytearray(raw)
        flipped[i] ^= 0x80
        assert auth.verify(f"blufio_{body}.{_encode(bytes(flipped))}") is None


def test_a_token_signed_by_another_key_fails(auth):
    token, _ = auth.issue("laptop", 3600)
    body = token[len("blufio_"):].split(".")[0]
    stranger = nacl.signing.SigningKey.generate()
    forged = stranger.sign(keypair.SIGNED_CONTEXT + body.encode()).signature
    assert auth.verify(f"blufio_{body}.{_encode(forged)}") is None


@pytest.mark.parametrize("garbage", [
    "", "blufio_", "blufio_.", "blufio_abc", "blufio_abc.def", "Bearer blufio_x.y",
    "static-token-from-config", "blufio_" + "A" * 5000, "blufio_é.ü", "blufio_\x00.\x00",
    "blufio_e30", "blufio_e30." + "A" * 86,
    None, 42, b"blufio_x.y",
])
def test_garbage_fails_without_raising(auth, garbage):
    assert auth.verify(garbage) is None


def test_well_signed_but_malformed_claims_fail(auth):
    auth.issue("x", 60)
    key = nacl.signing.SigningKey(auth.vault.get_bytes(KEY_NAME))
    kid = keypair.key_id(key.verify_key)
    for claims in ([1, 2], {"id": "x", "kid": kid}, {"id": 1, "name": "", "issued": 0,
                                                     "expires": 2**40, "kid": kid},
                   {"id": "x", "name": "", "issued": 0, "expires": "never", "kid": kid}):
        body = _encode(json.dumps(claims).encode())
        signature = _encode(key.sign(keypair.SIGNED_CONTEXT + body.encode()).signature)
        assert auth.verify(f"blufio_{body}.{signature}") is None


@pytest.mark.slow  # runs blufio as processes
def test_a_revocation_in_another_process_is_seen_at_once(auth):
    token, record = auth.issue("laptop", 3600)
    other, _ = auth.issue("phone", 3600)
    assert auth.verify(token) is not None  # loaded and cached before the revocation
    result = blufio_cli("auth", "revoke", record["id"])
    assert result.returncode == 0, result.stderr
    assert auth.verify(token) is None
    assert auth.verify(other) is not None


@pytest.mark.slow  # runs blufio as processes
def test_a_rotation_in_another_process_is_seen_at_once(auth):
    token, _ = auth.issue("laptop", 3600)
    assert auth.verify(token) is not None
    result = blufio_cli("auth", "rotate")
    assert result.returncode == 0, result.stderr
    assert auth.verify(token) is None


def test_a_change_is_seen_even_when_size_and_mtime_repeat(auth):
    token, record = auth.issue("laptop", 3600)
    assert auth.verify(token) is not None
    before = os.stat(auth.vault.path)
    KeypairAuth(auth.config).revoke(record["id"])
    os.utime(auth.vault.path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert os.stat(auth.vault.path).st_size == before.st_size
    assert auth.verify(token) is None


def test_the_device_key_is_never_in_clear_in_the_data_directory(auth, data_dir):
    auth.issue("laptop", 3600)
    seed = auth.vault.get_bytes(KEY_NAME)
    secret = nacl.signing.SigningKey(seed)
    forms = [seed, bytes(secret._signing_key), seed.hex().encode(), base64.b64encode(seed),
             base64.urlsafe_b64encode(seed), base64.urlsafe_b64encode(seed).rstrip(b"=")]
    files = [os.path.join(root, name) for root, _, names in os.walk(data_dir) for name in names]
    assert files
    for path in files:
        with open(path, "rb") as f:
            content = f.read()
        assert not any(form in content for form in forms), path
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path


def test_health_reports_the_key(auth):
    import asyncio

    health = asyncio.run(auth.health_check())
    assert health == {"status": "ok", "detail": "device key loaded"}
    assert auth.vault.get_bytes(KEY_NAME) is not None  # made on first use


async def test_an_unreadable_vault_is_down_and_verifies_nothing(auth, monkeypatch, config):
    token, _ = auth.issue("laptop", 3600)
    monkeypatch.setenv("BLUFIO_VAULT_PASSPHRASE", "this vault has a key file instead")
    from blufio.vault import Vault

    locked_out = KeypairAuth(config)
    locked_out.vault = Vault.in_data_dir()
    assert locked_out.verify(token) is None
    health = await locked_out.health_check()
    assert health["status"] == "down"
    assert "BLUFIO_VAULT_PASSPHRASE" in health["detail"]
    await locked_out.shutdown()
    await locked_out.shutdown()


@pytest.mark.slow  # runs blufio as processes
def test_concurrent_issuers_lose_no_record(auth):
    processes = [subprocess.Popen([sys.executable, "-m", "blufio", "auth", "token", "--name",
                                   f"p{i}"], env=dict(os.environ, PYTHONPATH=REPO_ROOT),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for i in range(4)]
    tokens = [p.communicate(timeout=60)[0].strip() for p in processes]
    assert all(p.returncode == 0 for p in processes)
    assert sorted(r["name"] for r in auth.tokens()) == ["p0", "p1", "p2", "p3"]
    assert all(auth.verify(t) for t in tokens)


@pytest.mark.parametrize("text, seconds", [("30s", 30), ("15m", 900), ("1h", 3600),
                                           ("30d", 2592000), (" 2h ", 7200)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "30", "h", "1.5h", "-1h", "0s", "1w", "1H", "1 hour",
                                  "99999d", None])
def test_bad_durations(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_a_bad_name_is_refused(auth):
    with pytest.raises(ValueError):
        auth.issue("x" * 65, 60)
    with pytest.raises(ValueError):
        auth.issue("tab\there", 60)


def _encode(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
