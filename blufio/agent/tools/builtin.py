"""The built-in tools: ``current_time``, ``read_file``/``write_file``/``list_files`` (confined
to the workspace directory), ``http_fetch`` (capability ``network``) and ``shell``.

Confinement: a file path is resolved against the workspace with every symlink followed, and
refused unless the result is inside the workspace. ``http_fetch`` resolves the host itself,
refuses it if *any* address is loopback, private, link-local or otherwise not global (unless
``allow_private``), then connects to the address it checked (so a second DNS answer cannot
swap it), and checks every redirect the same way.
"""

import asyncio
import ipaddress
import os
import re
import signal
import socket
from datetime import datetime, timezone
from urllib.parse import urljoin, urlsplit

from blufio.agent.tools import Tool
from blufio.errors import ToolError

MAX_READ_BYTES = 256 * 1024
MAX_FETCH_BYTES = 1024 * 1024
MAX_FETCH_CHARS = 20_000
MAX_REDIRECTS = 5
FETCH_TIMEOUT = 15.0


def register_all(registry, *, workspace, allow_private=False, shell_timeout=30.0):
    """Register every built-in tool (the registry decides which are offered)."""
    files = Workspace(workspace)
    registry.register(Tool(
        "current_time", "The current date and time, in UTC and optionally in an IANA time "
        "zone such as 'Europe/Paris'.",
        {"type": "object", "properties": {"timezone": {"type": "string",
                                                        "description": "IANA time zone name"}}},
        "time", current_time, timeout=5.0))
    registry.register(Tool(
        "read_file", "Read a UTF-8 text file from the workspace directory.",
        {"type": "object", "properties": {"path": {"type": "string",
                                                    "description": "Path relative to the workspace"}},
         "required": ["path"]},
        "files", files.read, timeout=30.0))
    registry.register(Tool(
        "write_file", "Write (or append) UTF-8 text to a file in the workspace directory, "
        "creating folders as needed.",
        {"type": "object", "properties": {
            "path": {"type": "string", "description": "Path relative to the workspace"},
            "content": {"type": "string"},
            "append": {"type": "boolean", "description": "Append instead of replacing"}},
         "required": ["path", "content"]},
        "files", files.write, timeout=30.0))
    registry.register(Tool(
        "list_files", "List the files and folders in a workspace folder.",
        {"type": "object", "properties": {"path": {"type": "string",
                                                    "description": "Folder relative to the workspace; default the workspace itself"}}},
        "files", files.list, timeout=30.0))
    fetcher = Fetcher(allow_private)
    registry.register(Tool(
        "http_fetch", "Fetch a web page or file over HTTP(S) and return its text.",
        {"type": "object", "properties": {"url": {"type": "string"}}, "required": ["url"]},
        "network", fetcher.fetch, timeout=FETCH_TIMEOUT * 2))
    shell = Shell(files, shell_timeout)
    registry.register(Tool(
        "shell", "Run a shell command in the workspace directory; returns exit code and output.",
        {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]},
        "shell", shell.run, timeout=shell_timeout + 5))


# --- time --------------------------------------------------------------------------------------


async def current_time(arguments):
    now = datetime.now(timezone.utc)
    lines = [f"UTC: {now.strftime('%Y-%m-%d %H:%M:%S')} ({now.strftime('%A')})"]
    name = arguments.get("timezone")
    if name:
        try:
            from zoneinfo import ZoneInfo

            local = now.astimezone(ZoneInfo(str(name)))
        except Exception:
            raise ToolError(f"unknown time zone {name!r}; use an IANA name like 'Europe/Paris'"
                            ) from None
        lines.append(f"{name}: {local.strftime('%Y-%m-%d %H:%M:%S %Z (UTC%z)')}")
    return "\n".join(lines)


# --- files -------------------------------------------------------------------------------------


