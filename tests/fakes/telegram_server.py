"""A fake Telegram Bot API: a real HTTP server on ``127.0.0.1:<ephemeral>``.

It runs on the test's own event loop, so use it from async tests::

    from tests.fakes.telegram_server import FakeTelegram

    async with FakeTelegram() as tg:
        ...  # point the channel at tg.base_url, with tg.token as telegram.bot_token
        tg.send_text(user_id=42, text="hi")          # a user writes to the bot
        await tg.wait_for(lambda: tg.messages(42))   # until the bot has answered
        assert tg.messages(42)[-1]["text"] == "hello"

Methods: ``getMe``, ``getUpdates`` (a long poll: updates with ``update_id >= offset``; an
offset confirms every update before it, as Telegram does; waits up to ``timeout`` seconds
for new ones), ``sendMessage``, ``editMessageText`` and ``sendChatAction``. A wrong token
gets 401; an unknown method 404. Every request is recorded in ``calls`` (method, params,
monotonic time). ``fail(...)`` makes coming calls fail: an HTTP status with the Bot API's
error body (e.g. 500, or 429 with ``retry_after``) or a dropped connection.
"""

import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field

TOKEN = "123456:TEST-token-abcdefghijklmnop"
BOT_USER = {"id": 999, "is_bot": True, "first_name": "Blufio", "username": "blufio_bot"}


@dataclass
class Call:
    """One request the server received."""

    method: str
    params: dict
    at: float  # time.monotonic() on arrival
    failed: bool = False


@dataclass
class Failure:
    """How a coming call fails: ``status`` (+ ``retry_after``) or ``drop`` the connection."""

    status: int = 500
    retry_after: int = None
    drop: bool = False
    description: str = ""


@dataclass
class Sent:
    """A message the bot sent, with the text of every edit that reached it."""

    chat_id: int
    message_id: int
    text: str
    edits: list = field(default_factory=list)
    sent_at: float = 0.0
    edited_at: list = field(default_factory=list)


class BotAPIFailure(Exception):
    """Raised inside a handler to answer with the Bot API's error envelope."""

    def __init__(self, status, description, retry_after=None):
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after


