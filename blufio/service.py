"""``Service``: everything ``blufio serve`` runs, started from the registry and stopped in order.

Start: observability → auth → storage, provider and agent (``open_runtime``) → channels,
then the replies a crash left unanswered. Stop (SIGINT/SIGTERM): channels stop accepting and drain, the agent
finishes turns in flight (up to ``[agent] drain_timeout``), then the provider and storage
close. Every plugin gets one log line: started, disabled, not configured (and why), or
incompatible (and why).
"""

import asyncio
import logging
import signal

from blufio.errors import ConfigError
from blufio.observability import NullObserver
from blufio.registry import DISABLED, ENABLED, PluginRegistry

log = logging.getLogger("blufio.serve")


class Service:
    """The running agent with its channels."""

    def __init__(self, config, registry=None):
        self.config = config
        self.registry = registry or PluginRegistry(config)
        self.runtime = None
        self.storage = None
        self.observer = NullObserver()
        self.auth = []
        self.agent = None
        self.channels = {}  # name -> started channel
        self.adapters = {}  # name -> every started adapter, for health checks
        self._extras = []  # adapters started here rather than by the runtime or as channels

    async def start(self):
        """Start every enabled plugin; raise PluginError if serving is impossible."""
        from blufio.agent.runtime import open_runtime

        self._report_states()
        channels = self.registry.enabled("channel")
        if not channels:
            raise ConfigError("no channel is enabled, so nothing would reach the agent; enable "
                              "one with 'blufio plugin install gateway' (or telegram)")
        for info in self.registry.enabled("observability")[:1]:
            self.observer = self._create(info.name)
        self.auth = [self._create(info.name) for info in self.registry.enabled("auth")]
        for adapter in self.auth:  # loads the device key now rather than on the first request
            await adapter.health_check()
        self.runtime = await open_runtime(self.config, observer=self.observer,
                                          registry=self.registry, require_provider_key=False)
        self.adapters.update(self.runtime.adapters)
        self.storage, self.agent = self.runtime.storage, self.runtime.agent

        for info in channels:
            channel = self._create(info.name, storage=self.storage, observer=self.observer,
                                   auth=self.auth, plugins=self.adapters)
            await channel.start(self.agent)
            self.channels[info.name] = channel
            log.info("%s: started%s", info.name,
                     f" at {channel.url}" if getattr(channel, "url", None) else "")
        for name in self.adapters:
            if name not in self.channels:
                log.info("%s: started", name)
        asyncio.get_running_loop().create_task(self._resume())

    def _create(self, name, **services):
        adapter = self.registry.create(name, **services)
        self.adapters[name] = adapter
        if self.registry.get(name).kind != "channel":
            self._extras.append((name, adapter))
        return adapter

    def _report_states(self):
        for info in self.registry.plugins():
            if info.state == DISABLED:
                log.info("%s: disabled in [plugins]", info.name)
            elif info.state != ENABLED:
                log.warning("%s: %s: %s", info.name, info.state, info.reason)

    async def _resume(self):
        """Answer what a crash left unanswered on these channels (a shell's own messages wait
        for the next shell)."""
        async def deliver(inbound, events):
            await self.channels[inbound.channel].deliver(inbound, events)

        try:
            count = await self.agent.resume_unfinished(deliver, channels=list(self.channels))
        except Exception:
            log.exception("resuming unanswered messages failed")
            return
        if count:
            log.info("answered %d message(s) left unanswered by the last run", count)

    async def stop(self):
        """Stop in order (channels, agent and runtime, the rest); safe to call twice."""
        for name, channel in list(self.channels.items()):
            await _quietly(name, channel.shutdown())
        self.channels.clear()
        if self.runtime is not None:
            await _quietly("agent", self.runtime.aclose())  # drains turns; closes provider, storage
            self.runtime = None
        for name, adapter in self._extras:
            await _quietly(name, adapter.shutdown())
        self._extras.clear()
        self.adapters.clear()

    async def run(self, ready=None):
        """Start, call ``ready(service)``, serve until SIGINT or SIGTERM, then stop."""
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        try:
            await self.start()
            if ready is not None:
                ready(self)
            await stop.wait()
            log.info("shutting down: draining requests and turns in flight")
        finally:
            await self.stop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)


async def _quietly(name, awaitable):
    try:
        await awaitable
    except Exception:
        log.exception("%s: shutdown failed", name)
