"""``TelegramChannel``: the agent on Telegram, through the Bot API with long polling.

A background task long-polls ``getUpdates``. For each message from a user in
``telegram.allowed_users`` it finds the chat's session (the state key
``telegram.session.<chat_id>``; created on first contact), hands the text to the agent, and
only once the agent has queued it does it store the next offset (``telegram.offset``), so a
restart neither loses nor repeats an update. The reply is rendered in its own task
(``reply.StreamedReply``: typing indicator, one message edited at a bounded rate, split past
4096 characters) while polling goes on. Anyone else is refused in one line and logged with
their user id; nothing of theirs is stored.

Network failures, 5xx and 429 are retried with capped exponential backoff and jitter
(``retry_after`` honoured). A reply Telegram keeps refusing that way is never dropped: it
is retried until delivered (or until shutdown, which logs it as undelivered), and meanwhile
a warning says so and health is ``degraded``. A refused token (401/404) is logged once as an error, health
turns ``down``, and polling retries only every ``backoff_max`` seconds.
"""

import asyncio
import contextlib
import logging
import time

from blufio.agent.events import EventRenderer
from blufio.errors import BlufioError, ConfigError, PluginError
from blufio.hints import command
from blufio.manifest import identity
from blufio.plugins.telegram.api import BotAPI, BotAPIError
from blufio.retry import Backoff
from blufio.plugins.telegram.reply import StreamedReply, typing

log = logging.getLogger("blufio.telegram")

OFFSET_KEY = "telegram.offset"
SESSION_KEY = "telegram.session.{chat_id}"
REFUSAL = ("Sorry, this is a private assistant and you are not on its list of users. "
           "(Your Telegram user id is {user_id}.)")
NOT_TEXT = "Sorry, I can only read text messages."
SOMETHING_WENT_WRONG = "Sorry, something went wrong while answering; please try again."


