"""The vault: secrets encrypted at rest in ``vault.db`` in the data directory.

Each value is sealed with PyNaCl's SecretBox (XSalsa20-Poly1305). The key is derived with
Argon2id from ``$BLUFIO_VAULT_PASSPHRASE`` when the vault was created with one, or else read
from ``vault.key``, a 0600 file beside the vault. A sealed marker checks the key, so a wrong
passphrase is reported before anything is read or written.

Secret *names* are stored in clear, so listing them (``names()``) needs neither the key nor
PyNaCl: commands like ``config get`` stay light.
"""

import os

from blufio.errors import VaultError
from blufio.paths import data_dir, ensure_private_dir, touch_private

VAULT_FILE = "vault.db"
KEY_FILE = "vault.key"
PASSPHRASE_VARIABLE = "BLUFIO_VAULT_PASSPHRASE"
_CHECK = b"blufio vault v1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS vault_meta (name TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS secrets (
    name TEXT PRIMARY KEY,
    sealed BLOB NOT NULL,
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
"""


class Vault:
    """Encrypted name → secret storage in one private SQLite file."""

    def __init__(self, directory, environ=None):
        self.directory = directory
        self.path = os.path.join(directory, VAULT_FILE)
        self._environ = os.environ if environ is None else environ
        self._box = None

    @classmethod
    def in_data_dir(cls, environ=None):
        return cls(data_dir(environ), environ)

    def names(self):
        """The names of every stored secret (no decryption, no PyNaCl)."""
        if not os.path.exists(self.path):
            return []
        with self._connect() as conn:
            return [row[0] for row in conn.execute("SELECT name FROM secrets ORDER BY name")]

    def get(self, name):
        """The secret stored as ``name`` (text), or None."""
        value = self.get_bytes(name)
        return None if value is None else value.decode("utf-8")

    def get_bytes(self, name):
        """The binary secret stored as ``name`` (with ``put_bytes``), or None."""
        if not os.path.exists(self.path):
            return None
        with self._connect() as conn:
            row = conn.execute("SELECT sealed FROM secrets WHERE name = ?", (name,)).fetchone()
            return None if row is None else self._open_box(conn).decrypt(row[0])

    def put(self, name, value):
        """Store ``value`` (text) as ``name``, replacing any previous one."""
        self.put_bytes(name, value.encode("utf-8"))

    def put_bytes(self, name, value):
        self._create()
        with self._connect() as conn:
            sealed = self._open_box(conn).encrypt(value)
            conn.execute("INSERT INTO secrets (name, sealed) VALUES (?, ?) ON CONFLICT(name) "
                         "DO UPDATE SET sealed = excluded.sealed, "
                         "updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')", (name, sealed))

    def delete(self, name):
        """Remove ``name``; return whether it existed."""
        if not os.path.exists(self.path):
            return False
        with self._connect() as conn:
            return conn.execute("DELETE FROM secrets WHERE name = ?", (name,)).rowcount > 0

    def check(self):
        """Raise VaultError unless the vault (if any) opens with the configured key."""
        if os.path.exists(self.path):
            with self._connect() as conn:
                self._open_box(conn)

    # -- internals -------------------------------------------------------------------------

    def _connect(self):
        import sqlite3  # here, not at the top: the light commands that never open it stay fast

        try:
            conn = sqlite3.connect(self.path, timeout=5.0)
            conn.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise VaultError(f"{self.path}: the vault cannot be opened ({exc})") from exc
        return _Closing(conn)

    def _create(self):
        if not os.path.exists(self.path):
            ensure_private_dir(self.directory)
            touch_private(self.path)

    def _open_box(self, conn):
        if self._box is not None:
            return self._box
        import nacl.exceptions
        import nacl.secret

        meta = dict(conn.execute("SELECT name, value FROM vault_meta"))
        passphrase = self._environ.get(PASSPHRASE_VARIABLE)
        if not meta:
            meta = self._initialise(conn, passphrase)
        kdf = meta["kdf"].decode() if isinstance(meta["kdf"], bytes) else meta["kdf"]
        if kdf == "argon2id":
            if not passphrase:
                raise VaultError(f"{self.path}: the vault is protected by a passphrase; set "
                                 f"{PASSPHRASE_VARIABLE}")
            key = _derive(passphrase, meta["salt"])
        else:
            if passphrase:
                raise VaultError(f"{self.path}: this vault uses the key file {KEY_FILE}, not a "
                                 f"passphrase; unset {PASSPHRASE_VARIABLE}")
            key = self._read_key_file()
        box = nacl.secret.SecretBox(key)
        try:
            if box.decrypt(meta["check"]) != _CHECK:
                raise nacl.exceptions.CryptoError
        except nacl.exceptions.CryptoError:
            what = (f"the passphrase in {PASSPHRASE_VARIABLE} is wrong" if kdf == "argon2id"
                    else f"the key file {os.path.join(self.directory, KEY_FILE)} does not match")
            raise VaultError(f"{self.path}: {what}; nothing was read or changed") from None
        self._box = box
        return box

    def _initialise(self, conn, passphrase):
        import nacl.secret
        import nacl.utils

        if passphrase:
            salt = nacl.utils.random(16)
            meta = {"kdf": "argon2id", "salt": salt}
            key = _derive(passphrase, salt)
        else:
            meta = {"kdf": "keyfile"}
            key = self._read_key_file(create=True)
        meta["check"] = nacl.secret.SecretBox(key).encrypt(_CHECK)
        conn.executemany("INSERT INTO vault_meta (name, value) VALUES (?, ?)", meta.items())
        conn.commit()
        return meta

    def _read_key_file(self, create=False):
        path = os.path.join(self.directory, KEY_FILE)
        if create and not os.path.exists(path):
            import nacl.utils

            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(nacl.utils.random(32))
        try:
            with open(path, "rb") as f:
                key = f.read()
        except OSError as exc:
            raise VaultError(f"{path}: the vault key file cannot be read "
                             f"({exc.strerror or exc})") from exc
        if len(key) != 32:
            raise VaultError(f"{path}: the vault key file is damaged (expected 32 bytes)")
        return key


def _derive(passphrase, salt):
    import nacl.pwhash

    argon = nacl.pwhash.argon2id
    return argon.kdf(32, passphrase.encode("utf-8"), salt,
                     opslimit=argon.OPSLIMIT_INTERACTIVE, memlimit=argon.MEMLIMIT_INTERACTIVE)


class _Closing:
    """A sqlite3 connection used as ``with``: commit or roll back, then close."""

    def __init__(self, conn):
        self.conn = conn

    def __enter__(self):
        return self.conn

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is None:
                self.conn.commit()
            else:
                self.conn.rollback()
        finally:
            self.conn.close()
