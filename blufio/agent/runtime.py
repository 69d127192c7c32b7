"""Start the agent's adapters in one place: ``open_runtime(config)``.

It asks the plugin registry for the enabled storage and provider plugins (and the embedding
plugin, when one is enabled and memory is on), creates them through ``registry.create``,
opens the storage, and builds an ``Agent`` from the configuration. Commands (``shell``, ``serve``) use it as an async context manager, which
drains the agent and shuts everything down in reverse order, exactly once::

    async with await open_runtime(config) as runtime:
        runtime.agent, runtime.storage, runtime.provider
"""

from blufio.lifecycle import Lifecycle


class Runtime:
    """The running storage, provider and agent of one process."""

    def __init__(self, config, registry, observer):
        self.config = config
        self.registry = registry
        self.observer = observer
        self.storage = None
        self.embedder = None
        self.provider = None
        self.agent = None
        self.adapters = {}  # plugin name -> adapter, in start order
        self._lifecycle = Lifecycle()

    async def _start(self, require_provider_key):
        from blufio.agent.loop import Agent

        registry, stack = self.registry, self._lifecycle
        provider_info = _provider_info(registry)
        # A provider only missing its key is created either way; its own check says which
        # key to set, in the words its users know.
        self.provider = registry.create(provider_info.name, observer=self.observer,
                                        allow_not_configured=True)
        check = getattr(self.provider, "check_configured", None)
        if require_provider_key and check is not None:
            check()  # before anything is opened or created
        stack.adapter(provider_info.name, self.provider)
        storage_info = registry.require("storage")
        self.storage = registry.create(storage_info.name, observer=self.observer)
        stack.adapter(storage_info.name, self.storage)
        await self.storage.open()
        self.adapters = {storage_info.name: self.storage, provider_info.name: self.provider}
        embedding = registry.enabled("embedding")
        if embedding and self.config.get("memory.enabled"):
            self.embedder = registry.create(embedding[0].name, observer=self.observer)
            self.adapters[embedding[0].name] = stack.adapter(embedding[0].name, self.embedder)
        self.agent = Agent.from_config(self.config, provider=self.provider,
                                       storage=self.storage, observer=self.observer,
                                       embedder=self.embedder)
        stack.push_async_callback(self.agent.aclose)  # drains turns before the rest closes
        if self.agent.memory is not None:
            self.agent.memory.poke()  # vectors still owed (e.g. after switching model)

    async def aclose(self):
        """Drain the agent, then shut the storage and the provider down; safe to call twice."""
        await self._lifecycle.aclose()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.aclose()


async def open_runtime(config, *, observer=None, registry=None, require_provider_key=True):
    """Create and open the storage and provider plugins and the agent over them.

    A provider that is only missing its key (``not-configured``) is refused with its one-line
    reason, unless ``require_provider_key`` is False (``serve``): then it is started anyway,
    and each turn fails with the error that names the key.
    """
    from blufio.observability import NullObserver
    from blufio.registry import PluginRegistry

    runtime = Runtime(config, registry or PluginRegistry(config), observer or NullObserver())
    try:
        await runtime._start(require_provider_key)
    except BaseException:
        await runtime.aclose()
        raise
    return runtime


def _provider_info(registry):
    """The enabled provider, else one that only lacks a required key; else the registry's
    error saying why there is none."""
    from blufio.registry import NOT_CONFIGURED

    enabled = registry.enabled("provider")
    if enabled:
        return enabled[0]
    waiting = [p for p in registry.plugins()
               if p.adapter_type == "provider" and p.state == NOT_CONFIGURED]
    return waiting[0] if waiting else registry.require("provider")
