"""The plugin costs nothing where it is not used: ``plugin list`` and ``--version`` import
none of its code, even with servers configured."""

import os
import subprocess
import sys

import pytest


@pytest.mark.slow  # runs the CLI as a process
def test_plugin_list_and_version_import_nothing_of_the_plugin(repo_root, isolated_env):
    config = isolated_env / "blufio.toml"
    config.write_text('[mcp.servers.files]\ncommand = "npx"\nargs = ["-y", "x"]\n')
    check = (
        "import sys\n"
        "from blufio.cli import main\n"
        f"for argv in (['--version'], ['-c', {str(config)!r}, 'plugin', 'list'],\n"
        f"             ['-c', {str(config)!r}, 'plugin', 'list', '--json']):\n"
        "    assert main(argv) == 0\n"
        "loaded = [m for m in sys.modules if m.startswith('blufio.plugins.mcp')"
        " or m in ('httpx', 'blufio.agent.tools')]\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True,
                            env=dict(os.environ, PYTHONPATH=repo_root))
    assert result.returncode == 0, result.stderr
    assert "mcp" in result.stdout
