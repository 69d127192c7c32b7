#!/usr/bin/env python3
"""Build Blufio as one file, ``blufio.pyz``, that runs with a stock ``python3``.

    python3 build_zipapp.py                                   # dist/blufio.pyz, default bundle
    python3 build_zipapp.py --no-default-features --features api,anthropic,sqlite -o min.pyz
    python3 build_zipapp.py --list-features                   # the catalog, defaults marked
    python3 build_zipapp.py --python-version 3.12 --platform aarch64   # another target
    python3 build_zipapp.py --update-lock                     # re-pin wheels.lock

The build itself is the ``blufio_build`` package beside this file (its docstring says how
the archive is laid out, and why); this script is only its command.
"""

import sys

from blufio_build.cli import main

if __name__ == "__main__":
    sys.exit(main())
