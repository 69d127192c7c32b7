"""The built-in plugins: one subpackage each, its ``plugin.toml`` manifest beside its code.

A plugin package's ``__init__`` stays empty of imports so that reading manifests never
loads adapter code; the adapter lives in a module named by the manifest's ``entry_point``.
"""
