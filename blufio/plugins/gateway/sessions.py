"""Which session a ``POST /v1/messages`` continues, for clients with and without state.

- With ``x-blufio-session: <id>``: that session (404 if there is none); the request's last
  user message is the new turn.
- Without it: most clients (Claude Code, LangChain, SDK code) re-send the whole
  conversation each time. Every gateway session keeps a digest of its *transcript* as its
  clients see it: the messages they sent and the replies they got (server tool rounds are
  not part of it). A request whose messages begin with a session's transcript continues
  that session, and only what follows the transcript is stored; any other request starts a
  new session seeded with its history.

The digests form a chain, one per message (``digest(n) = sha256(digest(n - 1) + message n)``),
so finding the session is one dictionary lookup per message of the request, however many
sessions there are. A session's digest is kept in storage's state (so a restart loses
nothing) and, for the ``INDEXED`` most recently used sessions, in memory (older ones are
found in storage as after a restart, so memory stays bounded however many sessions come); while a turn runs, its session's digest is taken out of the index,
so a second request with the same conversation starts its own session instead of racing.
With several workers (``[gateway] workers``) another worker may have continued a session
since this one indexed it, so a digest found in memory is trusted only when storage still
holds it for that session.

A request that started a session and whose turn fails deletes that session again: a failed
first turn leaves nothing behind.
"""

import asyncio
import hashlib
import json
from collections import OrderedDict

from blufio.agent.events import TurnComplete, TurnError
from blufio.model import NewMessage
from blufio.plugins.gateway.errors import GatewayError
from blufio.plugins.gateway.sse import reply_content
from blufio.plugins.gateway.turns import INTERRUPTED

CHANNEL = "gateway"
ROOT = ""  # the digest of an empty transcript
_UNCOMPARED = ("cache_control", "citations")
_STATE_SESSION = "gateway.transcript."     # + digest -> session id
_STATE_DIGEST = "gateway.transcript-of."   # + session id -> digest
INDEXED = 4096  # sessions whose transcript digest is kept in memory (~300 bytes each)


def canonical(message):
    """A message as compared between requests: marks and citations dropped, adjacent text
    blocks joined, a tool result's string content as a text block, and system reminders
    left out (Claude Code wraps context it adds to user messages in ``<system-reminder>``
    tags and adds or drops such blocks when it re-sends a conversation)."""
    blocks = []
    for block in message["content"]:
        block = {key: value for key, value in block.items() if key not in _UNCOMPARED}
        if block["type"] == "text":
            if not block["text"] or _is_reminder(block["text"]):
                continue
            if blocks and blocks[-1]["type"] == "text":
                blocks[-1] = {"type": "text", "text": blocks[-1]["text"] + block["text"]}
                continue
        elif block["type"] == "tool_result" and isinstance(block.get("content"), str):
            block["content"] = [{"type": "text", "text": block["content"]}]
        blocks.append(block)
    return json.dumps([message["role"], blocks], sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False)


def _is_reminder(text):
    text = text.strip()
    return text.startswith("<system-reminder>") and text.endswith("</system-reminder>")


def chain(messages, start=ROOT):
    """The digest of the transcript after each of ``messages``, continuing from ``start``."""
    digests, digest = [], start
    for message in messages:
        digest = hashlib.sha256((digest + canonical(message)).encode()).hexdigest()
        digests.append(digest)
    return digests


