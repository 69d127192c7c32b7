"""The archive's ``__main__.py``: the build copies this file to the root of ``blufio.pyz``.

It only hands over to ``bootstrap.main()``, which checks the interpreter before anything
that an older Python could not even compile is imported.
"""

import sys

from blufio._archive.bootstrap import main

if __name__ == "__main__":
    sys.exit(main())
