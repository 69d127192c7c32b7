"""Hostile clients on raw sockets: they send what they like and read nothing back."""

import base64
import json
import os
import select
import socket
import struct
from urllib.parse import urlsplit

from .conftest import TOKEN


def connect(url, receive_buffer=4096):
    """A TCP connection to the gateway at ``url`` with a small receive buffer (so the server
    soon has to wait for a client that does not read)."""
    parts = urlsplit(url)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.connect((parts.hostname, parts.port))
    return sock


def read_head(sock):
    """The response's status line and headers (bytes up to the blank line)."""
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)
        if not chunk:
            break
        head += chunk
    return head


def open_websocket(url):
    """A raw socket after a successful ``/ws`` handshake."""
    sock = connect(url)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET /ws?token={TOKEN} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                  "Sec-WebSocket-Version: 13\r\n\r\n").encode())
    head = read_head(sock)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def text_frame(payload):
    """One masked WebSocket text frame carrying ``payload`` (a dict, sent as JSON)."""
    data = json.dumps(payload).encode()
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
    if len(data) < 126:
        header = struct.pack("!BB", 0x81, 0x80 | len(data))
    elif len(data) < 1 << 16:
        header = struct.pack("!BBH", 0x81, 0x80 | 126, len(data))
    else:
        header = struct.pack("!BBQ", 0x81, 0x80 | 127, len(data))
    return header + mask + masked


def send_until_blocked(sock, data, budget, patience=2.0):
    """Send ``data`` again and again without reading, until the server stops taking it (no
    room for ``patience`` seconds) or ``budget`` bytes went; return how many bytes went."""
    sock.setblocking(False)
    sent, view = 0, memoryview(data)
    while sent < budget:
        _, writable, _ = select.select([], [sock], [], patience)
        if not writable:
            break
        try:
            count = sock.send(view)
        except BlockingIOError:
            continue
        sent += count
        view = view[count:] if count < len(view) else memoryview(data)
    return sent


def post(sock, path, body, headers=()):
    """Send an HTTP/1.1 POST of the JSON ``body`` with the gateway's token."""
    data = json.dumps(body).encode()
    lines = [f"POST {path} HTTP/1.1", "Host: x", f"Authorization: Bearer {TOKEN}",
             "Content-Type: application/json", f"Content-Length: {len(data)}", *headers]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + data)


def close_code(sock, limit=64 << 20):
    """Read the server's frames until its close frame; return the close code (None if the
    connection ended without one)."""
    sock.setblocking(True)
    sock.settimeout(20)
    buffer, taken = b"", 0
    while taken < limit:
        while len(buffer) >= 2:
            length, start = buffer[1] & 0x7F, 2
            if length == 126:
                length, start = struct.unpack("!H", buffer[2:4])[0], 4
            elif length == 127:
                length, start = struct.unpack("!Q", buffer[2:10])[0], 10
            if len(buffer) < start + length:
                break
            if buffer[0] & 0x0F == 0x8:
                payload = buffer[start:start + length]
                return struct.unpack("!H", payload[:2])[0] if length >= 2 else None
            buffer = buffer[start + length:]
        chunk = sock.recv(1 << 16)
        if not chunk:
            return None
        buffer += chunk
        taken += len(chunk)
    return None
