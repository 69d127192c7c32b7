"""``blufio config ...`` and the CLI's contract: exit codes, one-line errors, light imports."""

import os
import stat
import subprocess
import sys

import pytest

COMMENTED = """\
# Blufio, my way
[agent]
# which model answers
model = "claude-old"  # pinned for now

[gateway]
port = 8000  # behind nginx
"""


def test_version_prints_the_version_and_the_feature_list(blufio):
    result = blufio("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("blufio 0.1.0\n")
    assert "features: telegram, anthropic, sqlite, gateway, prometheus, keypair" in result.stdout


def test_help_lists_only_commands_that_exist(blufio):
    result = blufio("--help")
    assert result.returncode == 0
    assert "config get KEY" in result.stdout
    assert "not implemented" not in result.stdout.lower()


def test_an_unknown_command_is_a_usage_error(blufio):
    result = blufio("frobnicate")
    assert result.returncode == 2
    assert "unrecognised command line" in result.stderr
    assert "Traceback" not in result.stderr


def test_get_reads_an_environment_override(blufio):
    result = blufio("config", "get", "gateway.port", env={"BLUFIO_GATEWAY__PORT": "9000"})
    assert (result.returncode, result.stdout) == (0, "9000\n")


def test_get_of_an_unknown_key_is_a_config_error_in_one_line(blufio):
    result = blufio("config", "get", "no.such.key")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "unknown section 'no'" in result.stderr


def test_get_of_an_unset_key_says_how_to_set_it(blufio):
    result = blufio("config", "get", "telegram.bot_token")
    assert result.returncode == 1
    assert "config set-secret telegram.bot_token" in result.stderr


def test_validate_names_the_file_and_the_key(blufio):
    with open("blufio.toml", "w") as f:
        f.write("[gatway]\nport = 1\n")
    result = blufio("config", "validate")
    assert result.returncode == 2
    assert os.path.abspath("blufio.toml") in result.stderr and "[gatway]" in result.stderr
    with open("blufio.toml", "w") as f:
        f.write("[gateway]\nprot = 1\n")
    result = blufio("config", "validate")
    assert result.returncode == 2 and "'prot'" in result.stderr and "'port'" in result.stderr
    assert "Traceback" not in result.stderr


def test_debug_adds_the_traceback(blufio):
    with open("blufio.toml", "w") as f:
        f.write("[gatway]\n")
    result = blufio("--debug", "config", "validate")
    assert result.returncode == 2 and "Traceback" in result.stderr


def test_validate_accepts_a_good_file_and_warns_of_secrets_in_clear(blufio):
    with open("blufio.toml", "w") as f:
        f.write('[gateway]\nport = 1\nbearer_token = "abcdef"\n')
    result = blufio("config", "validate")
    assert result.returncode == 0
    assert "configuration OK" in result.stdout
    assert "set-secret gateway.bearer_token" in result.stderr


def test_validate_warns_when_others_may_read_a_file_holding_a_secret_in_clear(blufio):
    with open("blufio.toml", "w") as f:
        f.write('[gateway]\nbearer_token = "abcdef"\n')
    os.chmod("blufio.toml", 0o644)
    result = blufio("config", "validate")
    assert result.returncode == 0
    assert "holds gateway.bearer_token in clear and others may read it (mode 0644)" in result.stderr
    os.chmod("blufio.toml", 0o600)
    assert "others may read it" not in blufio("config", "validate").stderr


def test_set_on_a_readable_file_holding_a_secret_in_clear_makes_it_private(blufio):
    with open("blufio.toml", "w") as f:
        f.write('[gateway]\nbearer_token = "abcdef"\n')
    os.chmod("blufio.toml", 0o644)
    result = blufio("config", "set", "gateway.port", "9100")
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(os.stat("blufio.toml").st_mode) == 0o600
    assert "made it private (mode 0600, was 0644)" in result.stderr


def test_set_leaves_the_mode_of_a_file_without_secrets(blufio):
    with open("blufio.toml", "w") as f:
        f.write("[gateway]\nport = 1\n")
    os.chmod("blufio.toml", 0o644)
    assert blufio("config", "set", "gateway.port", "2").returncode == 0
    assert stat.S_IMODE(os.stat("blufio.toml").st_mode) == 0o644


def test_set_secret_stores_it_encrypted_and_get_masks_it(blufio, data_dir):
    result = blufio("config", "set-secret", "anthropic.api_key", input="sk-test\n")
    assert result.returncode == 0, result.stderr
    assert blufio("config", "get", "anthropic.api_key").stdout == "********\n"
    assert stat.S_IMODE(os.stat(data_dir).st_mode) == 0o700
    for name in os.listdir(data_dir):
        content = (data_dir / name).read_bytes()
        assert b"sk-test" not in content
        assert stat.S_IMODE(os.stat(data_dir / name).st_mode) == 0o600


def test_set_secret_refuses_a_key_that_is_not_secret(blufio):
    result = blufio("config", "set-secret", "gateway.port", input="1\n")
    assert result.returncode == 2 and "not a secret" in result.stderr


def test_set_refuses_a_secret_and_points_at_set_secret(blufio):
    result = blufio("config", "set", "anthropic.api_key", "sk-x")
    assert result.returncode == 2 and "set-secret" in result.stderr
    assert not os.path.exists("blufio.toml")


def test_set_keeps_every_comment_and_the_layout(blufio):
    with open("blufio.toml", "w") as f:
        f.write(COMMENTED)
    result = blufio("config", "set", "agent.model", "X")
    assert result.returncode == 0, result.stderr
    with open("blufio.toml") as f:
        assert f.read() == COMMENTED.replace('"claude-old"', '"X"')


def test_set_with_a_wrong_type_changes_nothing(blufio):
    with open("blufio.toml", "w") as f:
        f.write(COMMENTED)
    result = blufio("config", "set", "gateway.port", "eighty")
    assert result.returncode == 2 and "must be an integer" in result.stderr
    with open("blufio.toml") as f:
        assert f.read() == COMMENTED


def test_set_creates_the_user_file_when_there_is_none(blufio, isolated_env):
    result = blufio("config", "set", "gateway.port", "9100")
    assert result.returncode == 0, result.stderr
    created = isolated_env / "home" / ".config" / "blufio" / "blufio.toml"
    assert created.read_text() == "[gateway]\nport = 9100\n"
    assert blufio("config", "get", "gateway.port").stdout == "9100\n"
    assert blufio("config", "path").stdout == f"{created}\n"


@pytest.mark.slow  # runs the CLI as a process
def test_light_commands_import_nothing_heavy(repo_root):
    heavy = ["quart", "hypercorn", "httpx", "aiosqlite", "nacl", "prometheus_client"]
    check = (
        "import sys\n"
        "from blufio.cli import main\n"
        "for argv in (['--version'], ['config', 'get', 'gateway.port']):\n"
        "    main(argv)\n"
        f"loaded = [m for m in {heavy!r} if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True,
                            env=dict(os.environ, PYTHONPATH=repo_root))
    assert result.returncode == 0, result.stderr


def test_get_of_the_empty_model_prints_the_one_the_agent_uses(blufio):
    result = blufio("config", "get", "agent.model")
    assert result.returncode == 0
    assert result.stdout == "claude-sonnet-4-5\n"
    assert "anthropic.model is used" in result.stderr


def test_set_with_an_explicit_config_that_does_not_exist_yet_creates_it(blufio, isolated_env):
    named = isolated_env / "home" / "my.toml"
    result = blufio("--config", str(named), "config", "set", "gateway.port", "9100")
    assert result.returncode == 0, result.stderr
    assert named.read_text() == "[gateway]\nport = 9100\n"
    assert stat.S_IMODE(os.stat(named).st_mode) == 0o600
    # other commands still refuse a named file that is missing
    missing = blufio("--config", str(isolated_env / "nope.toml"), "config", "validate")
    assert missing.returncode == 2 and "configuration file not found" in missing.stderr


def test_set_without_a_writable_config_directory_names_that_directory(blufio, isolated_env):
    blocked = isolated_env / "not-a-directory"  # unwritable even for root
    blocked.write_text("")
    result = blufio("config", "set", "gateway.port", "9100",
                    env={"XDG_CONFIG_HOME": str(blocked)})
    assert result.returncode == 1
    assert f"cannot create the configuration directory {blocked}/blufio" in result.stderr
    assert "data directory" not in result.stderr and "BLUFIO_DATA_DIR" not in result.stderr
    assert "--config" in result.stderr


def test_validate_names_models_with_no_price_and_checks_price_tables(blufio, tmp_path):
    path = tmp_path / "priced.toml"
    path.write_text('[agent]\nmodel = "llama3.2"\n[anthropic]\nbase_url = "http://127.0.0.1:9"\n'
                    'api_key = ""\n')
    result = blufio("--config", str(path), "config", "validate")
    assert result.returncode == 0
    assert "no price for model 'llama3.2' (provider anthropic)" in result.stderr
    assert '[cost.prices."llama3.2"]' in result.stderr
    path.write_text(path.read_text() + '[cost.prices."llama3.2"]\ninput = 0\noutput = 0\n')
    result = blufio("--config", str(path), "config", "validate")
    assert result.returncode == 0 and "no price" not in result.stderr
    path.write_text(path.read_text() + '[cost.prices."other"]\ninptu = 1\n')
    result = blufio("--config", str(path), "config", "validate")
    assert result.returncode == 2
    assert "unknown key 'inptu' (did you mean 'input'?)" in result.stderr


def test_validate_refuses_a_provider_that_is_not_one(blufio, tmp_path):
    path = tmp_path / "provider.toml"
    path.write_text('[agent]\nfallback = ["telegram"]\n')
    result = blufio("--config", str(path), "config", "validate")
    assert result.returncode == 2
    assert "[agent] fallback: 'telegram' is not a provider plugin of this build" in result.stderr
