"""Errors in Anthropic's envelope: ``{"type": "error", "error": {"type", "message"},
"request_id"}``, with Anthropic's status codes.

What an error is answered with is said by its class (``blufio.errors``): ``http_status``,
``http_error_type``, ``retryable`` (sent as ``x-should-retry``) and ``for_client()``. The
gateway's own refusals are ``GatewayError``; anything else its code raises is unexpected and
goes through ``unexpected``, which logs it, the same way for HTTP and the WebSocket.
"""

import logging

from blufio.errors import BlufioError

log = logging.getLogger("blufio.gateway")

# HTTP status -> Anthropic error type
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}


class GatewayError(BlufioError):
    """A request the gateway refuses: an HTTP status, Anthropic's error type (by default the
    status's), a message for the client, whether it should retry (``retry``) and after how
    many seconds (``retry_after``, sent as ``retry-after``)."""

    client_message = "{message}"
    retry_after = None

    def __init__(self, status, message, *, error_type=None, retry=None, retry_after=None):
        super().__init__(message)
        self.http_status = status
        self.http_error_type = error_type or ERROR_TYPES.get(status, "api_error")
        self.retryable = retry
        self.retry_after = retry_after


def envelope(error_type, message, request_id=None):
    body = {"type": "error", "error": {"type": error_type, "message": message}}
    if request_id:
        body["request_id"] = request_id
    return body


def error_body(exc, request_id=None):
    """The envelope answering ``exc`` (any exception), as its class says."""
    error = BlufioError.wrap(exc)
    return envelope(error.http_error_type, error.for_client(), request_id)


def unexpected(exc, where):
    """Log ``exc``, which nothing expected while answering ``where``, with its traceback;
    return the error to answer with."""
    log.error("unexpected error answering %s", where, exc_info=exc)
    return BlufioError.wrap(exc)
