"""The command implementations, one module per top-level command."""
