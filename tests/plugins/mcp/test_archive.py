"""The acceptance list from the built archive, as a new user runs it: servers over stdio and
HTTP listed and called, a turn in ``serve`` that uses a tool, ``kill -9`` of a server then
the next call, SIGTERM, ``skill import`` then ``config validate``, and a stripped build
without the plugin."""

import json
import os
import signal
import sys
import time
import zipfile

import anthropic
import pytest

from tests.archives import PYTHON, run
from tests.fakes.anthropic_server import text_reply, tool_use_reply
from tests.plugins.mcp.conftest import FASTMCP, alive, claude_desktop_config
from tests.plugins.mcp.test_serve import descendants, wait_for_health
from tests.served import Served

pytestmark = pytest.mark.slow  # every test here runs a built archive

TOKEN = "archive-mcp-token"


@pytest.fixture
def config(isolated_env, http_server):
    """A blufio.toml with FastMCP as a stdio child and as an HTTP server."""
    path = isolated_env / "blufio.toml"
    path.write_text(f"""\
[mcp.servers.files]
command = {json.dumps(sys.executable)}
args = {json.dumps([FASTMCP, "stdio"])}

[mcp.servers.web]
url = "{http_server().url}"
""")
    return str(path)


def test_skill_list_and_call_from_the_archive(archives, config):
    listed = run(archives["default"], "-c", config, "skill", "list")
    assert listed.returncode == 0, listed.stderr
    assert "files__add" in listed.stdout and "web__echo" in listed.stdout
    assert "tools from 2 servers." in listed.stdout
    called = run(archives["default"], "-c", config, "skill", "call", "web", "add",
                 '{"a": 1, "b": 2}')
    assert (called.returncode, called.stdout) == (0, "3\n"), called.stderr


def test_serve_from_the_archive_uses_a_tool_survives_kill_9_and_leaves_nothing(
        archives, config, fake_anthropic):
    env = {name: os.environ[name] for name in ("PATH", "HOME", "BLUFIO_DATA_DIR",
                                               "XDG_CONFIG_HOME", "XDG_DATA_HOME")}
    env.update(BLUFIO_CONFIG=config, BLUFIO_GATEWAY__PORT="0", BLUFIO_GATEWAY__BEARER_TOKEN=TOKEN,
               ANTHROPIC_BASE_URL=fake_anthropic.base_url, ANTHROPIC_API_KEY="sk-ant-x",
               BLUFIO_PLUGINS__TELEGRAM="false")
    served = Served(env, [PYTHON, "-I", archives["default"]])
    try:
        wait_for_health(served.url, lambda h: h["plugins"]["mcp"]["detail"] ==
                        "2 of 2 MCP servers ready")
        sdk = anthropic.Anthropic(base_url=served.url, api_key=TOKEN, max_retries=0)
        for tool in ("files__pid", "web__echo"):
            fake_anthropic.add(tool_use_reply(tool, {"text": "hi"}), text_reply(f"used {tool}"))
            reply = sdk.messages.create(model="m", max_tokens=50,
                                        messages=[{"role": "user", "content": "go"}])
            assert reply.content[0].text == f"used {tool}"
        pid = int(fake_anthropic.message_requests[1].json["messages"][-1]["content"][0]["content"])
        os.kill(pid, signal.SIGKILL)
        fake_anthropic.add(tool_use_reply("files__echo", {"text": "back"}), text_reply("ok"))
        sdk.messages.create(model="m", max_tokens=50, messages=[{"role": "user", "content": "?"}])
        result = fake_anthropic.message_requests[-1].json["messages"][-1]["content"][0]
        assert result["content"] == "back" and "is_error" not in result
        children = descendants(served.process.pid)
        assert children and pid not in children
        assert served.stop() == 0
        time.sleep(0.2)
        assert [p for p in children if alive(p)] == []
    finally:
        served.kill()


def test_skill_import_then_config_validate_from_the_archive(archives, isolated_env, tmp_path):
    config = isolated_env / "blufio.toml"
    config.write_text("# mine\n[agent]\nmax_tokens = 1000  # keep\n")
    desktop, secrets = claude_desktop_config(tmp_path)
    imported = run(archives["default"], "-c", str(config), "skill", "import", desktop)
    assert imported.returncode == 0, imported.stderr
    text = config.read_text()
    assert not [secret for secret in secrets if secret in text] and "# keep" in text
    validated = run(archives["default"], "-c", str(config), "config", "validate")
    assert validated.returncode == 0 and "configuration OK" in validated.stdout, validated.stderr
    called = run(archives["default"], "-c", str(config), "skill", "call", "notes", "poke")
    assert called.stdout == "poked\n", called.stderr


def test_a_stripped_build_has_no_skill_commands_and_no_mcp_code(archives):
    names = zipfile.ZipFile(archives["stripped"]).namelist()
    assert not [n for n in names if "mcp" in n.lower()]
    helped = run(archives["stripped"], "--help")
    assert "skill" not in helped.stdout
    refused = run(archives["stripped"], "skill", "list")
    assert refused.returncode == 2 and "unrecognised command line" in refused.stderr
    assert "skill list" in run(archives["default"], "--help").stdout
