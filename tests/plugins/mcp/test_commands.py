"""``blufio skill list | info | call | import``, run as a user runs them (a subprocess)."""

import json
import sys

import pytest

from tests.plugins.mcp.conftest import FASTMCP, claude_desktop_config

pytestmark = pytest.mark.slow  # each test starts real MCP servers (seconds)

PYTHON = json.dumps(sys.executable)


@pytest.fixture
def configured(isolated_env, http_server):
    """A blufio.toml with a stdio server, an HTTP server, a broken one and a disabled one."""
    web = http_server()
    path = isolated_env / "blufio.toml"
    path.write_text(f"""\
# my MCP servers
[mcp.servers.files]
command = {PYTHON}
args = {json.dumps([FASTMCP, "stdio"])}
deny = ["fail"]

[mcp.servers.web]
url = "{web.url}"
allow = ["echo", "add"]

[mcp.servers.broken]
command = "no-such-mcp-server-here"

[mcp.servers.off]
command = {PYTHON}
enabled = false
""")
    return str(path)


def test_list_shows_every_tool_with_its_server_and_state(blufio, configured):
    result = blufio("-c", configured, "skill", "list")
    assert result.returncode == 0, result.stderr
    rows = {tuple(line.split()[:3]) for line in result.stdout.splitlines()[1:] if line.strip()}
    assert ("files__add", "files", "available") in rows
    assert ("files__fail", "files", "denied") in rows
    assert ("web__echo", "web", "available") in rows and ("web__image", "web", "denied") in rows
    assert ("-", "off", "disabled") in rows
    broken = next(line for line in result.stdout.splitlines() if " broken " in line)
    assert "server down" in broken and "command 'no-such-mcp-server-here' not found on PATH" in broken
    assert result.stdout.rstrip().endswith("tools from 4 servers (1 down).")
    assert "Traceback" not in result.stderr


def test_list_as_json(blufio, configured):
    result = blufio("-c", configured, "skill", "list", "--json")
    rows = json.loads(result.stdout)
    assert {"tool": "files__add", "server": "files", "state": "available",
            "detail": "Add two integers."} in rows


def test_info_describes_one_server(blufio, configured):
    result = blufio("-c", configured, "skill", "info", "web")
    assert result.returncode == 0, result.stderr
    fields = dict(line.split(":", 1) for line in result.stdout.split("\n\n")[0].splitlines())
    fields = {label: value.strip() for label, value in fields.items()}
    assert (fields["transport"], fields["state"], fields["protocol"], fields["allow"]) == \
        ("http", "ready", "2025-06-18", "echo, add")
    assert fields["server info"].startswith("blufio-test ")
    assert "web__add" in result.stdout


def test_call_runs_one_tool_over_stdio_and_http(blufio, configured):
    result = blufio("-c", configured, "skill", "call", "files", "add", '{"a": 20, "b": 22}')
    assert (result.returncode, result.stdout) == (0, "42\n"), result.stderr
    result = blufio("-c", configured, "skill", "call", "web", "echo", '{"text": "over http"}')
    assert (result.returncode, result.stdout) == (0, "over http\n"), result.stderr
    result = blufio("-c", configured, "skill", "call", "files", "image")
    assert result.stdout == "[image: image/png, 70 bytes]\n"  # the 1x1 PNG of the test server


@pytest.mark.parametrize("args, code, message", [
    (["files", "add", "{not json"], 2, "the tool's input is not valid JSON"),
    (["files", "add", "[1, 2]"], 2, "must be a JSON object"),
    (["file", "add", "{}"], 2, "no MCP server is called 'file' (did you mean 'files'?)"),
    (["files", "fail", '{"message": "x"}'], 1, "is not allowed by its allow/deny lists"),
    (["broken", "poke", "{}"], 1, "command 'no-such-mcp-server-here' not found on PATH"),
    (["off", "poke", "{}"], 1, "disabled in the configuration"),
])
def test_call_failures_are_one_clear_line(blufio, configured, args, code, message):
    result = blufio("-c", configured, "skill", "call", *args)
    assert result.returncode == code and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_import_writes_tables_keeps_comments_and_stores_secrets(blufio, isolated_env, tmp_path):
    config = isolated_env / "blufio.toml"
    config.write_text("# my settings\n[gateway]\nport = 9100  # my port\n")
    desktop, secrets = claude_desktop_config(tmp_path)
    result = blufio("-c", str(config), "skill", "import", desktop)
    assert result.returncode == 0, result.stderr
    assert "imported 2 MCP servers" in result.stdout
    text = config.read_text()
    assert text.startswith("# my settings\n[gateway]\nport = 9100  # my port\n")
    assert "[mcp.servers.notes]" in text and 'env = {LEVEL = "info"}' in text
    assert not [secret for secret in secrets if secret in text]
    validated = blufio("-c", str(config), "config", "validate")
    assert validated.returncode == 0 and "warning" not in validated.stderr, validated.stderr
    assert blufio("-c", str(config), "config", "get",
                  "mcp.servers.notes.env.NOTES_API_KEY").stdout == "********\n"
    called = blufio("-c", str(config), "skill", "call", "notes", "poke", '{"text": "x"}')
    assert called.stdout == "poked x\n", called.stderr
    again = blufio("-c", str(config), "skill", "import", desktop)
    assert "notes: already configured; left as it is" in again.stderr


def test_a_typo_in_a_server_table_fails_validation_naming_it(blufio, isolated_env):
    config = isolated_env / "blufio.toml"
    config.write_text('[mcp.servers.files]\ncomand = "npx"\n')
    result = blufio("-c", str(config), "config", "validate")
    assert result.returncode == 2
    assert "[mcp.servers.files] unknown key 'comand' (did you mean 'command'?)" in result.stderr


def test_help_lists_the_skill_commands(blufio):
    assert "blufio [options] skill call SERVER TOOL [JSON]" in blufio("--help").stdout
