"""Blufio: an always-on personal AI agent that ships as one file.

The package is laid out by architecture:

- ``blufio.cli`` and ``blufio.commands``: the command line (light imports only).
- ``blufio.config``: configuration discovery, layering and validation.
- ``blufio.contracts``: the adapter contracts every plugin implements.
- ``blufio.model``: the message and session types adapters exchange.
- ``blufio.errors``: the ``BlufioError`` tree.
- ``blufio.vault``: encrypted secret storage.
- ``blufio.plugins.<name>``: one subpackage per built-in plugin, ``plugin.toml`` beside its code.
"""

__version__ = "0.1.0"
