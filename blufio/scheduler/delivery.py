"""``ChannelTargets``: schedule targets served by the running channels (``serve``).

- ``telegram:<chat>``: answered in the chat's session; the reply is rendered in the chat by
  the ``telegram`` channel (``send_to_chat`` / ``deliver_to_chat``), which raise when the
  chat cannot be reached so the scheduler can retry and record the failure.
- ``session:<id>``: the agent stores the turn in the session; a channel that can show a
  session live (the gateway's ``/ws`` subscribers: ``publish``) is handed the events.
  A plain message (a notice) is stored in the session as an assistant message.
"""

from blufio.errors import PluginError, ScheduleError
from blufio.model import NewMessage, text_blocks
from blufio.scheduler.targets import parse_target, stored_session
from blufio.hints import command


class ChannelTargets:
    """Targets over ``storage`` and the started ``channels`` (name → channel)."""

    def __init__(self, storage, channels):
        self.storage = storage
        self.channels = channels

    async def session_for(self, target):
        if parse_target(target)[0] == "telegram":
            self._telegram()  # no turn is run (and paid for) that could not be delivered
        session_id = await stored_session(self.storage, target)
        if session_id is None:
            kind, address = parse_target(target)
            what = f"Telegram chat {address}" if kind == "telegram" else f"session {address}"
            raise ScheduleError("target", f"{what} has no stored session any more")
        return session_id

    async def deliver(self, target, inbound, events):
        kind, address = parse_target(target)
        if kind == "telegram":
            await self._telegram().deliver_to_chat(address, events)
            return
        for channel in self._live_channels():
            await channel.publish(address, events)
            return
        async for _event in events:  # stored by the agent; nobody watches live
            pass

    async def send(self, target, text):
        kind, address = parse_target(target)
        if kind == "telegram":
            await self._telegram().send_to_chat(address, text)
            return
        [message] = await self.storage.append_messages(
            address, [NewMessage("assistant", text_blocks(text))])
        for channel in self._live_channels():
            await channel.publish_message(address, message)

    def _telegram(self):
        channel = self.channels.get("telegram")
        if channel is None or not hasattr(channel, "deliver_to_chat"):
            raise PluginError("the telegram channel is not running in this serve; enable it "
                              f"with '{command('plugin install telegram')}' and set its token")
        return channel

    def _live_channels(self):
        return [c for c in self.channels.values() if hasattr(c, "publish")]

