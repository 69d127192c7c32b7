"""``KeypairAuth``: bearer tokens signed by the Ed25519 device key, verified offline.

A token is ``blufio_<claims>.<signature>``: ``claims`` is the base64url (unpadded) of a JSON
object ``{"id", "name", "issued", "expires", "kid"}`` (times in unix seconds, ``kid`` the
signing key's id) and ``signature`` the base64url of the Ed25519 signature of
``blufio-token-v1:<claims>``. A token is valid when the signature is by the current device
key, it has not expired and its id has not been revoked.

Everything lives in the vault, encrypted (nothing of it in clear in the data directory):

- ``keypair:device_key``: the 32-byte seed of the signing key, made on first use;
- ``keypair:tokens``: the records of every issued token (never the token text), with the
  time each was revoked, if it was.

Writers (``issue``, ``revoke``, ``rotate``, the first key) hold an exclusive lock on
``keypair.lock`` in the data directory, so concurrent commands never lose a record. A running
verifier notices their changes on its next call: it keeps the vault file's identity (inode,
size, mtime and SQLite's file change counter) and reloads the key and the revocations only
when that changed. A reload that fails makes every token fail until the vault reads again.
"""

import base64
import binascii
import json
import os
import secrets
import threading
import time

import nacl.exceptions
import nacl.signing

from blufio.durations import parse_duration
from blufio.errors import BlufioError, ConfigError
from blufio.manifest import identity

PREFIX = "blufio_"
KEY_NAME = "keypair:device_key"  # not "section.key": the configuration never mistakes these
TOKENS_NAME = "keypair:tokens"
LOCK_FILE = "keypair.lock"
SIGNED_CONTEXT = b"blufio-token-v1:"
MAX_TOKEN_LENGTH = 2048
MAX_NAME_LENGTH = 64

ACTIVE, EXPIRED, REVOKED = "active", "expired", "revoked"

_VERIFIED_CACHE_SIZE = 256


class KeypairAuth:
    """The ``keypair`` auth plugin: issues, lists, revokes and verifies signed tokens.

    ``verify`` is the gateway's hot path: offline, it never raises and returns the claims
    (a new dict) or None. The other methods are for ``blufio auth`` and raise BlufioError.
    """

    name, version, adapter_type = identity("keypair")

    def __init__(self, config, **_services):
        self.config = config
        self.vault = config.vault
        self._lock_path = os.path.join(self.vault.directory, LOCK_FILE)
        self._signature = False  # the vault file's identity at the last load; False: never
        self._state = None  # _Keys after a good load, None when nothing verifies
        self._problem = "not loaded yet"
        self._verified = {}  # token -> claims whose signature checked out (key checked per call)
        self._reload_lock = threading.Lock()

    # -- verifying (the gateway) ----------------------------------------------------------

    def verify(self, token):
        """The claims of a valid token, or None (wrong, expired, revoked, not ours)."""
        if not isinstance(token, str) or not token.startswith(PREFIX) \
                or len(token) > MAX_TOKEN_LENGTH:
            return None
        try:
            state = self._current()
            if state is None:
                return None
            claims = self._verified.get(token)
            if claims is None:
                claims = _check_signature(token, state.verify_key)
                if claims is None:
                    return None
                if len(self._verified) >= _VERIFIED_CACHE_SIZE:
                    self._verified.clear()
                self._verified[token] = claims
            if claims["kid"] != state.kid or claims["expires"] <= time.time() \
                    or claims["id"] in state.revoked:
                return None
            return dict(claims)
        except Exception:  # noqa: BLE001 - a token is never worth a 500
            return None

    def _current(self):
        """The loaded key and revocations, reloaded first if the vault file changed."""
        signature = _file_signature(self.vault.path)
        if signature != self._signature:
            with self._reload_lock:
                if signature != self._signature:
                    self._load(signature)
        return self._state

    def _load(self, signature, first_use=True):
        try:
            seed = self.vault.get_bytes(KEY_NAME)
            if seed is None and first_use:
                with self._locked():
                    self._ensure_seed()
                return self._load(_file_signature(self.vault.path), first_use=False)
            if seed is None:
                raise BlufioError(f"{self.vault.path}: the device key disappeared")
            verify_key = nacl.signing.SigningKey(seed).verify_key
            revoked = frozenset(r["id"] for r in self._records() if r.get("revoked"))
        except (BlufioError, OSError, ValueError) as exc:
            self._state, self._problem = None, str(exc)
        else:
            self._state = _Keys(verify_key, key_id(verify_key), revoked)
            self._problem = None
        self._verified.clear()
        self._signature = signature

    # -- issuing and managing (the auth commands) -----------------------------------------

    def issue(self, name="", expires_in=None):
        """Sign a new token; return ``(token, record)``.

        ``expires_in`` is seconds (default ``[auth] default_expiry``). The token text is
        returned once and stored nowhere.
        """
        if expires_in is None:
            expires_in = self.default_expiry()
        name = _clean_name(name)
        with self._locked():
            signing_key = nacl.signing.SigningKey(self._ensure_seed())
            now = int(time.time())
            record = {"id": secrets.token_hex(8), "name": name, "issued": now,
                      "expires": now + int(expires_in), "kid": key_id(signing_key.verify_key)}
            body = _b64encode(json.dumps(record, separators=(",", ":"), sort_keys=True)
                              .encode("utf-8"))
            signature = signing_key.sign(SIGNED_CONTEXT + body.encode("ascii")).signature
            self._save_records([*self._records(), record])
        return f"{PREFIX}{body}.{_b64encode(signature)}", dict(record)

    def tokens(self, now=None):
        """Every issued token's record, oldest first, each with its ``state``."""
        now = time.time() if now is None else now
        current = self._current_kid()
        return [{**record, "state": _state_of(record, current, now)}
                for record in self._records()]

    def revoke(self, token_id):
        """Revoke the token ``token_id``; return its record (with ``state``) as it was
        before, or None when no token has that id."""
        with self._locked():
            records = self._records()
            found = next((r for r in records if r["id"] == token_id), None)
            if found is None:
                return None
            before = {**found, "state": _state_of(found, self._current_kid(), time.time())}
            if not found.get("revoked"):
                found["revoked"] = int(time.time())
                self._save_records(records)
        return before

    def rotate(self):
        """Replace the device key: every token issued so far stops working.

        Return ``(new key id, how many tokens were active)``.
        """
        with self._locked():
            active = sum(1 for r in self.tokens() if r["state"] == ACTIVE)
            seed = nacl.signing.SigningKey.generate().encode()
            self.vault.put_bytes(KEY_NAME, seed)
        return key_id(nacl.signing.SigningKey(seed).verify_key), active

    def default_expiry(self):
        """``[auth] default_expiry`` in seconds; a ConfigError if it is not a duration."""
        raw = self.config.get("auth.default_expiry")
        try:
            return parse_duration(raw)
        except ValueError as exc:
            raise ConfigError(f"auth.default_expiry ({self.config.source('auth.default_expiry')})"
                              f": {exc}") from None

    # -- the plugin base ------------------------------------------------------------------

    async def health_check(self):
        state = self._current()
        if state is None:
            return {"status": "down", "detail": f"no device key: {self._problem}"}
        # /v1/health is public: say that the key works, not which it is or what it signed
        return {"status": "ok", "detail": "device key loaded"}

    async def shutdown(self):
        self._verified.clear()
        self._state, self._signature, self._problem = None, False, "shut down"

    # -- internals ------------------------------------------------------------------------

    def _ensure_seed(self):
        """The device key's seed, made and stored now if there is none (hold the lock)."""
        seed = self.vault.get_bytes(KEY_NAME)
        if seed is None:
            seed = nacl.signing.SigningKey.generate().encode()
            self.vault.put_bytes(KEY_NAME, seed)
        return seed

    def _current_kid(self):
        seed = self.vault.get_bytes(KEY_NAME)
        return key_id(nacl.signing.SigningKey(seed).verify_key) if seed else None

    def _records(self):
        text = self.vault.get(TOKENS_NAME)
        return json.loads(text) if text else []

    def _save_records(self, records):
        self.vault.put(TOKENS_NAME, json.dumps(records, separators=(",", ":")))

    def _locked(self):
        from blufio.paths import ensure_private_dir

        ensure_private_dir(self.vault.directory)
        return _FileLock(self._lock_path)


