"""Every plugin of the build keeps the contract of its kind (``blufio/contracts.py``).

The plugins are read from the catalog (a checkout has the code of every one, in the default
bundle or not), so a plugin is checked here the day it is added: its class matches its
Protocol, its identity agrees with its ``plugin.toml`` and the catalog, and its
``health_check``/``shutdown`` behave before, during and after use.
"""

import pytest

from blufio import build_record
from blufio.contracts import CONTRACTS, contract_problems
from blufio.errors import PluginError
from blufio.manifest import ADAPTER_TYPES, load_manifest
from blufio.observability import NullObserver
from blufio.registry import PluginRegistry
from tests.fakes.config import make_config

PLUGINS = [entry["name"] for entry in build_record.catalog()["plugins"]]
# Beyond the default bundle: the build the registry describes has them too.
EXTRA = [name for name in PLUGINS if name not in build_record.current()["features"]]
HEALTH_STATES = {"ok", "degraded", "down"}
# What makes every plugin of the default bundle enabled (its required keys), nothing more.
REQUIRED = {"TELEGRAM_BOT_TOKEN": "123:abc", "ANTHROPIC_API_KEY": "sk-test",
            "BLUFIO_GATEWAY__PORT": "0", "BLUFIO_EMBEDDINGS__BASE_URL": "http://127.0.0.1:9/v1"}


@pytest.fixture
def registry(tmp_path, monkeypatch):
    monkeypatch.setenv("BLUFIO_DATA_DIR", str(tmp_path / "data"))
    config = make_config(tmp_path, environ={**REQUIRED, "BLUFIO_DATA_DIR": str(tmp_path / "data")},
                         features=EXTRA)
    return PluginRegistry(config, build={**build_record.current(), "features": PLUGINS})


@pytest.fixture
async def adapter_of(registry, storage):
    """``adapter_of(name)``: the plugin created through the registry with the services
    ``serve`` gives it; every adapter made is shut down at the end."""
    made = []

    def create(name):
        adapter = registry.create(name, storage=storage, observer=NullObserver(), auth=[],
                                  plugins={})
        made.append(adapter)
        return adapter

    yield create
    for adapter in made:
        await adapter.shutdown()


def identity_problems(cls, manifest, catalog_entry):
    """Where a plugin's class or catalog entry disagrees with its manifest."""
    problems = [f"{field} is {getattr(cls, field)!r} in the class but {getattr(manifest, field)!r}"
                f" in plugin.toml" for field in ("name", "version", "adapter_type")
                if getattr(cls, field) != getattr(manifest, field)]
    for field, in_manifest in (("adapter_type", manifest.adapter_type),
                               ("description", manifest.description),
                               ("capabilities", manifest.capabilities)):
        if catalog_entry.get(field) != in_manifest:
            problems.append(f"{field} is {catalog_entry.get(field)!r} in catalog.json but "
                            f"{in_manifest!r} in plugin.toml")
    return problems


def test_every_kind_has_a_contract():
    assert set(CONTRACTS) == set(ADAPTER_TYPES)


@pytest.mark.parametrize("name", PLUGINS)
def test_the_manifest_is_the_one_source_of_a_plugins_identity(registry, name):
    info = registry.get(name)
    assert identity_problems(registry.adapter_class(name), load_manifest(name),
                             registry.catalog_entry(name)) == []
    assert info.adapter_type in CONTRACTS


@pytest.mark.parametrize("name", PLUGINS)
def test_a_class_or_catalog_that_disagrees_with_its_manifest_is_caught(registry, name,
                                                                       monkeypatch):
    cls = registry.adapter_class(name)
    monkeypatch.setattr(cls, "version", "9.9.9")
    entry = {**registry.catalog_entry(name), "capabilities": ["something-else"]}
    problems = identity_problems(cls, load_manifest(name), entry)
    assert any(p.startswith("version is '9.9.9' in the class") for p in problems)
    assert any(p.startswith("capabilities is ['something-else'] in catalog.json") for p in problems)


@pytest.mark.parametrize("name", PLUGINS)
async def test_the_adapter_keeps_the_contract_of_its_kind(registry, adapter_of, name):
    adapter = adapter_of(name)
    adapter_type = registry.get(name).adapter_type
    assert contract_problems(adapter, adapter_type) == []
    assert isinstance(adapter, CONTRACTS[adapter_type])


@pytest.mark.parametrize("name", PLUGINS)
async def test_health_check_never_raises_and_shutdown_is_safe_twice(adapter_of, name):
    adapter = adapter_of(name)
    before = await adapter.health_check()
    assert before["status"] in HEALTH_STATES and isinstance(before.get("detail", ""), str)
    await adapter.shutdown()
    await adapter.shutdown()
    after = await adapter.health_check()
    assert after["status"] in HEALTH_STATES


async def test_the_registry_refuses_an_adapter_that_breaks_its_contract(registry, monkeypatch):
    cls = registry.adapter_class("telegram")
    monkeypatch.delattr(cls, "deliver")
    with pytest.raises(PluginError, match="does not keep the channel contract.*has no 'deliver'"):
        registry.create("telegram")


async def test_the_registry_refuses_a_method_that_should_be_async(registry, monkeypatch):
    cls = registry.adapter_class("sqlite")
    monkeypatch.setattr(cls, "get_state", lambda self, key: None)
    with pytest.raises(PluginError, match="'get_state' must be async"):
        registry.create("sqlite")
