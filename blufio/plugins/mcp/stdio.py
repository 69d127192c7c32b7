"""The stdio transport: an MCP server as a child process speaking newline-delimited JSON.

The child gets a minimal environment (``PATH``, ``HOME``, ``LANG`` and the server's
configured ``env``; never Blufio's own variables or provider keys), its own process group,
and stdin/stdout for messages. Its stderr goes to Blufio's log at debug level, rate limited,
and its last lines are kept to explain a failed start.

Reads are bounded: a message longer than ``max_message_bytes`` is discarded as it streams
in (never held whole) and the request it answers fails with a clear error. Lines that are
not JSON are logged (rate limited) and skipped.

``aclose`` ends the child the way MCP's stdio transport describes: close its stdin, then
SIGTERM to its process group after a moment, then SIGKILL after ``grace`` seconds; it is
always reaped, and any process left in its group (a grandchild) is ended too.
"""

import asyncio
import collections
import json
import logging
import os
import signal
import time

from blufio.plugins.mcp.errors import NotDelivered, ServerUnavailable
from blufio.plugins.mcp.lines import Lines

log = logging.getLogger("blufio.mcp")

CHUNK = 64 * 1024
STDERR_LINE_CHARS = 500
INHERITED = ("PATH", "HOME", "LANG")


def child_environment(configured, environ=None):
    """The environment a server child starts with: ``INHERITED`` variables plus its own."""
    environ = os.environ if environ is None else environ
    env = {name: environ[name] for name in INHERITED if name in environ}
    env.setdefault("PATH", os.defpath)
    env.update(configured)
    return env


class LogLimiter:
    """Logs at most ``burst`` lines at once, refilled at ``rate`` a second; says how many
    lines it dropped when it logs again."""

    def __init__(self, logger, level, rate=20.0, burst=50):
        self.logger, self.level, self.rate, self.burst = logger, level, rate, burst
        self._tokens = float(burst)
        self._stamp = time.monotonic()
        self.dropped = 0

    def log(self, message, *args):
        if not self.logger.isEnabledFor(self.level):
            return
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        if self._tokens < 1:
            self.dropped += 1
            return
        self._tokens -= 1
        if self.dropped:
            self.logger.log(self.level, "(%d similar lines not logged)", self.dropped)
            self.dropped = 0
        self.logger.log(self.level, message, *args)


