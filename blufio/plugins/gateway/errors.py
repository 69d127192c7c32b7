"""Errors in Anthropic's envelope: ``{"type": "error", "error": {"type", "message"},
"request_id"}``, with Anthropic's status codes, and the translation of Blufio's errors."""

from blufio.errors import BudgetExceededError, ConfigError, ProviderError

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


_STATUS_OF_TYPE = {"overloaded_error": 529, "rate_limit_error": 429, "api_error": 500,
                   "timeout_error": 504}


class GatewayError(Exception):
    """An error to answer with: an HTTP status, Anthropic's error type, a message, and
    whether a client should retry (sent as ``x-should-retry``)."""

    def __init__(self, status, message, *, error_type=None, retry=None):
        super().__init__(message)
        self.status = status
        self.error_type = error_type or ERROR_TYPES.get(status, "api_error")
        self.message = message
        self.retry = retry


def envelope(error_type, message, request_id=None):
    body = {"type": "error", "error": {"type": error_type, "message": message}}
    if request_id:
        body["request_id"] = request_id
    return body


def from_exception(exc):
    """The ``GatewayError`` a client sees for ``exc`` raised while answering a turn."""
    if isinstance(exc, GatewayError):
        return exc
    if isinstance(exc, BudgetExceededError):
        return GatewayError(402, str(exc), retry=False)
    if isinstance(exc, ConfigError):
        # e.g. no provider key: the server's configuration, not the client's request
        return GatewayError(503, str(exc), retry=False)
    if isinstance(exc, ProviderError):
        # An error event in the middle of a stream has no HTTP status; its type tells.
        status = exc.status or _STATUS_OF_TYPE.get(exc.error_type)
        if status is None:
            return GatewayError(503, f"the model provider could not be reached: {exc}")
        if status in (429, 529) or status >= 500:
            return GatewayError(status, str(exc), error_type=exc.error_type)
        if status in (401, 403):
            return GatewayError(502, f"the model provider refused Blufio's credentials: {exc}",
                                retry=False)
        return GatewayError(400 if status != 413 else 413, str(exc), error_type=exc.error_type)
    return GatewayError(500, "internal error while answering; the server log has the details")
