"""The event loop every command runs on: uvloop when this build has it, asyncio's otherwise.

``run(coro)`` is the one place a command starts a loop (``serve``, ``shell``, ``memory``,
``schedule``, the mcp plugin's commands). It chooses the loop, logs the choice in one line
("event loop: uvloop 0.23.0" or "event loop: asyncio"; only ``serve`` configures logging,
so only ``serve`` shows it), and runs ``coro`` to completion as ``asyncio.run`` does.

Which loop (``choose``):

- An archive uses uvloop only when its build carries it (the ``uvloop`` extra,
  ``build_zipapp.py --features uvloop``, recorded in ``BUILD["extras"]``; its native code
  is extracted with the other native wheels, see ``blufio._archive.native``). A uvloop in
  the interpreter's own site-packages never decides for an archive.
- A source or venv install uses uvloop when it is importable
  (``pip install 'blufio[uvloop]'``).
- uvloop that the build carries but that does not import is a warning, and asyncio runs.

uvloop is imported only here, when a loop is started: commands that run no loop
(``--version``, ``plugin list``, ``config``) never load it.
"""

import asyncio
import logging

log = logging.getLogger(__name__)


def choose(build=None):
    """``(label, uvloop)``: ``("uvloop 0.23.0", the uvloop module)``, or ``("asyncio",
    None)``. ``build`` is the build record (``blufio.build_record.current()`` by default)."""
    if build is None:
        from blufio import build_record

        build = build_record.current()
    carried = build.get("extras")  # None: a source or venv install, whatever is installed
    if carried is not None and "uvloop" not in carried:
        return "asyncio", None
    try:
        import uvloop
    except ImportError as exc:
        if carried is not None:
            log.warning("this build carries uvloop, but it does not load (%s); using asyncio",
                        exc)
        return "asyncio", None
    return f"uvloop {uvloop.__version__}", uvloop


def run(coro, build=None):
    """Run ``coro`` on the chosen loop (see ``choose``) until it completes; its result."""
    label, uvloop = choose(build)
    log.info("event loop: %s", label)
    if uvloop is None:
        return asyncio.run(coro)
    return uvloop.run(coro)
