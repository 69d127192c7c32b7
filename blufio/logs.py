"""Logging set-up, with every known secret scrubbed from every record.

``SecretScrubber`` is a ``logging.Filter`` that replaces each registered secret value in a
record's message, arguments and exception text with ``[secret]``. ``configure`` installs it
on the root handler so that no library's log line can leak an API key or token.
"""

import logging

REDACTED = "[secret]"


class SecretScrubber(logging.Filter):
    """Replaces registered secret values in log records; register with ``add``."""

    def __init__(self, secrets=()):
        super().__init__()
        self._secrets = set()
        for secret in secrets:
            self.add(secret)

    def add(self, secret):
        if secret and len(secret) >= 4:  # a tiny value would mangle ordinary text
            self._secrets.add(secret)

    def scrub(self, text):
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def filter(self, record):
        if not self._secrets:
            return True
        record.msg = self.scrub(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.scrub(record.exc_text)
        return True


def configure(debug=False, secrets=(), process=""):
    """Log to stderr (INFO, or DEBUG with ``--debug``) through a ``SecretScrubber``; return it.

    ``process`` names this process in every line when several write to one log (a worker)."""
    scrubber = SecretScrubber(secrets)
    handler = logging.StreamHandler()
    prefix = f"[{process}] " if process else ""
    handler.setFormatter(logging.Formatter(
        f"%(asctime)s %(levelname)s {prefix}%(name)s: %(message)s"))
    handler.addFilter(scrubber)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    for noisy in ("httpx", "httpcore", "hypercorn.access", "aiosqlite"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return scrubber
