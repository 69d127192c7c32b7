"""Configuration: discovery, layering order, and strict validation."""

import os

import pytest

from blufio.config import find_config_file, load_config
from blufio.errors import ConfigError


def write(path, text):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return str(path)


class FakeVault:
    def __init__(self, secrets):
        self.secrets = secrets

    def names(self):
        return list(self.secrets)

    def get(self, name):
        return self.secrets.get(name)


def test_the_file_is_found_flag_first_then_variable_then_cwd_then_xdg(isolated_env, monkeypatch):
    xdg = write(isolated_env / "home" / ".config" / "blufio" / "blufio.toml", "")
    assert find_config_file() == (xdg, False)
    local = write("blufio.toml", "")
    assert find_config_file() == (os.path.abspath(local), False)
    monkeypatch.setenv("BLUFIO_CONFIG", "/elsewhere/b.toml")
    assert find_config_file() == ("/elsewhere/b.toml", True)
    assert find_config_file("/flag/c.toml") == ("/flag/c.toml", True)


def test_defaults_apply_with_no_file():
    config = load_config()
    assert config.get("gateway.host") == "127.0.0.1"
    assert config.get("gateway.port") == 8420
    assert config.source("gateway.port") == "default"
    assert config.get("cost.daily_budget_usd") is None
    assert config.get("plugins.telegram") is True


def test_layers_apply_defaults_vault_file_environment_in_that_order(monkeypatch):
    write("blufio.toml", '[anthropic]\napi_key = "from-file"\n[gateway]\nport = 9001\n')
    vault = FakeVault({"anthropic.api_key": "from-vault", "gateway.bearer_token": "tok-vault"})
    config = load_config(vault=vault)
    assert config.get("gateway.bearer_token") == "tok-vault"
    assert config.source("gateway.bearer_token") == "vault"
    assert config.get("anthropic.api_key") == "from-file"  # the file beats the vault

    monkeypatch.setenv("ANTHROPIC_API_KEY", "from-env")
    monkeypatch.setenv("BLUFIO_GATEWAY__PORT", "9000")
    config = load_config(vault=vault)
    assert config.get("anthropic.api_key") == "from-env"
    assert config.get("gateway.port") == 9000
    assert config.source("gateway.port") == "BLUFIO_GATEWAY__PORT"


def test_blufio_variables_beat_the_conventional_ones(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://conventional")
    monkeypatch.setenv("BLUFIO_ANTHROPIC__BASE_URL", "http://blufio")
    assert load_config().get("anthropic.base_url") == "http://blufio"


def test_environment_values_are_read_as_toml_scalars(monkeypatch):
    monkeypatch.setenv("BLUFIO_TELEGRAM__ALLOWED_USERS", "[1, 2]")
    monkeypatch.setenv("BLUFIO_PROMETHEUS__PUBLIC", "true")
    monkeypatch.setenv("BLUFIO_AGENT__MODEL", "123")  # a string key keeps the raw text
    monkeypatch.setenv("BLUFIO_COST__DAILY_BUDGET_USD", "1")
    config = load_config()
    assert config.get("telegram.allowed_users") == [1, 2]
    assert config.get("prometheus.public") is True
    assert config.get("agent.model") == "123"
    assert config.get("cost.daily_budget_usd") == 1.0


@pytest.mark.parametrize("text, message", [
    ("[gatway]\nport = 1\n", r"unknown section \[gatway\] \(did you mean 'gateway'\?\)"),
    ("[gateway]\nprot = 1\n", r"\[gateway\] unknown key 'prot' \(did you mean 'port'\?\)"),
    ("[gateway]\nport = \"80\"\n", r"'gateway.port' must be an integer, got \"80\""),
    ("[telegram]\nallowed_users = [\"bob\"]\n", r"must be a list of integers"),
    ("[plugins]\ntelegarm = false\n", r"'telegarm' is not a plugin \(did you mean 'telegram'\?\)"),
    ("gateway = 1\n", r"'gateway' must be a table"),
    ("[gateway\n", r"not valid TOML"),
])
def test_mistakes_in_the_file_name_the_file_and_the_key(text, message):
    path = write("blufio.toml", text)
    with pytest.raises(ConfigError, match=message) as caught:
        load_config()
    assert str(caught.value).startswith(os.path.abspath(path))


def test_a_typo_in_an_environment_variable_is_an_error(monkeypatch):
    monkeypatch.setenv("BLUFIO_GATEWAY__PROT", "1")
    with pytest.raises(ConfigError, match="BLUFIO_GATEWAY__PROT.*did you mean 'port'"):
        load_config()


def test_a_wrong_type_in_the_environment_names_the_variable(monkeypatch):
    monkeypatch.setenv("BLUFIO_GATEWAY__PORT", "eighty")
    with pytest.raises(ConfigError, match="BLUFIO_GATEWAY__PORT: 'gateway.port' must be an integer"):
        load_config()


def test_a_named_file_that_does_not_exist_is_an_error():
    with pytest.raises(ConfigError, match="configuration file not found"):
        load_config("missing.toml")


def test_a_file_that_is_not_text_is_an_error():
    with open("blufio.toml", "wb") as f:
        f.write(b"[agent]\nmodel = \"\xff\"\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config()


def test_a_secret_in_clear_in_the_file_is_warned_about():
    write("blufio.toml", '[telegram]\nbot_token = "123:abc"\n')
    config = load_config()
    assert any("telegram.bot_token" in w and "set-secret" in w for w in config.warnings)


def test_secret_values_are_listed_for_log_scrubbing(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-live")
    assert load_config().secret_values() == ["sk-live"]
