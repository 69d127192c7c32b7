"""What can go wrong talking to an MCP server; each message is fit to show the model.

    ToolError (blufio.errors)
    └── McpError                 anything an MCP server did or failed to do
        ├── ServerUnavailable    not running: failed to start, exited, or is being restarted
        │   └── NotDelivered     a message could not even be sent (safe to send again)
        ├── RequestTimeout       no answer within the server's ``timeout``
        ├── RemoteError          a JSON-RPC error response (``code``, ``data``)
        ├── ProtocolError        an answer that breaks JSON-RPC or MCP (or is too large)
        └── SessionExpired       the HTTP server forgot the session (404): re-initialise
"""

from blufio.errors import ToolError


class McpError(ToolError):
    """An MCP server failed, refused or misbehaved."""


class ServerUnavailable(McpError):
    """The server is not running (it failed to start, exited, or was closed)."""


class NotDelivered(ServerUnavailable):
    """A message could not be sent at all (the process was gone, the connection refused),
    so the server never saw it and sending it again after a restart is safe."""


class RequestTimeout(McpError):
    """The server did not answer in time (the request was cancelled)."""


class RemoteError(McpError):
    """The server answered with a JSON-RPC error."""

    def __init__(self, message, code=None, data=None):
        super().__init__(message)
        self.code = code
        self.data = data


class ProtocolError(McpError):
    """The server's answer breaks JSON-RPC 2.0 or MCP, or is larger than the limit."""


class SessionExpired(McpError):
    """The Streamable HTTP server no longer knows the session (HTTP 404)."""
