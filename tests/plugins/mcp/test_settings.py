"""``[mcp.servers.<name>]``: what a valid table gives, and the errors that name a mistake."""

import pytest

from blufio.config.toml import loads
from blufio.errors import ConfigError
from blufio.plugins.mcp.settings import parse_servers

GOOD = """
[mcp.servers.files]
command = "npx"
args = ["-y", "server-filesystem", "/tmp"]
env = { LOG_LEVEL = "debug" }
timeout = 5
deny = ["write_file"]

[mcp.servers.search]
url = "https://mcp.example.com/mcp"
allow = ["search"]
enabled = false
"""


def parse(text, secrets=None):
    return parse_servers(loads(text)["mcp"].get("servers", {}), "blufio.toml", secrets)


def test_a_stdio_and_an_http_server_are_read_in_file_order():
    servers, warnings = parse(GOOD)
    files, search = servers.values()
    assert list(servers) == ["files", "search"] and warnings == []
    assert (files.transport, files.command, files.args, files.env, files.timeout) == \
        ("stdio", "npx", ["-y", "server-filesystem", "/tmp"], {"LOG_LEVEL": "debug"}, 5.0)
    assert files.permits("read_file") and not files.permits("write_file")
    assert (search.transport, search.url, search.enabled) == \
        ("http", "https://mcp.example.com/mcp", False)
    assert search.permits("search") and not search.permits("other")


def test_secrets_come_from_the_vault_under_the_name_the_value_would_have():
    servers, warnings = parse(GOOD, {
        "mcp.servers.search.headers.Authorization": "Bearer s3cret",
        "mcp.servers.files.env.GITHUB_TOKEN": "ghp_x",
        "mcp.servers.files.env.LOG_LEVEL": "ignored: the file wins"})
    assert servers["search"].headers == {"Authorization": "Bearer s3cret"}
    assert servers["files"].env == {"LOG_LEVEL": "debug", "GITHUB_TOKEN": "ghp_x"}
    assert warnings == []


def test_a_secret_written_in_clear_draws_a_warning_naming_the_vault_key():
    _, warnings = parse('[mcp.servers.gh]\ncommand = "gh-mcp"\nenv = { GITHUB_TOKEN = "ghp_1" }\n')
    assert warnings == [("blufio.toml: [mcp.servers.gh] env.GITHUB_TOKEN looks like a secret "
                         "written in clear; move it to the vault with 'blufio config set-secret "
                         "mcp.servers.gh.env.GITHUB_TOKEN'")]


@pytest.mark.parametrize("text, message", [
    ('[mcp.servers.files]\ncomand = "npx"\n',
     "[mcp.servers.files] unknown key 'comand' (did you mean 'command'?)"),
    ('[mcp.servers.files]\ncommand = "npx"\nargs = "-y"\n',
     "[mcp.servers.files] 'args' must be a list of strings"),
    ('[mcp.servers.files]\ncommand = "npx"\nenv = { PORT = 80 }\n',
     "[mcp.servers.files] 'env' must be a table of strings"),
    ('[mcp.servers.files]\ncommand = "npx"\ntimeout = 0\n',
     "'timeout' must be a number of seconds above 0"),
    ('[mcp.servers.files]\nargs = ["x"]\n', "needs either 'command'"),
    ('[mcp.servers.files]\ncommand = "npx"\nurl = "http://x"\n', "not both"),
    ('[mcp.servers.web]\nurl = "http://x/mcp"\ncwd = "/tmp"\n', "'cwd' is only for a server"),
    ('[mcp.servers.web]\nurl = "ftp://x"\n', "must be an http:// or https:// URL"),
    ('[mcp.servers.files]\ncommand = "npx"\nheaders = { A = "b" }\n',
     "'headers' is only for a server reached by 'url'"),
    ('[mcp.servers."my.files"]\ncommand = "npx"\n', "a server name is 1 to 32 letters"),
    ('[mcp.servers.a__b]\ncommand = "npx"\n', "without '__'"),
    ('[mcp]\nservers = 1\n', "'mcp.servers' must hold tables"),
])
def test_a_mistake_is_an_error_naming_the_file_the_table_and_the_key(text, message):
    with pytest.raises(ConfigError) as caught:
        parse(text)
    assert str(caught.value).startswith("blufio.toml: ")
    assert message in str(caught.value)
