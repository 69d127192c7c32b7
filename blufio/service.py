"""``Service``: everything ``blufio serve`` runs, started from the registry and stopped in order.

Start: observability → auth → storage, provider and agent (``open_runtime``) → channels →
the scheduler, then the replies a crash left unanswered (a background task, which starts the
scheduler's loop once it has chosen what to resume). Stop
(SIGINT/SIGTERM) runs the same list backwards through one ``Lifecycle``: the scheduler stops
starting runs (and waits for those in flight), channels stop accepting and drain, background
tasks end, the agent finishes turns in flight (up to ``[agent] drain_timeout``), then the
storage, provider, auth and observability plugins shut down. Each is stopped exactly once,
and no task is left pending. Every plugin gets one log line: started, disabled, not
configured (and why), or incompatible (and why).

A worker among several (``[gateway] workers``, ``blufio.workers``) is a whole ``Service``
too, with three differences: only the primary worker runs the channels that cannot be
shared (those not serving the shared socket) and the scheduler; the resume answers only the
entries no process owns, freed by the supervisor (never a live worker's); and it drains when
its supervisor is gone, and leaves SIGHUP to the supervisor.
"""

import asyncio
import logging
import signal

from blufio.errors import ConfigError
from blufio.lifecycle import Lifecycle, TaskGroup
from blufio.observability import NullObserver
from blufio.registry import DISABLED, ENABLED, NOT_CONFIGURED, PluginRegistry
from blufio.workers import current_worker

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
        self.scheduler = None
        self.adapters = {}  # name -> every started adapter, for health checks
        self.tasks = TaskGroup("serve")
        self.reexec = False  # set by SIGHUP: after the drain, run the (new) program again
        self.worker = current_worker()  # None: the one serve process
        self.primary = self.worker is None or self.worker.primary
        self._lifecycle = Lifecycle()

    async def start(self):
        """Start every enabled plugin; raise PluginError if serving is impossible.

        If starting fails part way, what did start is stopped again before the error is
        raised."""
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self):
        from blufio import upgrade
        from blufio.agent.runtime import open_runtime

        self._report_states()
        channels = self._channels()
        waiting = {info.name for info in self.registry.plugins() if info.state == NOT_CONFIGURED}
        for info in self.registry.enabled("observability")[:1]:
            self.observer = self._create(info.name)
        self.auth = [self._create(info.name) for info in self.registry.enabled("auth")]
        for adapter in self.auth:  # loads the device key now rather than on the first request
            await adapter.health_check()
        self.runtime = await self._lifecycle.enter_async_context(await open_runtime(
            self.config, observer=self.observer, registry=self.registry,
            require_provider_key=False))
        self.adapters.update(self.runtime.adapters)
        self.storage, self.agent = self.runtime.storage, self.runtime.agent
        self._lifecycle.tasks(self.tasks, timeout=self.agent.drain_timeout)
        if upgrade.watched():
            watch = self.tasks.spawn(upgrade.watch(), name="archive-watch")
            self._lifecycle.callback(watch.cancel)  # before the tasks are waited for

        # Chosen before any channel accepts a message, so none it queues is taken for one.
        from blufio.scheduler.engine import CHANNEL

        served = [info.name for info in channels] + ([CHANNEL] if self.primary else [])
        unanswered = await self.agent.unanswered(channels=served, reset=self.worker is None)
        for info in channels:
            channel = self._create(info.name, storage=self.storage, observer=self.observer,
                                   auth=self.auth, plugins=self.adapters,
                                   status=upgrade.status,
                                   schedules=self.runtime.schedules)
            await channel.start(self.agent)
            self.channels[info.name] = channel
            log.info("%s: started%s", info.name,
                     f" at {channel.url}" if getattr(channel, "url", None) else "")
        for name in self.adapters:
            if name not in self.channels and name not in waiting:  # those said why already
                log.info("%s: started", name)
        if self.primary:
            self.scheduler = await self._prepare_scheduler()
        self.tasks.spawn(self._resume(unanswered), name="resume-unanswered")

    def _channels(self):
        """The channels this process runs: every enabled one, but only those serving the
        shared socket in a worker besides the primary."""
        channels = self.registry.enabled("channel")
        if not channels:
            raise ConfigError(self._no_channel())
        return channels if self.primary else [info for info in channels
                                              if _shares_socket(info)]

    async def _prepare_scheduler(self):
        """The scheduler, its runs going to these channels, not started yet: ``_resume``
        starts it once the runs a crash left are chosen, so it never queues one that a
        resume would answer again. Changes made here or by another process (``blufio
        schedule``) wake it."""
        from blufio.hints import invocation
        from blufio.scheduler.delivery import ChannelTargets
        from blufio.scheduler.engine import Scheduler
        from blufio.scheduler.wake import listen

        scheduler = Scheduler(
            self.storage, self.agent, ChannelTargets(self.storage, self.channels),
            observer=self.observer,
            daily_budget=self.config.get("cost.scheduled_daily_budget_usd"),
            resume_hint=f"{invocation()} schedule resume {{id}}")
        self._lifecycle.push_async_callback(scheduler.aclose, self.agent.drain_timeout)
        self.runtime.schedules.on_change = scheduler.wake
        wakes = await listen(getattr(self.storage, "path", self.config.data_dir), scheduler.wake)
        if wakes is not None:
            self._lifecycle.callback(wakes.close)
        return scheduler

    async def _start_scheduler(self):
        await self.scheduler.start()
        log.info("scheduler: started")

    def _create(self, name, **services):
        """Create plugin ``name`` through the registry; its shutdown joins the lifecycle."""
        adapter = self._lifecycle.adapter(name, self.registry.create(name, **services))
        self.adapters[name] = adapter
        return adapter

    def _no_channel(self):
        """Why no channel is enabled, and the one thing this build can do about it."""
        from blufio.hints import command

        message = "no channel is enabled, so nothing would reach the agent"
        in_build = [info for info in self.registry.plugins() if info.adapter_type == "channel"]
        for info in in_build:
            if info.state == NOT_CONFIGURED:
                return f"{message}; {info.name}: {info.reason}"
        if in_build:
            names = " or ".join(info.name for info in in_build)
            return f"{message}; enable one with '{command('plugin install ' + in_build[0].name)}' ({names})"
        return (f"{message}, and this build has none; rebuild with one: "
                f"{self.registry.rebuild_command('gateway')}")

    def _report_states(self):
        from blufio.exposure import exposure_warnings

        for info in self.registry.plugins():
            if info.state == DISABLED:
                log.info("%s: disabled in [plugins]", info.name)
            elif info.state != ENABLED:
                log.warning("%s: %s: %s", info.name, info.state, info.reason)
        enabled = [info.name for info in self.registry.enabled()]
        for warning in exposure_warnings(self.config, enabled):
            log.warning("%s", warning)

    async def _resume(self, entries):
        """Answer ``entries``, what a crash left unanswered on these channels (a shell's own
        messages wait for the next shell)."""
        from blufio.scheduler.engine import CHANNEL

        async def deliver(inbound, events):
            if inbound.channel == CHANNEL:
                await self.scheduler.deliver(inbound, events)
            else:
                await self.channels[inbound.channel].deliver(inbound, events)

        listed = self._start_scheduler if self.scheduler is not None else None
        try:
            count = await self.agent.resume_unfinished(deliver, listed=listed, entries=entries)
        except Exception:
            if self.scheduler is not None and self.scheduler.started_at is None:
                await self._start_scheduler()  # failed before choosing: schedules run on
            raise
        if count:
            log.info("answered %d message(s) left unanswered by the last run", count)

    def gateway(self):
        """The started channel that serves HTTP (it has a ``url``), or None."""
        return next((c for c in self.channels.values() if getattr(c, "url", None)), None)

    async def stop(self):
        """Stop everything started, in reverse order, each exactly once; safe to call twice."""
        await self._lifecycle.aclose()
        self.channels.clear()
        self.adapters.clear()
        self.runtime = None

    async def run(self, ready=None):
        """Start, call ``ready(service)``, serve until SIGINT or SIGTERM, then stop.

        SIGHUP stops the same way once the program on disk is checked, with ``reexec`` set:
        the caller then runs it again (``blufio.upgrade.reexec``)."""
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        if self.worker is None:
            loop.add_signal_handler(signal.SIGHUP, self._reload_requested, stop)
        else:  # the supervisor reloads; a worker drains once its supervisor is gone
            loop.add_signal_handler(signal.SIGHUP, lambda: None)
            loop.add_reader(self.worker.parent_fd, self._orphaned, stop)
        try:
            await self.start()
            if ready is not None:
                ready(self)
            await stop.wait()
            log.info("%s: draining requests and turns in flight",
                     "reloading" if self.reexec else "shutting down")
        finally:
            await self.stop()
            for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                loop.remove_signal_handler(signum)
            if self.worker is not None:
                loop.remove_reader(self.worker.parent_fd)

    def _orphaned(self, stop):
        """The supervisor is gone (its pipe reads end of file): drain and exit."""
        asyncio.get_running_loop().remove_reader(self.worker.parent_fd)
        log.warning("the supervising serve is gone; draining")
        stop.set()

    def _reload_requested(self, stop):
        self.tasks.spawn(self._reload(stop), name="reload")

    async def _reload(self, stop):
        """Re-execute only a program that runs: a broken file on disk keeps this one serving."""
        from blufio import upgrade

        if await asyncio.to_thread(upgrade.reload_refused):
            return
        self.reexec = True
        stop.set()


def _shares_socket(info):
    """Whether channel ``info`` serves the listening socket that workers share (HTTP), so
    every worker may run it."""
    manifest = info.manifest
    return manifest is not None and "http" in manifest.capabilities
