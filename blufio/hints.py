"""How the user runs Blufio, for every hint that names a command to type.

Installed, the command is ``blufio``; from an archive it is the interpreter and the archive
as the user typed them (``python3 blufio.pyz``), since there is no ``blufio`` on their PATH.
"""

import os
import sys


def invocation():
    """``blufio``, or ``python3 <archive>`` when running from a ``blufio.pyz``."""
    import blufio

    archive = getattr(getattr(blufio, "__loader__", None), "archive", None)
    if not archive:
        return "blufio"
    typed = (getattr(sys, "orig_argv", None) or ["python3"])[0]
    python = os.path.basename(typed)
    if not python.startswith("python"):
        python = "python3"
    # the archive as typed (a serve's own imports read a private copy, see _archive.pinned)
    shown = sys.argv[0] if sys.argv and sys.argv[0] else archive
    return f"{python} {shown}"


def command(words):
    """The command line that runs ``words`` (``"auth token"``) as this user runs Blufio."""
    return f"{invocation()} {words}"
