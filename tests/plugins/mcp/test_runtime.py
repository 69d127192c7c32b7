"""The skill runtime adapter: servers from the configuration, tools under their exposed
names with their states, and every failure as an error result."""

import json
import sys

import pytest

from blufio.errors import ConfigError
from blufio.plugins.mcp.runtime import McpSkillRuntime, exposed_name
from tests.fakes.config import make_config
from tests.plugins.mcp.conftest import FASTMCP, ROGUE

pytestmark = pytest.mark.slow  # each test starts real MCP servers (seconds)


def toml(**servers):
    """``[mcp.servers.<name>]`` tables for the test servers: ``name=(script args, extra)``."""
    text = ""
    for name, (args, extra) in servers.items():
        text += (f"[mcp.servers.{name}]\ncommand = {json.dumps(sys.executable)}\n"
                 f"args = {json.dumps(args)}\n{extra}\n")
    return text


@pytest.fixture
async def runtime(tmp_path):
    config = make_config(tmp_path, toml(
        files=([FASTMCP, "stdio"], 'deny = ["fail"]\n'),
        broken=([ROGUE, "exit"], ""),
        off=([ROGUE, "ok"], "enabled = false\n")))
    started = McpSkillRuntime(config, backoff=(30.0, 30.0))
    await started.start()
    await started.wait_started()
    yield started
    await started.shutdown()


def test_exposed_names_are_prefixed_valid_and_unique():
    assert exposed_name("files", "read_file") == "files__read_file"
    dotted, underscored = exposed_name("gh", "repo.list"), exposed_name("gh", "repo_list")
    assert dotted.startswith("gh__repo_list_") and dotted != underscored
    long = exposed_name("server", "t" * 100)
    assert len(long) == 64 and long != exposed_name("server", "t" * 99)


async def test_tools_are_listed_with_their_state(runtime):
    states = {s.name: s.state for s in runtime.skills()}
    assert states["files__add"] == "available" and states["files__fail"] == "denied"
    offered = {s["name"]: s for s in await runtime.list_skills()}
    assert "files__fail" not in offered
    assert offered["files__add"]["input_schema"]["required"] == ["a", "b"]
    assert runtime.servers.get("broken").state == "down"


async def test_a_tool_runs_to_content_blocks(runtime):
    assert await runtime.run("files__add", {"a": 1, "b": 2}) == ([{"type": "text", "text": "3"}],
                                                                 False)
    blocks, _ = await runtime.run("files__image", {})
    assert blocks[0]["type"] == "image"
    assert await runtime.invoke("files__echo", {"text": "hi"}) == "hi"


@pytest.mark.parametrize("name, message", [
    ("files__fail", "the fail tool of MCP server 'files' is not allowed by its allow/deny lists"),
    ("files__nope", "there is no MCP tool named 'files__nope'"),
])
async def test_refusals_are_error_results(runtime, name, message):
    blocks, is_error = await runtime.run(name, {"message": "x"})
    assert is_error and blocks == [{"type": "text", "text": message + (
        " in [mcp.servers.files]" if "allow" in message else "")}]


async def test_a_down_server_is_an_error_result_and_degrades_health(runtime):
    blocks, is_error = await runtime.call("broken", "poke", {})
    assert is_error and "exited with code 3" in blocks[0]["text"]
    health = await runtime.health_check()
    assert health["status"] == "degraded" and "broken" in health["detail"]


async def test_secrets_come_from_the_vault(tmp_path):
    from blufio.vault import Vault

    vault = Vault(str(tmp_path / "vault"), {})
    vault.put("mcp.servers.files.env.NOTES_TOKEN", "t0k3n")
    config = make_config(tmp_path, toml(files=([FASTMCP, "stdio"], "")), vault=vault)
    assert "t0k3n" in config.secret_values()
    runtime = McpSkillRuntime(config)
    try:
        await runtime.start()
        assert await runtime.invoke("files__getenv", {"name": "NOTES_TOKEN"}) == "t0k3n"
    finally:
        await runtime.shutdown()


def test_a_bad_server_table_is_a_config_error_naming_it(tmp_path):
    config = make_config(tmp_path, '[mcp.servers.files]\ncomand = "npx"\n')
    with pytest.raises(ConfigError, match=r"\[mcp.servers.files\] unknown key 'comand'"):
        McpSkillRuntime.check_config(config)