class StdioTransport:
    """One child process; ``start(sink)``, ``send(message)``, ``aclose()``.

    ``sink`` is the ``jsonrpc.Connection`` that gets what the child writes: ``receive``,
    ``fail``/``fail_all`` (an oversized message) and ``close`` (the child is gone).
    """

    def __init__(self, settings, *, label, max_message_bytes, grace=3.0):
        self.settings = settings
        self.label = label
        self.max_message_bytes = max_message_bytes
        self.grace = grace
        self.process = None
        self.stderr_tail = collections.deque(maxlen=10)
        self._sink = None
        self._tasks = []
        self._write_lock = asyncio.Lock()
        self._closing = False
        self._garbage = LogLimiter(log, logging.WARNING, rate=1.0, burst=5)
        self._stderr_log = LogLimiter(log, logging.DEBUG)

    @property
    def pid(self):
        return self.process.pid if self.process is not None else None

    async def start(self, sink):
        """Start the child; ServerUnavailable (one line) if it cannot be started."""
        self._sink = sink
        settings = self.settings
        try:
            self.process = await asyncio.create_subprocess_exec(
                settings.command, *settings.args, stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                env=child_environment(settings.env), cwd=settings.cwd or None,
                start_new_session=True)
        except FileNotFoundError:
            where = (f"in {settings.cwd}" if settings.cwd and os.sep in settings.command
                     else "on PATH")
            if settings.cwd and not os.path.isdir(settings.cwd):
                raise ServerUnavailable(f"{self.label}: its cwd {settings.cwd} does not "
                                        "exist") from None
            raise ServerUnavailable(f"{self.label}: command '{settings.command}' not found "
                                    f"{where}") from None
        except OSError as exc:
            raise ServerUnavailable(f"{self.label}: cannot run '{settings.command}': "
                                    f"{exc.strerror or exc}") from None
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._read_stdout()),
                       loop.create_task(self._read_stderr())]

    async def send(self, message):
        data = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"
        process = self.process
        if process is not None and process.returncode is not None and not self._closing:
            raise NotDelivered(f"{self.label} exited with code {process.returncode}"
                               f"{self.last_words()}")
        if process is None or self._closing:
            raise NotDelivered(f"{self.label} is not running")
        async with self._write_lock:
            try:
                process.stdin.write(data)
                await process.stdin.drain()
            except (BrokenPipeError, ConnectionResetError, RuntimeError) as exc:
                raise NotDelivered(f"{self.label} is not reading its input ({exc}); it has "
                                   "probably exited") from None
            if process.stdin.is_closing():  # Python 3.10 drops a write to a dead pipe silently
                raise NotDelivered(f"{self.label} is not reading its input; it has probably "
                                   "exited")

    # --- reading ---

    async def _read_stdout(self):
        stdout = self.process.stdout
        lines = Lines(self.max_message_bytes, self._line, self._oversized)
        while True:
            chunk = await stdout.read(CHUNK)
            if not chunk:
                break
            lines.feed(chunk)
        lines.end()
        await self._ended()

    def _line(self, data):
        if not data.strip():
            return
        try:
            message = json.loads(data)
        except ValueError:
            self._garbage.log("%s wrote a line that is not JSON-RPC (ignored): %.120r",
                              self.label, data)
            return
        self._sink.receive(message)

    def _oversized(self, prefix):
        self._sink.oversized(prefix, self.max_message_bytes)

    async def _read_stderr(self):
        stderr = self.process.stderr
        pending = b""
        while True:
            chunk = await stderr.read(CHUNK)
            if not chunk:
                break
            lines = (pending + chunk).split(b"\n")
            pending = lines.pop()[-STDERR_LINE_CHARS:]
            for raw in lines:
                self._stderr_line(raw)
        if pending:
            self._stderr_line(pending)

    def _stderr_line(self, raw):
        line = raw[:STDERR_LINE_CHARS].decode("utf-8", "replace").rstrip()
        if line:
            self.stderr_tail.append(line)
            self._stderr_log.log("%s stderr: %s", self.label, line)

    async def _ended(self):
        """stdout closed: the child is exiting (or closed it); tell the sink why."""
        try:
            code = await asyncio.wait_for(self.process.wait(), self.grace)
        except asyncio.TimeoutError:
            code = None
        if self._closing:
            error = ServerUnavailable(f"{self.label} was stopped")
        else:
            what = f"exited with code {code}" if code is not None else "closed its output"
            error = ServerUnavailable(f"{self.label} {what}{self.last_words()}")
        self._sink.close(error)

    def last_words(self):
        """The child's last stderr line, to explain a failure (empty if it wrote none)."""
        return f" (its last words: {self.stderr_tail[-1]})" if self.stderr_tail else ""

    # --- ending ---

    async def aclose(self):
        """Close stdin, SIGTERM, then SIGKILL the process group; reap; safe to call twice."""
        if self.process is None or self._closing:
            return
        self._closing = True
        process = self.process
        if process.returncode is None:
            try:
                process.stdin.close()
            except (OSError, RuntimeError):
                pass
            if not await self._exited_within(min(1.0, self.grace)):
                self._signal_group(signal.SIGTERM)
                if not await self._exited_within(self.grace):
                    self._signal_group(signal.SIGKILL)
                    await process.wait()
        await self._end_group()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _exited_within(self, seconds):
        try:
            await asyncio.wait_for(asyncio.shield(self.process.wait()), seconds)
            return True
        except asyncio.TimeoutError:
            return False

    def _signal_group(self, signum):
        try:
            os.killpg(self.process.pid, signum)
        except (ProcessLookupError, PermissionError):
            pass

    async def _end_group(self):
        """End what is left of the child's process group (grandchildren it started)."""
        if not self._group_alive():
            return
        self._signal_group(signal.SIGTERM)
        for _ in range(int(self.grace / 0.05)):  # not our children: nothing to wait on but this
            await asyncio.sleep(0.05)
            if not self._group_alive():
                return
        self._signal_group(signal.SIGKILL)

    def _group_alive(self):
        try:
            os.killpg(self.process.pid, 0)
            return True
        except (ProcessLookupError, PermissionError):
            return False
