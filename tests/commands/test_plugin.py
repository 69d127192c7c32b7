"""``blufio plugin ...`` through the real command line (source checkout)."""

import json
import os
import shutil

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

CONFIG = """\
# my Blufio configuration
[gateway]
port = 9000  # the port I like

# which plugins run
[plugins]
prometheus = true  # keep metrics
"""


def _rows(stdout):
    lines = stdout.splitlines()
    return {line.split()[0]: line.split()[2] for line in lines[1:] if line and
            not line.endswith("listed.")}


def test_list_shows_every_plugin_with_state(blufio):
    result = blufio("plugin", "list")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["NAME", "TYPE", "STATE", "VERSION", "DESCRIPTION"]
    assert lines[-1] == "8 plugins listed."
    assert _rows(result.stdout) == {
        "telegram": "not-configured", "anthropic": "not-configured", "sqlite": "enabled",
        "gateway": "enabled", "prometheus": "enabled", "keypair": "enabled", "mcp": "enabled",
        "embeddings": "not-configured"}
    telegram = next(line for line in lines if line.startswith("telegram"))
    assert "telegram.bot_token is not set" in telegram
    # columns are aligned: STATE starts at the same offset on every row
    offset = lines[0].index("STATE")
    assert all(line[offset - 2:offset] == "  " for line in lines[1:8])


def test_list_json(blufio):
    result = blufio("plugin", "list", "--json", env={"TELEGRAM_BOT_TOKEN": "1:x"})
    plugins = json.loads(result.stdout)
    assert [p["name"] for p in plugins][:2] == ["telegram", "anthropic"]
    assert plugins[0]["state"] == "enabled" and plugins[0]["type"] == "channel"
    assert "1:x" not in result.stdout


def test_remove_and_install_keep_comments_and_are_idempotent(blufio, isolated_env):
    path = isolated_env / "work" / "blufio.toml"
    path.write_text(CONFIG)
    result = blufio("plugin", "remove", "telegram")
    assert result.returncode == 0, result.stderr
    assert "telegram disabled in" in result.stdout
    assert blufio("plugin", "remove", "telegram").stdout.startswith("telegram is already")
    text = path.read_text()
    assert text.startswith(CONFIG) and "telegram = false" in text
    assert _rows(blufio("plugin", "list").stdout)["telegram"] == "disabled"
    assert blufio("plugin", "install", "telegram").returncode == 0
    assert "telegram = true" in path.read_text() and "# keep metrics" in path.read_text()
    assert _rows(blufio("plugin", "list").stdout)["telegram"] == "not-configured"


def test_install_creates_the_config_file(blufio, isolated_env):
    result = blufio("plugin", "remove", "api")
    assert result.returncode == 0, result.stderr
    created = isolated_env / "home" / ".config" / "blufio" / "blufio.toml"
    assert "gateway = false" in created.read_text()


def test_unknown_name_exits_2_with_suggestion(blufio):
    result = blufio("plugin", "install", "telegrm")
    assert result.returncode == 2
    assert "did you mean 'telegram'" in result.stderr
    result = blufio("plugin", "install", "nosuch")
    assert result.returncode == 2 and "the plugins are: telegram" in result.stderr
    assert "Traceback" not in result.stderr


def test_search_and_info(blufio):
    result = blufio("plugin", "search", "metrics")
    assert result.returncode == 0
    assert result.stdout.splitlines()[1].split()[0] == "prometheus"
    result = blufio("plugin", "search", "websocket")
    assert "gateway" in result.stdout
    assert blufio("plugin", "search", "zzz").returncode == 1
    result = blufio("plugin", "info", "anthropic", env={"ANTHROPIC_API_KEY": "sk-secret"})
    assert result.returncode == 0
    assert "anthropic.api_key" in result.stdout and "set (ANTHROPIC_API_KEY)" in result.stdout
    assert "sk-secret" not in result.stdout
    missing = blufio("plugin", "info", "telegram").stdout
    assert "missing" in next(l for l in missing.splitlines() if l.startswith("telegram.bot_token"))


def test_update_is_informational(blufio):
    result = blufio("plugin", "update")
    assert result.returncode == 0
    assert "replaced as a whole file" in result.stdout
    assert "telegram, anthropic, sqlite, gateway, prometheus, keypair" in result.stdout


def test_incompatible_manifest_in_a_checkout(blufio, tmp_path):
    tree = tmp_path / "tree"
    shutil.copytree(os.path.join(REPO_ROOT, "blufio"), tree / "blufio", symlinks=False,
                    ignore=shutil.ignore_patterns("__pycache__"))
    manifest = tree / "blufio" / "plugins" / "telegram" / "plugin.toml"
    manifest.write_text(manifest.read_text().replace('min_blufio_version = "0.1.0"',
                                                     'min_blufio_version = "99.0"'))
    result = blufio("plugin", "list", env={"PYTHONPATH": str(tree)})
    assert result.returncode == 0, result.stderr
    line = next(l for l in result.stdout.splitlines() if l.startswith("telegram"))
    assert "incompatible" in line and "needs Blufio 99.0 or newer" in line
    assert _rows(result.stdout)["sqlite"] == "enabled"


def test_fast_command_line_matches_docopt():
    from blufio import cli

    fast = cli._fast_parse(["--debug", "-c", "x.toml", "plugin", "list", "--json"])
    slow = cli._parse(["--debug", "-c", "x.toml", "plugin", "list", "--json"])
    assert {k: v for k, v in slow.items() if v} == {k: v for k, v in fast.items() if v}
    assert all(fast[k] in (None, False) for k, v in slow.items() if not v)
    assert cli._fast_parse(["plugin", "list", "--bogus"]) is None
    assert cli._fast_parse(["plugin", "info", "x"]) is None


def test_unknown_flag_on_the_fast_path_is_a_usage_error(blufio):
    result = blufio("plugin", "list", "--bogus")
    assert result.returncode == 2 and "unrecognised command line" in result.stderr