class TelegramChannel:
    """The ``telegram`` channel (see the module docstring)."""

    name, version, adapter_type = identity("telegram")

    def __init__(self, config, *, storage=None, **_services):
        token = config.get("telegram.bot_token")
        if not token:
            raise ConfigError("telegram.bot_token is not set; set it with "
                              f"'{command('config set-secret telegram.bot_token')}' or "
                              "TELEGRAM_BOT_TOKEN")
        self.allowed_users = frozenset(config.get("telegram.allowed_users") or ())
        self.poll_timeout = int(config.get("telegram.poll_timeout"))
        self.edit_interval = float(config.get("telegram.edit_interval"))
        backoff = (float(config.get("telegram.backoff_initial")),
                   float(config.get("telegram.backoff_max")))
        self.api = BotAPI(config.get("telegram.api_base_url"), token, backoff=backoff)
        self.drain_timeout = float(config.get("agent.drain_timeout"))
        self._backoff = Backoff(*backoff)
        self._storage = storage
        self._agent = None
        self._poller = None
        self._replies = set()
        self._closed = False
        self._bot = None  # getMe's answer
        self._last_poll = None  # monotonic time of the last successful getUpdates
        self._problem = ("down", "not started")  # (status, detail) while not polling well
        self._undelivered = 0  # replies Telegram refused for now, being retried

    # -- the plugin base ---------------------------------------------------------------------

    async def health_check(self):
        if self._problem is not None:
            status, detail = self._problem
            return {"status": status, "detail": detail}
        if self._undelivered:
            return {"status": "degraded",
                    "detail": f"{self._undelivered} reply(ies) refused by Telegram for now; "
                              "retrying"}
        ago = time.monotonic() - self._last_poll
        return {"status": "ok",
                "detail": f"polling as @{self._bot.get('username', '?')}; "
                          f"last poll {ago:.0f} s ago"}

    async def shutdown(self):
        if self._closed:
            return
        self._closed = True
        self._problem = ("down", "shut down")
        await _cancel(self._poller)
        if self._replies:  # let replies to turns in flight finish, as the agent drains them
            await asyncio.wait(self._replies, timeout=self.drain_timeout)
            for task in list(self._replies):
                await _cancel(task)
        await self.api.aclose()

    # -- the channel contract ----------------------------------------------------------------

    async def start(self, agent):
        """Begin long polling in the background; messages go to ``agent``."""
        if self._closed:
            raise PluginError("the telegram channel was shut down; create a new one")
        self._agent = agent
        if self._storage is None:
            self._storage = getattr(agent, "storage", None)
        if self._storage is None:
            raise PluginError("the telegram channel needs a storage plugin (for its offset "
                              f"and sessions); enable one, e.g. '{command('plugin install sqlite')}'")
        if not self.allowed_users:
            log.warning("telegram.allowed_users is empty: every Telegram user will be refused;"
                        " add your user id to it")
        self._problem = ("degraded", "connecting")
        self._poller = asyncio.get_running_loop().create_task(self._poll_forever())

    async def deliver(self, inbound, events):
        """Render the reply to a queued ``inbound`` in the chat its ``reply_to`` names."""
        chat_id = (inbound.reply_to or {}).get("chat_id")
        if chat_id is None:
            raise PluginError(f"inbound message {inbound.id} has no Telegram chat to reply to")
        await self._reply(chat_id, events)

    # -- schedule targets (``telegram:<chat>``) ---------------------------------------------

    async def deliver_to_chat(self, chat_id, events):
        """Render a reply nobody just asked for (a scheduled run's) in chat ``chat_id``;
        raise BotAPIError when it cannot be delivered, so the caller can retry."""
        await self._reply(int(chat_id), events, raise_undelivered=True)

    async def send_to_chat(self, chat_id, text):
        """Send ``text`` to chat ``chat_id`` (split past 4096 characters); raise BotAPIError
        when it cannot be sent."""
        reply = StreamedReply(self.api, int(chat_id), edit_interval=self.edit_interval)
        try:
            await reply.finish(text)
        finally:
            await reply.aclose()

    # -- polling -----------------------------------------------------------------------------

    async def _poll_forever(self):
        offset = None
        while True:
            try:
                if offset is None:
                    offset = int(await self._storage.get_state(OFFSET_KEY) or 0)
                if self._bot is None:
                    self._bot = await self.api.call("getMe")
                updates = await self.api.call(
                    "getUpdates", offset=offset, timeout=self.poll_timeout,
                    allowed_updates=["message"], http_timeout=self.poll_timeout + 10)
            except BotAPIError as exc:
                await asyncio.sleep(self._poll_failed(exc))
                continue
            except Exception as exc:  # noqa: BLE001 - the poller must outlive any failure
                await asyncio.sleep(self._failed("could not read the Telegram offset", exc))
                continue
            self._poll_succeeded()
            for update in updates:
                try:
                    await self._handle(update)
                except BlufioError as exc:
                    # Not queued (storage trouble): the next poll, from the same offset, gets
                    # this update again.
                    await asyncio.sleep(self._failed(
                        f"could not take Telegram update {update['update_id']}", exc))
                    break
                except Exception:  # noqa: BLE001 - a bug must not wedge the channel
                    log.exception("skipped Telegram update %s, which could not be handled",
                                  update["update_id"])
                offset = update["update_id"] + 1
                try:
                    await self._storage.set_state(OFFSET_KEY, str(offset))
                except BlufioError as exc:
                    await asyncio.sleep(self._failed("could not store the Telegram offset", exc))

    def _failed(self, what, exc):
        """Record a failure other than the Bot API's; return how long to wait."""
        log.error("%s: %s", what, exc, exc_info=not isinstance(exc, BlufioError))
        self._problem = ("degraded", f"{what}: {exc}")
        return self._backoff.next_delay()

    def _poll_failed(self, exc):
        """Record a failed poll; return how long to wait before the next one."""
        if exc.fatal:
            if self._problem != ("down", str(exc)):
                log.error("%s; polling again every %.0f s", exc, self._backoff.maximum)
            self._problem = ("down", str(exc))
            return self._backoff.maximum
        delay = self._backoff.next_delay(exc.retry_after)
        if self._problem is None or self._problem[1] == "connecting":
            log.warning("%s; reconnecting with backoff", exc)
        log.debug("%s; retrying in %.1f s", exc, delay)
        self._problem = ("degraded", f"reconnecting after: {exc}")
        return delay

    def _poll_succeeded(self):
        if self._problem is not None and self._problem[1] != "connecting":
            log.info("Telegram polling is working again")
        self._problem = None
        self._last_poll = time.monotonic()
        self._backoff.reset()

    # -- one message -------------------------------------------------------------------------

    async def _handle(self, update):
        """Take one update; return once its message is queued by the agent (or refused)."""
        message = update.get("message")
        chat_id = ((message or {}).get("chat") or {}).get("id")
        if chat_id is None:
            return
        sender = message.get("from") or {}
        if sender.get("id") not in self.allowed_users:
            log.warning("refused a message from Telegram user %s (username %r) in chat %s: "
                        "not in telegram.allowed_users", sender.get("id"),
                        sender.get("username", ""), chat_id)
            await self._send_quietly(chat_id, REFUSAL.format(user_id=sender.get("id")))
            return
        text = message.get("text") or message.get("caption")
        if not text:
            await self._send_quietly(chat_id, NOT_TEXT)
            return
        session_id = await self._session_for(chat_id)
        events = await self._submit(session_id, text,
                                    {"chat_id": chat_id, "message_id": message["message_id"]})
        task = asyncio.get_running_loop().create_task(self._reply(chat_id, events))
        self._replies.add(task)
        task.add_done_callback(self._replies.discard)

    async def _submit(self, session_id, text, reply_to):
        """Have the agent store the message (durably), then start its turn; return the
        turn's events. Only the first step must finish before the offset moves on."""
        inbound = await self._agent.receive(session_id, self.name, text, reply_to=reply_to)
        return self._agent.process(inbound)

    async def _session_for(self, chat_id):
        key = SESSION_KEY.format(chat_id=chat_id)
        session_id = await self._storage.get_state(key)
        if session_id and await self._storage.get_session(session_id) is not None:
            return session_id
        session = await self._agent.new_session(self.name, title=f"Telegram chat {chat_id}",
                                                metadata={"chat_id": chat_id})
        await self._storage.set_state(key, session.id)
        return session.id

    # -- replies -----------------------------------------------------------------------------

    async def _reply(self, chat_id, events, raise_undelivered=False):
        chat = _ChatReply(StreamedReply(self.api, chat_id, edit_interval=self.edit_interval))
        try:
            async with typing(self.api, chat_id):
                try:
                    await chat.render(events)
                except BlufioError as exc:
                    chat.problem = str(exc)
                except Exception:  # noqa: BLE001 - tell the user rather than go silent
                    log.exception("the agent failed while answering Telegram chat %s", chat_id)
                    chat.problem = SOMETHING_WENT_WRONG
            await self._deliver(chat_id, chat)
        except BotAPIError as exc:
            if raise_undelivered:
                raise
            log.warning("could not deliver a reply to Telegram chat %s: %s", chat_id, exc)
        except asyncio.CancelledError:
            if not chat.delivered:
                log.error("a reply to Telegram chat %s was not delivered before shutdown; it "
                          "stays in the chat's session", chat_id)
            raise
        finally:
            await chat.reply.aclose()

    async def _deliver(self, chat_id, chat):
        """Show the complete reply (and the problem, if any); while Telegram refuses it for
        now (429, 5xx, network) keep trying, honouring ``retry_after``."""
        backoff, waiting = Backoff(self._backoff.initial, self._backoff.maximum), False
        while True:
            try:
                await chat.reply.finish(chat.final)
                if chat.problem:
                    await self.api.call_with_retry("sendMessage", chat_id=chat_id,
                                                   text=chat.problem)
                    chat.problem = None
                break
            except BotAPIError as exc:
                if not exc.retryable:
                    raise
                if not waiting:
                    waiting = True
                    self._undelivered += 1
                    log.warning("a reply to Telegram chat %s is not delivered yet (%s); "
                                "retrying until it is", chat_id, exc)
                await asyncio.sleep(backoff.next_delay(exc.retry_after))
        chat.delivered = True
        if waiting:
            self._undelivered -= 1
            log.info("the delayed reply to Telegram chat %s is delivered", chat_id)

    async def _send_quietly(self, chat_id, text):
        """One attempt, as it holds up polling: a short notice is not worth a long wait."""
        try:
            await self.api.call("sendMessage", chat_id=chat_id, text=text)
        except BotAPIError as exc:
            log.warning("could not send to Telegram chat %s: %s", chat_id, exc)


class _ChatReply(EventRenderer):
    """A turn's events in a chat: the text streams into ``reply``; at the end, the complete
    text (``final``) replaces it, and a failure is told in a message of its own
    (``problem``)."""

    def __init__(self, reply):
        self.reply = reply
        self.final = None
        self.problem = None
        self.delivered = False

    async def on_text_delta(self, event):
        self.reply.feed(event.text)

    async def on_turn_complete(self, event):
        self.final = event.text or None

    async def on_turn_error(self, event):
        self.problem = event.message


async def _cancel(task):
    if task is None or task.done():
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