class FakeTelegram:
    """The fake Bot API server; ``async with FakeTelegram() as tg`` starts and stops it."""

    def __init__(self, token=TOKEN):
        self.token = token
        self.calls = []
        self.sent = []  # every Sent message, in order
        self.base_url = None
        self._updates = []  # unconfirmed updates, oldest first
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1)
        self._failures = {}  # method (or "*") -> [Failure]
        self._changed = asyncio.Condition()
        self._server = None
        self._connections = set()

    # -- lifecycle ---------------------------------------------------------------------------

    async def __aenter__(self):
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.base_url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc):
        await self.aclose()

    async def aclose(self):
        if self._server is None:
            return
        self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None

    # -- scripting ---------------------------------------------------------------------------

    def push_update(self, update):
        """Queue a raw update (its ``update_id`` is assigned); return it."""
        update = {"update_id": next(self._update_ids), **update}
        self._updates.append(update)
        self._notify()
        return update

    def send_text(self, user_id, text, *, chat_id=None, **message):
        """A user writes ``text`` to the bot (in their private chat unless ``chat_id``)."""
        chat_id = user_id if chat_id is None else chat_id
        return self.push_update({"message": {
            "message_id": next(self._message_ids), "date": int(time.time()),
            "from": {"id": user_id, "is_bot": False, "first_name": f"user{user_id}"},
            "chat": {"id": chat_id, "type": "private" if chat_id == user_id else "group"},
            **({"text": text} if text is not None else {}), **message}})

    def fail(self, method="*", times=1, **failure):
        """The next ``times`` calls of ``method`` (``*``: any) fail as ``Failure(**failure)``."""
        self._failures.setdefault(method, []).extend(Failure(**failure) for _ in range(times))

    @property
    def pending_updates(self):
        """Updates not yet confirmed by an offset."""
        return list(self._updates)

    # -- inspection --------------------------------------------------------------------------

    def calls_of(self, method):
        return [call for call in self.calls if call.method == method and not call.failed]

    def messages(self, chat_id):
        """What the chat shows now: the current text of each message the bot sent there."""
        return [s for s in self.sent if s.chat_id == chat_id]

    def texts(self, chat_id):
        return [s.text for s in self.messages(chat_id)]

    async def wait_for(self, predicate, timeout=10.0):
        """Wait until ``predicate()`` is true (checked after every request); return its value."""
        async def until():
            async with self._changed:
                while not (value := predicate()):
                    await self._changed.wait()
                return value

        return await asyncio.wait_for(until(), timeout)

    def _notify(self):
        async def notify():
            async with self._changed:
                self._changed.notify_all()

        asyncio.get_running_loop().create_task(notify())

    # -- HTTP --------------------------------------------------------------------------------

    async def _serve(self, reader, writer):
        task = asyncio.current_task()
        self._connections.add(task)
        try:
            while await self._one_request(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # the client went away, or the server is closing (it cancels handlers)
        finally:
            self._connections.discard(task)
            writer.close()

    async def _one_request(self, reader, writer):
        request_line = await reader.readline()
        if not request_line:
            return False
        _verb, path, _version = request_line.decode("latin-1").split(" ", 2)
        headers = {}
        while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", 0)))
        params = json.loads(body) if body else {}

        prefix, _, method = path.rpartition("/")
        if prefix != f"/bot{self.token}":
            if prefix.startswith("/bot"):
                status, payload = 401, _error(401, "Unauthorized")
            else:
                status, payload = 404, _error(404, "Not Found")
            self._record(method, params, failed=True)
            return await _respond(writer, status, payload)

        failure = self._next_failure(method)
        if failure is not None:
            self._record(method, params, failed=True)
            if failure.drop:
                writer.transport.abort()
                return False
            return await _respond(writer, failure.status, _error(
                failure.status, failure.description or _REASONS.get(failure.status, "Error"),
                failure.retry_after))

        handler = getattr(self, f"_api_{method}", None)
        call = self._record(method, params)
        if handler is None:
            call.failed = True
            return await _respond(writer, 404, _error(404, "Not Found: method not found"))
        try:
            result = await handler(params)
        except BotAPIFailure as exc:
            call.failed = True
            return await _respond(writer, exc.status,
                                  _error(exc.status, exc.description, exc.retry_after))
        finally:
            self._notify()
        return await _respond(writer, 200, {"ok": True, "result": result})

    def _record(self, method, params, failed=False):
        call = Call(method, params, time.monotonic(), failed)
        self.calls.append(call)
        self._notify()
        return call

    def _next_failure(self, method):
        for key in (method, "*"):
            queue = self._failures.get(key)
            if queue:
                return queue.pop(0)
        return None

    # -- the Bot API methods -----------------------------------------------------------------

    async def _api_getMe(self, params):
        return BOT_USER

    async def _api_getUpdates(self, params):
        offset = params.get("offset")
        if offset:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        allowed = params.get("allowed_updates")
        deadline = time.monotonic() + float(params.get("timeout", 0))

        def ready():
            return [u for u in self._updates
                    if not allowed or any(kind in u for kind in allowed)][:params.get("limit", 100)]

        async with self._changed:
            while not ready() and (left := deadline - time.monotonic()) > 0:
                try:
                    await asyncio.wait_for(self._changed.wait(), left)
                except asyncio.TimeoutError:
                    break
        return ready()

    async def _api_sendMessage(self, params):
        text = _check_text(params)
        sent = Sent(int(params["chat_id"]), next(self._message_ids), text,
                    sent_at=time.monotonic())
        self.sent.append(sent)
        return {"message_id": sent.message_id, "date": int(time.time()), "from": BOT_USER,
                "chat": {"id": sent.chat_id, "type": "private"}, "text": text}

    async def _api_editMessageText(self, params):
        text = _check_text(params)
        target = next((s for s in self.sent if s.chat_id == int(params["chat_id"])
                       and s.message_id == params["message_id"]), None)
        if target is None:
            raise BotAPIFailure(400, "Bad Request: message to edit not found")
        if target.text == text:
            raise BotAPIFailure(400, "Bad Request: message is not modified: specified new "
                                     "message content and reply markup are exactly the same")
        target.text = text
        target.edits.append(text)
        target.edited_at.append(time.monotonic())
        return {"message_id": target.message_id, "chat": {"id": target.chat_id}, "text": text}

    async def _api_sendChatAction(self, params):
        if params.get("action") not in ("typing", "upload_document", "upload_photo"):
            raise BotAPIFailure(400, "Bad Request: wrong parameter action in request")
        return True


_REASONS = {400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
            429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway"}


def _check_text(params):
    text = params.get("text", "")
    if not text or not text.strip():
        raise BotAPIFailure(400, "Bad Request: message text is empty")
    if len(text.encode("utf-16-le")) // 2 > 4096:  # Telegram counts UTF-16 code units
        raise BotAPIFailure(400, "Bad Request: message is too long")
    return text


def _error(status, description, retry_after=None):
    body = {"ok": False, "error_code": status, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return body


async def _respond(writer, status, payload):
    body = json.dumps(payload).encode()
    writer.write(f"HTTP/1.1 {status} {_REASONS.get(status, 'OK')}\r\n"
                 "Content-Type: application/json\r\n"
                 f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n".encode() + body)
    await writer.drain()
    return True
