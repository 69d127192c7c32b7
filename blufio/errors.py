"""Every error Blufio shows a user, in one tree, and what each one means.

    BlufioError                       anything Blufio reports to a user
    ├── UsageError                    the command line is wrong
    ├── ConfigError                   a configuration file, key or value is wrong
    ├── PluginError                   a plugin cannot be found, loaded or started
    │   ├── ManifestError             a plugin.toml does not parse or breaks the format
    │   └── BotAPIError               a Telegram Bot API call failed (plugins/telegram/api.py)
    ├── VaultError                    the vault cannot be opened (e.g. a wrong passphrase)
    ├── StorageError                  the database cannot be used
    │   └── SchemaTooNewError         the database was made by a newer Blufio
    ├── ProviderError                 the model provider failed
    │   ├── ProviderUnavailableError  no usable answer came: network, timeout, a cut stream
    │   └── ProviderAuthError         the provider refused Blufio's credentials
    ├── EmbeddingError                the embedding server failed or sent something unusable
    ├── BudgetExceededError           a daily or monthly budget is spent
    ├── GatewayError                  the gateway refuses a request (plugins/gateway/errors.py)
    ├── ToolError                     a tool refused or failed (reported to the model)
    ├── ScheduleError                 a schedule's field is wrong (it names the field)
    │   └── ScheduleNotFoundError     there is no schedule with that id
    └── BuildError                    build_zipapp.py cannot build (lock, download, compiler)
        └── BuildUsageError           an unknown feature, an incomplete selection, a bad target

What each means, where it differs from its parent (subclasses inherit the rest):

    class                     exit  kind      HTTP answer        x-should-retry  a client sees
    BlufioError               1     internal  500 api_error      (not sent)      a generic line
    UsageError                2
    BuildUsageError           2
    ConfigError               2     config    503 api_error      false           the message
    StorageError                    storage
    ProviderError                   provider  500 api_error *    false **        the message
    ProviderUnavailableError                  503 api_error                      prefixed message
    ProviderAuthError                         502 api_error                      prefixed message
    BudgetExceededError             budget    402 billing_error  false           the message
    GatewayError                              as raised          as raised       the message
    ScheduleError             2               400 invalid_request_error  false   the message
    ScheduleNotFoundError     2               404 not_found_error        false   the message

    * or what the provider's plugin set from the provider's own answer
    ** the provider plugin has already spent its retry budget: a client retrying as well
       would multiply the upstream calls (one retry budget for the whole path)

What an error means is said once, by its class, and read everywhere it is handled:

- ``exit_code``: the CLI's exit status (``blufio: error: <message>`` on stderr).
- ``kind``: the low-cardinality label of a failed turn (``TurnError.kind``, the error metric):
  ``budget``, ``provider``, ``config``, ``storage`` or ``internal``.
- ``http_status`` and ``http_error_type``: the status and Anthropic error type the gateway
  answers with (also in WebSocket and SSE error frames).
- ``retryable``: whether the same request may succeed later (the gateway's
  ``x-should-retry``); None leaves it to the status.
- ``client_message``: what a remote client is told, ``{message}`` standing for the error's
  text. Unless a class says its text is for clients, they get a generic line and the server
  log has the details.

Messages are complete sentences fit to show a user: what went wrong, where, and how to fix
it. Lower-level errors are translated once, at the edge, with ``raise ... from exc``: the
plugin that talks to a vendor picks the class (and, for ProviderError, the HTTP answer).
"""


class BlufioError(Exception):
    """The root of every error Blufio reports to a user."""

    exit_code = 1
    kind = "internal"
    http_status = 500
    http_error_type = "api_error"
    retryable = None
    client_message = "internal error while answering; the server log has the details"

    def for_client(self) -> str:
        """The text a remote client is shown (see ``client_message``)."""
        return self.client_message.format(message=self)

    @classmethod
    def wrap(cls, exc: BaseException, what: str = "unexpected error") -> "BlufioError":
        """``exc`` itself when it is a BlufioError; else an ``internal`` BlufioError whose
        message is ``"{what}: {exception type}: {exc}"``."""
        if isinstance(exc, BlufioError):
            return exc
        error = BlufioError(f"{what}: {type(exc).__name__}: {exc}")
        error.__cause__ = exc
        return error


