"""Schedule targets: where a schedule's runs are answered and their replies go.

- ``telegram:<chat id>``: the Telegram chat's own session (the one the ``telegram`` channel
  keeps under the state key ``telegram.session.<chat id>``); replies are sent to the chat.
  A bot cannot open a chat, so the chat must have written to it before.
- ``session:<id>``: a stored session (a gateway or shell conversation); the turn is stored
  there and ``/ws`` clients of that session see it live.
"""

import re

from blufio.errors import ScheduleError

TELEGRAM_SESSION_KEY = "telegram.session.{chat_id}"  # the telegram channel's SESSION_KEY
TARGET_FORMS = "telegram:<chat id> or session:<session id>"
_TELEGRAM = re.compile(r"telegram:(-?\d{1,20})", re.ASCII)
_SESSION = re.compile(r"session:([A-Za-z0-9_.-]{1,128})", re.ASCII)


def parse_target(text):
    """``("telegram", chat_id)`` or ``("session", session_id)``; ScheduleError otherwise."""
    text = text.strip() if isinstance(text, str) else ""
    match = _TELEGRAM.fullmatch(text)
    if match:
        return "telegram", int(match.group(1))
    match = _SESSION.fullmatch(text)
    if match:
        return "session", match.group(1)
    raise ScheduleError("target", f"{text!r} is not a target; use {TARGET_FORMS}"
                        if text else f"give a target: {TARGET_FORMS}")


async def stored_session(storage, target):
    """The id of the stored session ``target`` is answered in, or None if there is none."""
    kind, address = parse_target(target)
    if kind == "telegram":
        address = await storage.get_state(TELEGRAM_SESSION_KEY.format(chat_id=address))
        if not address:
            return None
    session = await storage.get_session(address)
    return session.id if session is not None else None


async def check_target(storage, target):
    """``target`` normalised, once it names something that exists; ScheduleError if not."""
    kind, address = parse_target(target)
    normal = f"{kind}:{address}"
    if await stored_session(storage, normal) is None:
        if kind == "telegram":
            raise ScheduleError("target", f"Telegram chat {address} has never written to this "
                                          "bot, and a bot cannot start a chat; send the bot a "
                                          "message from that chat first")
        raise ScheduleError("target", f"there is no session {address!r}; list sessions with "
                                      "GET /v1/sessions or use the shell's /sessions")
    return normal
