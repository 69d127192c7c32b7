"""Bounded line splitting for byte streams (a child's stdout, an SSE response body).

``Lines(limit, on_line, on_oversized)`` is fed chunks as they arrive and calls
``on_line(bytes)`` for each complete line (without its ``\\n`` or ``\\r\\n``). A line longer
than ``limit`` bytes is never held whole: ``on_oversized(first_bytes)`` is called as soon as
it crosses the limit, and the rest of it is skipped up to its newline. Memory stays below
``limit`` plus one chunk whatever the peer sends.
"""

PREFIX_BYTES = 512


class Lines:
    """Splits fed bytes into lines of at most ``limit`` bytes (see the module docstring)."""

    def __init__(self, limit, on_line, on_oversized):
        self.limit = limit
        self.on_line = on_line
        self.on_oversized = on_oversized
        self._buffer = bytearray()
        self._skipping = False

    def feed(self, chunk):
        start = 0
        while True:
            end = chunk.find(b"\n", start)
            piece = chunk[start:] if end < 0 else chunk[start:end]
            if self._skipping:
                self._skipping = end < 0
            elif len(self._buffer) + len(piece) > self.limit:
                prefix = bytes(self._buffer[:PREFIX_BYTES]) + piece[:PREFIX_BYTES]
                self._buffer.clear()
                self._skipping = end < 0
                self.on_oversized(prefix[:PREFIX_BYTES])
            else:
                self._buffer += piece
                if end >= 0:
                    line = bytes(self._buffer)
                    self._buffer.clear()
                    self.on_line(line[:-1] if line.endswith(b"\r") else line)
            if end < 0:
                return
            start = end + 1

    def end(self):
        """The stream ended: hand over its last line if it had no newline."""
        if self._buffer and not self._skipping:
            line = bytes(self._buffer)
            self._buffer.clear()
            self.on_line(line[:-1] if line.endswith(b"\r") else line)
