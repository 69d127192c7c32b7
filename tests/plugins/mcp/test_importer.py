"""Reading a Claude Desktop / Cursor ``mcpServers`` file into server tables and secrets."""

import json

import pytest

from blufio.errors import ConfigError
from blufio.plugins.mcp.importer import convert, read_servers

CLAUDE_DESKTOP = {"mcpServers": {
    "filesystem": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem",
                                              "/Users/me/Desktop"]},
    "github": {"command": "docker", "args": ["run", "-i", "--rm", "ghcr.io/github/mcp"],
               "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": "ghp_abc", "LOG": "1"}},
    "My Notes.app": {"type": "http", "url": "https://notes.example.com/mcp",
                     "headers": {"Authorization": "Bearer n0tes"}, "disabled": True,
                     "autoApprove": ["read"]},
    "legacy": {"type": "sse", "url": "https://old.example.com/sse"},
}}


def imported(tmp_path, document, existing=()):
    path = tmp_path / "claude_desktop_config.json"
    path.write_text(json.dumps(document))
    return convert(read_servers(str(path)), str(path), existing)


def test_entries_become_tables_and_secrets_go_to_the_vault(tmp_path):
    result = imported(tmp_path, CLAUDE_DESKTOP)
    assert result.tables == {
        "filesystem": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem",
                                                  "/Users/me/Desktop"]},
        "github": {"command": "docker", "args": ["run", "-i", "--rm", "ghcr.io/github/mcp"],
                   "env": {"LOG": "1"}},
        "My-Notes-app": {"url": "https://notes.example.com/mcp", "enabled": False}}
    assert result.secrets == {
        "mcp.servers.github.env.GITHUB_PERSONAL_ACCESS_TOKEN": "ghp_abc",
        "mcp.servers.My-Notes-app.headers.Authorization": "Bearer n0tes"}
    assert result.notes == [
        "My Notes.app: left out autoApprove (not a Blufio setting)",
        "'My Notes.app' is called 'My-Notes-app' (server names prefix tool names: letters, "
        "digits, '-' and '_')",
        "legacy: skipped: its transport 'sse' is not supported (Blufio speaks stdio and "
        "Streamable HTTP)"]


def test_servers_already_configured_are_left_alone(tmp_path):
    result = imported(tmp_path, CLAUDE_DESKTOP, existing={"github"})
    assert "github" not in result.tables
    assert "github: already configured; left as it is" in result.notes


@pytest.mark.parametrize("content, message", [
    ("{not json", "not valid JSON"),
    ('{"servers": {}}', 'has no "mcpServers" object'),
    ('{"mcpServers": {"x": {"args": ["a"]}}}', "needs either 'command'"),
    ('{"mcpServers": {"x": 3}}', "mcpServers.x must be an object"),
])
def test_a_file_that_cannot_be_imported_says_why(tmp_path, content, message):
    path = tmp_path / "mcp.json"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        convert(read_servers(str(path)), str(path))
