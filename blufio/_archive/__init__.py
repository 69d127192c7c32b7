"""What runs inside a ``blufio.pyz`` only: native-code extraction (``native``).

The archive's ``__main__`` (written by ``build_zipapp.py``) stays tiny; this package is
imported only when a wheel with native code is first imported.
"""
