"""Start the agent's adapters in one place: ``open_runtime(config)``.

It asks the plugin registry for the enabled storage and provider plugins, opens the
storage, and builds an ``Agent`` from the configuration. Commands (``shell``, ``serve``)
use it as an async context manager, which shuts everything down in reverse order::

    async with await open_runtime(config) as runtime:
        runtime.agent, runtime.storage, runtime.provider
"""

from blufio.errors import ConfigError


class Runtime:
    """The running storage, provider and agent of one process."""

    def __init__(self, config, registry, storage, provider, agent, observer):
        self.config = config
        self.registry = registry
        self.storage = storage
        self.provider = provider
        self.agent = agent
        self.observer = observer

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


async def open_runtime(config, *, observer=None, registry=None):
    """Create and open the storage and provider plugins and the agent over them."""
    from blufio.agent.loop import Agent
    from blufio.observability import NullObserver
    from blufio.registry import NOT_CONFIGURED, PluginRegistry

    registry = registry or PluginRegistry(config)
    observer = observer or NullObserver()
    if not registry.enabled("provider"):
        unset = [p for p in registry.plugins() if p.kind == "provider" and p.state == NOT_CONFIGURED]
        if unset and unset[0].name == "anthropic":
            from blufio.plugins.anthropic.provider import MISSING_KEY

            raise ConfigError(MISSING_KEY)
    provider_info = registry.require("provider")
    storage_info = registry.require("storage")
    storage = registry.create(storage_info.name, observer=observer)
    await storage.open()
    try:
        provider = registry.create(provider_info.name, observer=observer)
        check = getattr(provider, "check_configured", None)
        if check is not None:
            check()
        agent = Agent.from_config(config, provider=provider, storage=storage, observer=observer)
    except BaseException:
        await storage.shutdown()
        raise
    return Runtime(config, registry, storage, provider, agent, observer)