class Workspace:
    """File operations confined to one directory."""

    def __init__(self, root):
        self.root = os.path.abspath(root)

    def _real_root(self):
        os.makedirs(self.root, mode=0o700, exist_ok=True)
        return os.path.realpath(self.root)

    def resolve(self, path):
        """The real path of ``path`` inside the workspace; ToolError if it is outside."""
        if not isinstance(path, str) or not path.strip():
            raise ToolError("a path is required")
        if "\x00" in path:
            raise ToolError("refused: the path contains a NUL character")
        root = self._real_root()
        real = os.path.realpath(os.path.join(root, os.path.expanduser(path)))
        if real != root and not real.startswith(root + os.sep):
            raise ToolError(f"refused: {path!r} is outside the workspace directory ({root}); "
                            "file tools only work inside it")
        return real

    async def read(self, arguments):
        real = self.resolve(arguments.get("path"))
        return await asyncio.to_thread(self._read, real, arguments.get("path"))

    def _read(self, real, shown):
        if os.path.isdir(real):
            raise ToolError(f"{shown!r} is a folder; use list_files")
        try:
            with open(real, "rb") as f:
                data = f.read(MAX_READ_BYTES + 1)
        except FileNotFoundError:
            raise ToolError(f"{shown!r} does not exist in the workspace") from None
        except OSError as exc:
            raise ToolError(f"cannot read {shown!r}: {exc.strerror or exc}") from None
        text = data[:MAX_READ_BYTES].decode("utf-8", "replace")
        if len(data) > MAX_READ_BYTES:
            text += f"\n[truncated at {MAX_READ_BYTES} bytes]"
        return text

    async def write(self, arguments):
        content = arguments.get("content")
        if not isinstance(content, str):
            raise ToolError("'content' must be a string")
        real = self.resolve(arguments.get("path"))
        return await asyncio.to_thread(self._write, real, arguments.get("path"), content,
                                       bool(arguments.get("append")))

    def _write(self, real, shown, content, append):
        if os.path.isdir(real):
            raise ToolError(f"{shown!r} is a folder")
        try:
            _private_dirs(os.path.dirname(real))
            flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC)
            with open(os.open(real, flags, 0o600), "w", encoding="utf-8") as f:
                f.write(content)
        except OSError as exc:
            raise ToolError(f"cannot write {shown!r}: {exc.strerror or exc}") from None
        return f"{'appended' if append else 'wrote'} {len(content.encode())} bytes to {shown}"

    async def list(self, arguments):
        real = self.resolve(arguments.get("path") or ".")
        return await asyncio.to_thread(self._list, real, arguments.get("path") or ".")

    def _list(self, real, shown):
        try:
            entries = sorted(os.scandir(real), key=lambda e: e.name)
        except FileNotFoundError:
            raise ToolError(f"{shown!r} does not exist in the workspace") from None
        except NotADirectoryError:
            raise ToolError(f"{shown!r} is a file, not a folder") from None
        lines = [e.name + ("/" if e.is_dir() else f"  ({e.stat().st_size} bytes)")
                 for e in entries[:500]]
        if len(entries) > 500:
            lines.append(f"[{len(entries) - 500} more]")
        return "\n".join(lines) or "(empty)"


# --- network -----------------------------------------------------------------------------------


def refusal_reason(address):
    """Why ``address`` (an IP string) may not be fetched, or None when it is public."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        elif ip.sixtofour is not None:
            ip = ip.sixtofour
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_private:
        return "a private address"
    if ip.is_multicast or ip.is_unspecified or ip.is_reserved or not ip.is_global:
        return "not a public address"
    return None


async def resolve(host, port):
    """Every address ``host`` resolves to (IPs as strings)."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ToolError(f"cannot resolve {host!r}: {exc.strerror or exc}") from None
    return list(dict.fromkeys(info[4][0] for info in infos))


