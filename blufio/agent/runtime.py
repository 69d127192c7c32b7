"""Start the agent's adapters in one place: ``open_runtime(config)``.

It asks the plugin registry for the enabled storage and provider plugins (and the embedding
plugin, when one is enabled and memory is on), creates them through ``registry.create``,
opens the storage, starts the enabled skill runtimes (whose tools join the agent's tool
registry), and builds an ``Agent`` from the configuration, with the schedule tools over a
``ScheduleBook``. The agent thinks through a ``ProviderChain``: ``[agent] provider``
(default: the only provider enabled, else anthropic) then each of ``[agent] fallback``, with a
circuit breaker each (``breaker_failures`` in ``breaker_window`` seconds,
``breaker_cooldown``). Commands (``shell``, ``serve``) use it as an async context manager,
which drains the agent and shuts everything down in reverse order, exactly once::

    async with await open_runtime(config) as runtime:
        runtime.agent, runtime.storage, runtime.provider
"""

from blufio.errors import BlufioError, ConfigError
from blufio.lifecycle import Lifecycle
from blufio.registry import ENABLED, NOT_CONFIGURED


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
        self.schedules = None  # the ScheduleBook the agent's tools (and serve) use
        self.adapters = {}  # plugin name -> adapter, in start order
        self._lifecycle = Lifecycle()

    async def _start(self, require_provider_key):
        from blufio.agent.loop import Agent
        from blufio.scheduler import tools as schedule_tools
        from blufio.scheduler.book import book_from_config

        registry, stack = self.registry, self._lifecycle
        providers = {}
        for position, name in enumerate(_provider_names(self.config, registry)):
            # The main provider only missing its key is created either way; its own check
            # says which key to set, in the words its users know.
            provider = registry.create(name, observer=self.observer,
                                       allow_not_configured=position == 0)
            stack.adapter(name, provider)
            check = getattr(provider, "check_configured", None)
            if (require_provider_key or position > 0) and check is not None:
                check()  # before anything is opened or created
            providers[name] = provider
        self.provider = _chain(self.config, providers, self.observer)
        storage_info = registry.require("storage")
        self.storage = registry.create(storage_info.name, observer=self.observer)
        stack.adapter(storage_info.name, self.storage)
        await self.storage.open()
        self.adapters = {storage_info.name: self.storage, **providers}
        embedding = registry.enabled("embedding")
        if embedding and self.config.get("memory.enabled"):
            self.embedder = registry.create(embedding[0].name, observer=self.observer)
            self.adapters[embedding[0].name] = stack.adapter(embedding[0].name, self.embedder)
        skills = await self._start_skills()
        self.agent = Agent.from_config(self.config, provider=self.provider,
                                       storage=self.storage, observer=self.observer,
                                       embedder=self.embedder)
        for runtime in skills:
            self.agent.tools.add_runtime(runtime)
        stack.push_async_callback(self.agent.aclose)  # drains turns before the rest closes
        self.schedules = book_from_config(self.config, self.storage)
        schedule_tools.register(self.agent.tools, self.schedules)
        if self.agent.memory is not None:
            self.agent.memory.poke()  # vectors still owed (e.g. after switching model)

    async def _start_skills(self):
        """Create and start the enabled skill runtimes (their servers start in the
        background: a slow one never delays the agent)."""
        started = []
        for info in self.registry.enabled("skill_runtime"):
            runtime = self._lifecycle.adapter(
                info.name, self.registry.create(info.name, observer=self.observer))
            await runtime.start()
            self.adapters[info.name] = runtime
            started.append(runtime)
        return started

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


def unpriced_models(config, registry):
    """``[(provider, model)]`` for the models the agent would use that have no price, built
    in or in ``[cost.prices]`` (``config validate`` names them); reads no adapter state."""
    from blufio.agent.cost import has_price, price_table

    found = []
    for position, name in enumerate(_provider_names(config, registry)):
        cls = registry.adapter_class(name)
        model = (config.get("agent.model") if position == 0 else "") \
            or _default_model(config, registry.get(name))
        if model and not has_price(model, price_table(config, getattr(cls, "prices", {}))):
            found.append((name, model))
    return found


def _default_model(config, info):
    """The provider's ``model`` key (what its ``default_model`` is), if it has one."""
    section = info.manifest.config_section if info.manifest else info.name
    try:
        return config.get(f"{section}.model") or ""
    except ConfigError:
        return ""


def _provider_names(config, registry):
    """The main provider's name, then the fallbacks'; a ConfigError for a name that is not
    a provider of this build, or a fallback that cannot start."""
    main = config.get("agent.provider")
    names = [_provider_info(registry, main).name if main else _default_provider(registry)]
    for name in config.get("agent.fallback") or []:
        info = _provider_info(registry, name, "fallback")
        if info.state != ENABLED:
            raise ConfigError(f"[agent] fallback: the {info.name} plugin is {info.state}"
                              f"{': ' + info.reason if info.reason else ''}")
        if info.name not in names:
            names.append(info.name)
    return names


def _provider_info(registry, name, key="provider"):
    known = [p.name for p in registry.plugins() if p.adapter_type == "provider"]
    try:
        info = registry.get(name)
    except BlufioError:
        info = None
    if info is None or info.adapter_type != "provider":
        raise ConfigError(f"[agent] {key}: '{name}' is not a provider plugin of this build; "
                          f"it has: {', '.join(known) or 'none'}")
    return info


def _default_provider(registry):
    """The only enabled provider, else anthropic when enabled, else the first enabled; with
    none enabled, one that only lacks a required key; else the registry's error."""
    enabled = [p.name for p in registry.enabled("provider")]
    if len(enabled) > 1 and "anthropic" in enabled:
        return "anthropic"
    if enabled:
        return enabled[0]
    waiting = [p for p in registry.plugins()
               if p.adapter_type == "provider" and p.state == NOT_CONFIGURED]
    return waiting[0].name if waiting else registry.require("provider").name


def _chain(config, providers, observer):
    """The ``ProviderChain`` over ``providers`` (main first), each with its breaker."""
    from blufio.agent.fallback import CircuitBreaker, ProviderChain, Route

    routes = []
    for position, (name, provider) in enumerate(providers.items()):
        model = (config.get("agent.model") if position == 0 else "") or provider.default_model
        breaker = CircuitBreaker(config.get("agent.breaker_failures"),
                                 config.get("agent.breaker_window"),
                                 config.get("agent.breaker_cooldown"))
        routes.append(Route(name, provider, model, breaker))
    return ProviderChain(routes, observer)
