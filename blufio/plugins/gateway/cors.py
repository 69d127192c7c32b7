"""Browser access: CORS for the origins in ``[gateway] cors_origins``, and ``/ws`` origins.

A listed origin's preflight (``OPTIONS`` with ``Access-Control-Request-Method``) is answered
without a token, and its responses carry ``Access-Control-Allow-*`` headers exposing
``request-id`` and ``x-blufio-session``; any other origin gets no CORS header at all, so the
browser keeps the response from its page. ``/ws`` is not covered by CORS in browsers, so the
gateway itself refuses a WebSocket whose ``Origin`` is neither listed nor its own.
"""

from urllib.parse import urlsplit

ALLOWED_METHODS = "GET, POST, OPTIONS"
EXPOSED_HEADERS = "request-id, x-blufio-session, retry-after, x-should-retry"
DEFAULT_ALLOWED_HEADERS = ("authorization, x-api-key, content-type, anthropic-version, "
                           "anthropic-beta, x-blufio-session, idempotency-key")
MAX_AGE = "600"


class CorsPolicy:
    """The origins a browser page may call the gateway from."""

    def __init__(self, origins):
        self.origins = frozenset(origin.rstrip("/") for origin in origins)

    def allows(self, origin):
        return bool(origin) and origin in self.origins

    def is_preflight(self, method, headers):
        return method == "OPTIONS" and "access-control-request-method" in headers

    def preflight_headers(self, headers):
        """The headers answering a listed origin's preflight."""
        requested = headers.get("access-control-request-headers")
        return {"access-control-allow-methods": ALLOWED_METHODS,
                "access-control-allow-headers": requested or DEFAULT_ALLOWED_HEADERS,
                "access-control-max-age": MAX_AGE}

    def stamp(self, response, origin):
        """Add the CORS headers for ``origin`` to ``response`` when it is listed."""
        response.headers.add("vary", "Origin")
        if self.allows(origin):
            response.headers["access-control-allow-origin"] = origin
            response.headers["access-control-expose-headers"] = EXPOSED_HEADERS

    def allows_socket(self, origin, host):
        """Whether a WebSocket from a page of ``origin`` may connect to ``host``: no Origin
        (not a browser), the gateway's own origin, or a listed one."""
        if not origin:
            return True
        return self.allows(origin) or urlsplit(origin).netloc == host
