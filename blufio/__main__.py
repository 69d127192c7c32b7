"""``python -m blufio``: the same entry point as the ``blufio`` script."""

from blufio.cli import main

raise SystemExit(main())
