"""Waking a running ``serve``'s scheduler from another process.

``blufio schedule add`` (or ``pause``, ``run``, ...) changes the database from its own
process; the scheduler in ``serve`` is asleep until its next due time. So after a change the
command sends one datagram to a Unix socket that ``serve`` listens on, and the scheduler
looks at its schedules again at once: no polling. The socket is in Linux's abstract
namespace (no file to clean up after a crash), named after the database file, so each
database has its own. Elsewhere there is no socket, and a change is seen by the next
wake-up (at most ``max_sleep`` later).
"""

import asyncio
import hashlib
import logging
import os
import socket
import sys

log = logging.getLogger("blufio.scheduler")


def address(database_path):
    """The wake socket's abstract address for ``database_path``, or None off Linux."""
    if not sys.platform.startswith("linux"):
        return None
    digest = hashlib.sha256(os.path.realpath(database_path).encode()).hexdigest()[:24]
    return f"\0blufio-scheduler-{digest}"


def poke(database_path):
    """Tell a ``serve`` using ``database_path`` to look at its schedules; True if one is
    listening."""
    name = address(database_path)
    if name is None:
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        try:
            sock.sendto(b"wake", name)
        except OSError:  # nobody listens: serve is not running
            return False
    return True


class _Wakes(asyncio.DatagramProtocol):
    def __init__(self, callback):
        self.callback = callback

    def datagram_received(self, data, addr):
        self.callback()


async def listen(database_path, callback):
    """Call ``callback()`` for each poke; return the transport (close it to stop), or None
    when there is no socket (off Linux, or another ``serve`` already listens)."""
    name = address(database_path)
    if name is None:
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        sock.bind(name)
    except OSError as exc:
        sock.close()
        log.warning("another Blufio already serves schedules from %s (%s); this one will see "
                    "changes made elsewhere only at its next wake-up", database_path, exc)
        return None
    transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
        lambda: _Wakes(callback), sock=sock)
    return transport