class UsageError(BlufioError):
    """The command line is wrong."""

    exit_code = 2


class ConfigError(BlufioError):
    """A configuration file, key or value is wrong (the server's, not a client's, fault)."""

    exit_code = 2
    kind = "config"
    http_status = 503
    retryable = False
    client_message = "{message}"


class PluginError(BlufioError):
    """A plugin cannot be found, loaded or started."""


class ManifestError(PluginError):
    """A ``plugin.toml`` does not parse or breaks the manifest format."""


class VaultError(BlufioError):
    """The vault cannot be opened or read."""


class StorageError(BlufioError):
    """The database cannot be used."""

    kind = "storage"


class SchemaTooNewError(StorageError):
    """The database was made by a newer Blufio; this one will not downgrade it."""


class ProviderError(BlufioError):
    """The model provider failed.

    ``status`` is the provider's HTTP status (None when no response arrived),
    ``error_type`` the provider's error type (Anthropic's vocabulary: ``overloaded_error``,
    ...), and ``request_id`` the upstream request id when there was one. The provider plugin
    that raises it decides, once, how Blufio's own clients are answered: ``http_status`` and
    ``http_error_type`` (by default 500 ``api_error``).
    """

    kind = "provider"
    retryable = False  # see ** in the module docstring
    client_message = "{message}"

    def __init__(self, message, *, status=None, error_type="api_error", request_id=None,
                 http_status=None, http_error_type=None):
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.request_id = request_id
        if http_status is not None:
            self.http_status = http_status
        if http_error_type is not None:
            self.http_error_type = http_error_type


class ProviderUnavailableError(ProviderError):
    """No usable answer came from the provider: the network failed, it timed out, or the
    stream was cut or failed in a way that says nothing about the request."""

    http_status = 503
    client_message = "the model provider could not be reached: {message}"


class ProviderAuthError(ProviderError):
    """The provider refused Blufio's credentials (a wrong key, or no permission): the
    server's configuration is at fault, so a client retrying will not help."""

    http_status = 502
    client_message = "the model provider refused Blufio's credentials: {message}"


class EmbeddingError(BlufioError):
    """The embedding server failed, or answered with something unusable (e.g. vectors of
    the wrong size). ``status`` is the HTTP status, None when no response arrived.
    Memory falls back to lexical search; a turn never fails for it."""

    def __init__(self, message, *, status=None):
        super().__init__(message)
        self.status = status


class BudgetExceededError(BlufioError):
    """A daily or monthly budget is spent; no provider call is made."""

    kind = "budget"
    http_status = 402
    http_error_type = "billing_error"
    retryable = False
    client_message = "{message}"


class ToolError(BlufioError):
    """A tool refused or failed; the agent reports it to the model as an error result."""


class ScheduleError(BlufioError):
    """A schedule cannot be made as asked: ``field`` names what is wrong (``cron``,
    ``timezone``, ``at``, ``in``, ``target``, ...). Nothing is stored."""

    exit_code = 2
    http_status = 400
    http_error_type = "invalid_request_error"
    retryable = False
    client_message = "{message}"

    def __init__(self, field, message):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.detail = message


class ScheduleNotFoundError(ScheduleError):
    """There is no schedule with the id given (field ``id``)."""

    http_status = 404
    http_error_type = "not_found_error"

    def __init__(self, message):
        super().__init__("id", message)


class BuildError(BlufioError):
    """``build_zipapp.py`` cannot build; the message says why and what to do."""


class BuildUsageError(BuildError):
    """The build was asked for something impossible: an unknown feature, an incomplete
    selection, a target Blufio does not support."""

    exit_code = 2
