"""``[mcp.servers]`` through ``blufio config``: a table key, shown without its values, edited
in the file, with secrets inside it set into the vault."""

import pytest


@pytest.fixture
def config(isolated_env):
    path = isolated_env / "blufio.toml"
    path.write_text('[mcp.servers.files]\ncommand = "npx"\n\n[mcp.servers.web]\n'
                    'url = "https://mcp.example.com/mcp"\n')
    return str(path)


def test_get_names_the_servers_but_shows_no_values(blufio, config):
    result = blufio("-c", config, "config", "get", "mcp.servers")
    assert result.stdout == f"********  (tables: files, web; edit them in {config})\n"


def test_set_inside_the_table_is_refused_with_where_to_edit(blufio, config):
    result = blufio("-c", config, "config", "set", "mcp.servers.files.command", "npm")
    assert result.returncode == 2
    assert "'mcp.servers.files.command' is in the table [mcp.servers], which is edited in" \
        in result.stderr


def test_a_secret_inside_the_table_goes_to_the_vault_and_is_never_shown(blufio, config):
    stored = blufio("-c", config, "config", "set-secret", "mcp.servers.web.headers.Authorization",
                    input="Bearer t0ken\n")
    assert stored.returncode == 0, stored.stderr
    shown = blufio("-c", config, "config", "get", "mcp.servers.web.headers.Authorization")
    assert shown.stdout == "********\n"
    listed = blufio("-c", config, "plugin", "info", "mcp")
    assert "files, web" in listed.stdout and "t0ken" not in listed.stdout


def test_only_table_keys_have_keys_inside_them(blufio, config):
    result = blufio("-c", config, "config", "set-secret", "gateway.port.x", input="1\n")
    assert result.returncode == 2 and "unknown key 'gateway.port.x'" in result.stderr
