"""Start the agent's adapters in one place: ``open_runtime(config)``.

It asks the plugin registry for the enabled storage and provider plugins, opens the
storage, and builds an ``Agent`` from the configuration. Commands (``shell``, ``serve``)
use it as an async context manager, which shuts everything down in reverse order::

    async with await open_runtime(config) as runtime:
        runtime.agent, runtime.storage, runtime.provider
"""


class Runtime:
    """The running storage, provider and agent of one process."""

    def __init__(self, config, registry, storage, provider, agent, observer):
        self.config = config
        self.registry = registry
        self.storage = storage
        self.provider = provider
        self.agent = agent
        self.observer = observer
        self.adapters = {storage.name: storage, provider.name: provider}  # plugin name -> adapter

    async def aclose(self):
        """Drain the agent, then shut the provider and the storage down."""
        try:
            await self.agent.aclose()
        finally:
            try:
                await self.provider.shutdown()
            finally:
                await self.storage.shutdown()

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
    from blufio.agent.loop import Agent
    from blufio.observability import NullObserver
    from blufio.registry import PluginRegistry

    registry = registry or PluginRegistry(config)
    observer = observer or NullObserver()
    provider_info = _provider_info(registry)
    provider = registry.adapter_class(provider_info.name)(config, observer=observer)
    check = getattr(provider, "check_configured", None)
    if require_provider_key and check is not None:
        check()  # before anything is opened or created
    storage_info = registry.require("storage")
    storage = registry.create(storage_info.name, observer=observer)
    await storage.open()
    try:
        agent = Agent.from_config(config, provider=provider, storage=storage, observer=observer)
    except BaseException:
        await storage.shutdown()
        raise
    runtime = Runtime(config, registry, storage, provider, agent, observer)
    runtime.adapters = {storage_info.name: storage, provider_info.name: provider}
    return runtime


def _provider_info(registry):
    """The enabled provider, else one that only lacks a required key; else the registry's
    error saying why there is none."""
    from blufio.registry import NOT_CONFIGURED

    enabled = registry.enabled("provider")
    if enabled:
        return enabled[0]
    waiting = [p for p in registry.plugins() if p.kind == "provider" and p.state == NOT_CONFIGURED]
    return waiting[0] if waiting else registry.require("provider")
