"""Every error Blufio shows a user, in one tree.

    BlufioError                  exit 1 unless a subclass says otherwise
    ├── UsageError               exit 2: the command line is wrong
    ├── ConfigError              exit 2: a configuration file, key or value is wrong
    ├── PluginError              a plugin cannot be found, loaded or started
    ├── VaultError               the vault cannot be opened (e.g. a wrong passphrase)
    ├── StorageError             the database cannot be used
    │   └── SchemaTooNewError    the database was made by a newer Blufio
    ├── ProviderError            the model provider failed (status, type, request id)
    ├── BudgetExceededError      a daily or monthly budget is spent
    ├── ToolError                a tool refused or failed (reported to the model)
    └── ScheduleError            exit 2: a schedule's field is wrong (names the field)

Messages are complete sentences fit to show a user: what went wrong, where, and how to fix
it. Lower-level errors are translated once, at the edge, with ``raise ... from exc``.
"""


class BlufioError(Exception):
    """The root of every error Blufio reports to a user."""

    exit_code = 1


class UsageError(BlufioError):
    """The command line is wrong."""

    exit_code = 2


class ConfigError(BlufioError):
    """A configuration file, key or value is wrong."""

    exit_code = 2


class PluginError(BlufioError):
    """A plugin cannot be found, loaded or started."""


class VaultError(BlufioError):
    """The vault cannot be opened or read."""


class StorageError(BlufioError):
    """The database cannot be used."""


class SchemaTooNewError(StorageError):
    """The database was made by a newer Blufio; this one will not downgrade it."""


class ProviderError(BlufioError):
    """The model provider failed.

    ``status`` is the HTTP status (None when no response arrived), ``error_type`` the
    provider's error type (Anthropic's vocabulary: ``overloaded_error``, ...), and
    ``request_id`` the upstream request id when there was one.
    """

    def __init__(self, message, *, status=None, error_type="api_error", request_id=None):
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.request_id = request_id


class BudgetExceededError(BlufioError):
    """A daily or monthly budget is spent; no provider call is made."""


class ToolError(BlufioError):
    """A tool refused or failed; the agent reports it to the model as an error result."""


class ScheduleError(BlufioError):
    """A schedule cannot be made as asked: ``field`` names what is wrong (``cron``,
    ``timezone``, ``at``, ``in``, ``target``, ...). Nothing is stored."""

    exit_code = 2

    def __init__(self, field, message):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.detail = message
