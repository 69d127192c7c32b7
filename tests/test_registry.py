"""The plugin registry: manifests, states, aliases and lazy adapter loading."""

import sys

import pytest

import blufio
from blufio import build_record, manifest as manifest_module
from blufio.config import load_config
from blufio.errors import PluginError, UsageError
from blufio.manifest import ManifestError, incompatibility, load_manifest, parse_manifest
from blufio.registry import PluginRegistry

GOOD = """
name = "demo"
version = "1.0.0"
description = "A demo"
adapter_type = "channel"
capabilities = ["send"]
min_blufio_version = "0.1.0"
entry_point = "demo.module:DemoChannel"

[config.token]
type = "string"
required = true
secret = true
"""


def _patch_manifest(monkeypatch, plugin, old, new):
    """Make the built-in ``plugin``'s manifest read with ``old`` replaced by ``new``."""
    real = manifest_module.read_package_file

    def read(*parts):
        text = real(*parts)
        return text.replace(old, new) if parts[1] == plugin else text

    monkeypatch.setattr(manifest_module, "read_package_file", read)


def test_manifest_parses_with_config_keys():
    manifest = parse_manifest(GOOD, "demo/plugin.toml")
    assert manifest.entry_point == "demo.module:DemoChannel"
    assert manifest.config["token"].required and manifest.config["token"].secret
    assert manifest.config_section == "demo"


@pytest.mark.parametrize("old, new, field", [
    ('adapter_type = "channel"', 'adapter_type = "chanel"', "adapter_type"),
    ('entry_point = "demo.module:DemoChannel"', 'entry_point = "demo.module"', "entry_point"),
    ('capabilities = ["send"]', 'capabilities = "send"', "capabilities"),
    ('version = "1.0.0"\n', "", "version"),
    ('type = "string"', 'type = "text"', "config.token.type"),
])
def test_bad_manifest_names_file_and_field(old, new, field):
    with pytest.raises(ManifestError) as caught:
        parse_manifest(GOOD.replace(old, new), "demo/plugin.toml")
    assert str(caught.value).startswith(f"demo/plugin.toml: field '{field}'")


def test_manifest_that_is_not_toml():
    with pytest.raises(ManifestError, match="demo/plugin.toml: not valid TOML"):
        parse_manifest("name = ", "demo/plugin.toml")


def test_incompatibility_compares_real_versions():
    manifest = parse_manifest(GOOD, "demo/plugin.toml")
    assert incompatibility(manifest, "0.1.0") is None
    manifest.min_blufio_version = "0.10.0"
    assert "needs Blufio 0.10.0 or newer (this is 0.9.0)" == incompatibility(manifest, "0.9.0")
    manifest.min_blufio_version = "0.1"
    assert incompatibility(manifest, "0.1.0") is None


def test_builtin_manifests_parse():
    for name in build_record.source_build()["features"]:
        assert load_manifest(name).name == name


def test_source_checkout_is_the_default_bundle(config):
    registry = PluginRegistry(config)
    assert [p.name for p in registry.plugins()] == [
        "telegram", "anthropic", "sqlite", "gateway", "prometheus", "keypair", "mcp",
        "embeddings"]
    assert registry.build["target"] == "source"


def test_states_of_a_fresh_user(config):
    states = {p.name: p.state for p in PluginRegistry(config).plugins()}
    assert states == {"telegram": "not-configured", "anthropic": "not-configured",
                      "sqlite": "enabled", "gateway": "enabled", "prometheus": "enabled",
                      "keypair": "enabled", "mcp": "enabled", "embeddings": "not-configured"}


def test_required_key_from_env_file_or_switch(monkeypatch, tmp_path):
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:abc")
    path = tmp_path / "b.toml"
    path.write_text('[anthropic]\napi_key = "sk-x"\n[plugins]\ngateway = false\n')
    monkeypatch.setenv("BLUFIO_PLUGINS__PROMETHEUS", "false")
    registry = PluginRegistry(load_config(str(path)))
    states = {p.name: p.state for p in registry.plugins()}
    assert states["telegram"] == "enabled"
    assert states["anthropic"] == "enabled"
    assert states["gateway"] == "disabled"
    assert states["prometheus"] == "disabled"
    assert [p.name for p in registry.enabled("channel")] == ["telegram"]


