"""The ``gateway`` plugin: the HTTP and WebSocket channel, Anthropic-compatible."""