class Fetcher:
    """``http_fetch``: GET a URL, checking the addresses of it and of every redirect."""

    def __init__(self, allow_private=False):
        self.allow_private = allow_private
        self.resolve = resolve  # replaceable in tests

    async def _checked_address(self, url):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise ToolError(f"refused: only http and https URLs can be fetched, not {url!r}")
        if not parts.hostname:
            raise ToolError(f"refused: {url!r} has no host")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        addresses = await self.resolve(parts.hostname, port)
        if not addresses:
            raise ToolError(f"cannot resolve {parts.hostname!r}")
        if not self.allow_private:
            for address in addresses:
                reason = refusal_reason(address)
                if reason:
                    raise ToolError(
                        f"refused: {parts.hostname} resolves to {address}, {reason}; fetching "
                        "private addresses is off ([tools] allow_private_addresses)")
        return parts, port, addresses[0]

    async def fetch(self, arguments):
        import httpx

        url = arguments.get("url")
        if not isinstance(url, str) or not url:
            raise ToolError("a url is required")
        async with httpx.AsyncClient(timeout=FETCH_TIMEOUT, follow_redirects=False,
                                     trust_env=False) as client:
            for _ in range(MAX_REDIRECTS + 1):
                parts, port, address = await self._checked_address(url)
                host = f"[{address}]" if ":" in address else address
                default_port = 443 if parts.scheme == "https" else 80
                pinned = parts._replace(netloc=host if port == default_port else f"{host}:{port}")
                host_header = parts.hostname + ("" if port == default_port else f":{port}")
                extensions = {"sni_hostname": parts.hostname} if parts.scheme == "https" else {}
                try:
                    async with client.stream("GET", pinned.geturl(), headers={
                            "host": host_header, "user-agent": "blufio/0.1 (http_fetch)"},
                            extensions=extensions) as response:
                        if response.status_code in (301, 302, 303, 307, 308) and \
                                response.headers.get("location"):
                            url = urljoin(url, response.headers["location"])
                            continue
                        body = bytearray()
                        async for chunk in response.aiter_bytes():
                            body += chunk
                            if len(body) >= MAX_FETCH_BYTES:
                                break
                        return _render(url, response, bytes(body[:MAX_FETCH_BYTES]))
                except httpx.HTTPError as exc:
                    raise ToolError(f"fetching {url} failed: {exc or type(exc).__name__}") from None
        raise ToolError(f"fetching {url} failed: more than {MAX_REDIRECTS} redirects")


def _render(url, response, body):
    content_type = response.headers.get("content-type", "")
    text = body.decode(response.encoding or "utf-8", "replace")
    if "html" in content_type:
        text = re.sub(r"(?is)<(script|style|noscript)\b.*?</\1>", " ", text)
        text = re.sub(r"(?s)<[^>]+>", " ", text)
        import html

        text = re.sub(r"[ \t\r\f\v]+", " ", html.unescape(text))
        text = re.sub(r"\n\s*\n+", "\n\n", text).strip()
    if len(text) > MAX_FETCH_CHARS:
        text = text[:MAX_FETCH_CHARS] + f"\n[truncated at {MAX_FETCH_CHARS} characters]"
    return f"{url}\nHTTP {response.status_code} {content_type}\n\n{text}"


# --- shell -------------------------------------------------------------------------------------


def _private_dirs(path):
    """Create ``path`` and every missing parent 0700 (``makedirs`` gives parents 0777-umask)."""
    if os.path.isdir(path):
        return
    _private_dirs(os.path.dirname(path))
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass


class Shell:
    """``shell``: run a command with ``/bin/sh`` in the workspace, with a time limit."""

    def __init__(self, workspace, timeout):
        self.workspace = workspace
        self.timeout = timeout

    async def run(self, arguments):
        command = arguments.get("command")
        if not isinstance(command, str) or not command.strip():
            raise ToolError("a command is required")
        cwd = self.workspace.resolve(".")
        process = await asyncio.create_subprocess_shell(
            command, cwd=cwd, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT, start_new_session=True,
            umask=0o077)  # what the command writes is private, as the file tools' files are
        try:
            output, _ = await asyncio.wait_for(process.communicate(), self.timeout)
        except (asyncio.TimeoutError, asyncio.CancelledError) as exc:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            await process.wait()
            if isinstance(exc, asyncio.CancelledError):
                raise
            raise ToolError(f"the command ran longer than {self.timeout:g}s and was killed") from None
        text = output.decode("utf-8", "replace")
        if len(text) > MAX_FETCH_CHARS:
            text = text[:MAX_FETCH_CHARS] + "\n[output truncated]"
        return f"exit code {process.returncode}\n{text}"