class _Keys:
    """What verifying needs, loaded together so a reload swaps it in one assignment."""

    __slots__ = ("verify_key", "kid", "revoked")

    def __init__(self, verify_key, kid, revoked):
        self.verify_key = verify_key
        self.kid = kid
        self.revoked = revoked


class _FileLock:
    """An exclusive ``flock`` on a 0600 file, held for a ``with`` block."""

    def __init__(self, path):
        self.path = path
        self.fd = None

    def __enter__(self):
        import fcntl

        self.fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        os.close(self.fd)  # closing releases the lock


def key_id(verify_key):
    """A short, stable id for a verify key (the first 12 characters of its SHA-256)."""
    import hashlib

    return _b64encode(hashlib.sha256(verify_key.encode()).digest())[:12]


def _check_signature(token, verify_key):
    """The claims of ``token`` if its signature is good and its claims well formed."""
    body, dot, signature_text = token[len(PREFIX):].partition(".")
    if not dot or not body or len(signature_text) != 86:  # 64 bytes, unpadded base64url
        return None
    signature = _b64decode(signature_text)
    if len(signature) != 64 or _b64encode(signature) != signature_text:  # canonical only
        return None
    try:
        verify_key.verify(SIGNED_CONTEXT + body.encode("ascii"), signature)
    except nacl.exceptions.BadSignatureError:
        return None
    claims = json.loads(_b64decode(body))
    if not (isinstance(claims, dict) and isinstance(claims.get("id"), str)
            and isinstance(claims.get("kid"), str) and isinstance(claims.get("name"), str)
            and type(claims.get("issued")) is int and type(claims.get("expires")) is int):
        return None
    return claims


def _state_of(record, current_kid, now):
    if record.get("revoked") or record["kid"] != current_kid:
        return REVOKED
    return EXPIRED if record["expires"] <= now else ACTIVE


def _clean_name(name):
    name = (name or "").strip()
    if len(name) > MAX_NAME_LENGTH or not name.isprintable():
        raise ValueError(f"a token name is up to {MAX_NAME_LENGTH} printable characters")
    return name


def _file_signature(path):
    """What changes whenever the vault file is written: inode, size, mtime, and SQLite's
    file change counter (header bytes 24-27), since an mtime can repeat within a clock tick."""
    try:
        with open(path, "rb", buffering=0) as f:
            stat = os.fstat(f.fileno())
            counter = os.pread(f.fileno(), 4, 24)
    except FileNotFoundError:
        return None
    return stat.st_ino, stat.st_size, stat.st_mtime_ns, counter


def _b64encode(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text):
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return b""