def test_required_key_from_vault(tmp_path):
    class FakeVault:
        def names(self):
            return ["telegram.bot_token"]

    registry = PluginRegistry(load_config(vault=FakeVault()))
    assert registry.get("telegram").state == "enabled"


def test_not_configured_reason_names_key_and_fix(config):
    reason = PluginRegistry(config).get("telegram").reason
    assert "telegram.bot_token" in reason
    assert "blufio config set-secret telegram.bot_token" in reason
    assert "TELEGRAM_BOT_TOKEN" in reason


def test_newer_min_version_is_incompatible_and_others_carry_on(monkeypatch):
    _patch_manifest(monkeypatch, "telegram", 'min_blufio_version = "0.1.0"',
                    'min_blufio_version = "99.0"')
    registry = PluginRegistry(load_config())
    telegram = registry.get("telegram")
    assert telegram.state == "incompatible"
    assert telegram.reason == f"needs Blufio 99.0 or newer (this is {blufio.__version__})"
    assert registry.get("sqlite").state == "enabled"
    with pytest.raises(PluginError, match="incompatible"):
        registry.create("telegram")


def test_broken_manifest_is_incompatible_with_file_and_field(monkeypatch):
    _patch_manifest(monkeypatch, "keypair", 'adapter_type = "auth"', 'adapter_type = "nope"')
    registry = PluginRegistry(load_config())
    keypair = registry.get("keypair")
    assert keypair.state == "incompatible"
    assert "plugins/keypair/plugin.toml: field 'adapter_type'" in keypair.reason
    assert registry.get("gateway").state == "enabled"


def test_frozen_build_limits_the_plugins(config):
    build = dict(build_record.source_build(), features=["gateway", "anthropic", "sqlite"])
    registry = PluginRegistry(config, build=build)
    assert [p.name for p in registry.plugins()] == ["gateway", "anthropic", "sqlite"]
    assert not registry.in_build("prometheus")
    with pytest.raises(PluginError, match="not in this build; rebuild with: python3 "
                       "build_zipapp.py --no-default-features --features "
                       "anthropic,sqlite,gateway,prometheus -o blufio.pyz"):
        registry.get("prometheus")
    with pytest.raises(PluginError, match="this build has no observability"):
        registry.require("observability")


def test_aliases_and_unknown_names(config):
    registry = PluginRegistry(config)
    assert registry.resolve("api") == "gateway"
    assert registry.resolve("Telegram") == "telegram"
    with pytest.raises(UsageError, match="did you mean 'telegram'"):
        registry.resolve("telegrm")


def test_no_adapter_code_is_imported_until_created(config, monkeypatch):
    before = set(sys.modules)
    registry = PluginRegistry(config)
    registry.plugins()
    assert not [m for m in set(sys.modules) - before if m.startswith("blufio.plugins.")]

    from blufio.plugins.sqlite.storage import SqliteStorage

    class FakeStorage(SqliteStorage):  # keeps the storage contract; records how it was made
        def __init__(self, config, **deps):
            self.config, self.deps = config, deps

    import types

    module = types.ModuleType("blufio_test_fake_storage")
    module.FakeStorage = FakeStorage
    monkeypatch.setitem(sys.modules, "blufio_test_fake_storage", module)
    monkeypatch.setattr(registry.get("sqlite").manifest, "entry_point",
                        "blufio_test_fake_storage:FakeStorage")
    adapter = registry.create("sqlite", observer="obs")
    assert adapter.config is config and adapter.deps == {"observer": "obs"}
    assert registry.require("storage").name == "sqlite"


def test_create_refuses_a_plugin_that_is_not_enabled(config):
    with pytest.raises(PluginError, match="not-configured: telegram.bot_token is not set"):
        PluginRegistry(config).create("telegram")
