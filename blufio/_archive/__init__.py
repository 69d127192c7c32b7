"""What runs inside a ``blufio.pyz`` only.

- ``__main__``: copied by the build to the archive's root; hands over to ``bootstrap``.
- ``bootstrap``: refuses a wrong interpreter in one line, arms the native-code finder.
- ``native``: extracts the wheels with native code, once, on the first import of one.

The build (``blufio_build``) reads its constants from here (``MIN_PYTHON``,
``NATIVE_PREFIX``), so each is written once.
"""