class Transcripts:
    """The index of gateway sessions by the digest of their transcript."""

    def __init__(self, storage, limit=INDEXED):
        self.storage = storage
        self.limit = limit
        self._sessions = {}  # digest -> session id
        self._digests = OrderedDict()  # session id -> digest, least recently used first

    def __len__(self):
        return len(self._sessions)

    async def find(self, digests):
        """``(session id, how many of the messages it holds)`` for the longest prefix of a
        request's messages that is a session's transcript; ``(None, 0)`` when none is."""
        for count in range(len(digests), 0, -1):
            session_id = self._sessions.get(digests[count - 1])
            if session_id is not None and await self._current(session_id, digests[count - 1]):
                return session_id, count
        if digests:  # after a restart only storage knows; ask for the whole prefix
            session_id = await self.storage.get_state(_STATE_SESSION + digests[-1])
            if session_id and await self.storage.get_state(_STATE_DIGEST + session_id) \
                    == digests[-1]:
                return session_id, len(digests)
        return None, 0

    async def _current(self, session_id, digest):
        """Whether ``digest`` (from memory) is still the session's transcript."""
        if not getattr(self.storage, "owner", ""):  # one process: memory is never behind
            return True
        if await self.storage.get_state(_STATE_DIGEST + session_id) == digest:
            return True
        self.take(session_id)  # another worker continued it
        return False

    def take(self, session_id):
        """Take the session out of the index while a turn runs; its digest (or None)."""
        digest = self._digests.pop(session_id, None)
        if digest is not None:
            self._sessions.pop(digest, None)
        return digest

    def put(self, session_id, digest):
        """Index the session under ``digest`` (in memory only)."""
        self.take(session_id)
        self._sessions[digest] = session_id
        self._digests[session_id] = digest
        while len(self._digests) > self.limit:  # forget the least recently used
            _, forgotten = self._digests.popitem(last=False)
            self._sessions.pop(forgotten, None)

    async def advance(self, session_id, digest):
        """The session's transcript is now ``digest``: index and persist it."""
        self.put(session_id, digest)
        # Asked at once, so storage that groups concurrent writes (sqlite) commits them in
        # one transaction; the reply waits for them. ``find`` checks both, so one without
        # the other matches nothing.
        await asyncio.gather(self.storage.set_state(_STATE_SESSION + digest, session_id),
                             self.storage.set_state(_STATE_DIGEST + session_id, digest))

    async def digest_of(self, session_id):
        digest = self._digests.get(session_id)
        if digest is None:
            digest = await self.storage.get_state(_STATE_DIGEST + session_id)
        return digest


class SessionTurn:
    """One request's session: which it is, whether the request created it, and what to do
    when the turn ends (``track`` the turn's events)."""

    def __init__(self, transcripts, session_id, *, created, digest, turn_messages):
        self.transcripts = transcripts
        self.session_id = session_id
        self.created = created
        self._digest = digest  # the transcript before this turn (None: not tracked)
        self._turn_messages = turn_messages  # the client's new turn (and prefill), as sent

    async def track(self, events):
        """Pass ``events`` through; at the outcome, advance the transcript (the turn
        completed) or undo this request's claim on the session (it failed). A client that
        goes away before the outcome leaves the session where it was in the index."""
        settled = False
        try:
            async for event in events:
                if isinstance(event, TurnComplete):
                    settled = True
                    await self._completed(event)
                elif isinstance(event, TurnError) and event.kind != INTERRUPTED:
                    settled = True
                    await self._failed()  # (a reply cut short by a drain: its turn goes on)
                yield event
        finally:
            if not settled and self._digest not in (None, ROOT):
                self.transcripts.put(self.session_id, self._digest)

    async def _completed(self, event):
        if self._digest is None:
            return
        reply = {"role": "assistant", "content": reply_content(event.text, event.tool_uses)}
        messages = list(self._turn_messages)
        if messages[-1]["role"] == "assistant":  # a prefill: the reply continues it
            messages[-1] = {"role": "assistant",
                            "content": [*messages[-1]["content"], *reply["content"]]}
        else:
            messages.append(reply)
        await self.transcripts.advance(self.session_id, chain(messages, self._digest)[-1])

    async def _failed(self):
        if self.created:
            await self.transcripts.storage.delete_session(self.session_id)
        elif self._digest is not None:
            self.transcripts.put(self.session_id, self._digest)


async def last_reply(storage, session_id):
    """The last assistant message of a session a request names (``x-blufio-session``), as
    an API message, or None; a 404 when there is no such session."""
    if await storage.get_session(session_id) is None:
        raise GatewayError(404, f"no session with id '{session_id}'")
    for message in reversed(await storage.get_messages(session_id, limit=2)):
        if message.role == "assistant":
            return {"role": "assistant", "content": message.content}
    return None


async def open_session(gateway, header_id, conversation):
    """The ``SessionTurn`` of a request (see the module docstring)."""
    transcripts = gateway.transcripts
    history, turn_messages = conversation.history, conversation.messages[conversation.turn_index:]
    if header_id:
        if await gateway.storage.get_session(header_id) is None:
            raise GatewayError(404, f"no session with id '{header_id}'")
        digest = await transcripts.digest_of(header_id)
        if digest is not None:
            transcripts.take(header_id)
        return SessionTurn(transcripts, header_id, created=False, digest=digest,
                           turn_messages=turn_messages)
    digests = chain(history)
    session_id, held = await transcripts.find(digests)
    created = session_id is None
    if created:
        session_id = (await gateway.agent.new_session(CHANNEL)).id
    else:
        transcripts.take(session_id)
    if history[held:]:
        await gateway.storage.append_messages(
            session_id, [NewMessage(m["role"], m["content"]) for m in history[held:]])
    return SessionTurn(transcripts, session_id, created=created,
                       digest=digests[-1] if digests else ROOT, turn_messages=turn_messages)
