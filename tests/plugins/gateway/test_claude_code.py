"""Claude Code (the ``@anthropic-ai/claude-code`` CLI) in its default mode against the gateway.

It sends its own model names, system blocks, ~30 tools, beta flags, ``?beta=true`` and
system reminders inside user messages, and re-sends the whole conversation on ``--continue``.
Skipped when ``claude`` is not installed (``npm install -g @anthropic-ai/claude-code``; CI
does not install it, it is large).
"""

import os
import shutil
import subprocess

import pytest

from .conftest import TOKEN

CLAUDE = shutil.which("claude")
pytestmark = pytest.mark.skipif(CLAUDE is None, reason="Claude Code is not installed "
                                "(npm install -g @anthropic-ai/claude-code)")


def claude(gateway, home, *args):
    env = {key: value for key, value in os.environ.items() if not key.startswith("ANTHROPIC_")}
    env.update(HOME=str(home), ANTHROPIC_BASE_URL=gateway.url, ANTHROPIC_API_KEY=TOKEN,
               DISABLE_AUTOUPDATER="1", DISABLE_TELEMETRY="1")
    project = home / "project"
    project.mkdir(exist_ok=True)
    return subprocess.run([CLAUDE, "-p", *args], cwd=project, env=env, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.slow  # waits out real time
def test_claude_code_answers_and_its_continued_conversation_is_one_session(gateway, tmp_path):
    said = claude(gateway, tmp_path, "say hi")
    assert said.returncode == 0, said.stdout + said.stderr
    assert said.stdout.strip().endswith("say hi")  # the fake model echoes
    for text in ("second", "third"):
        continued = claude(gateway, tmp_path, "--continue", text)
        assert continued.returncode == 0, continued.stdout + continued.stderr
        assert continued.stdout.strip() == f"echo: {text}"
    sessions = gateway.call(gateway.storage.list_sessions())
    assert len(sessions) == 1
    assert sessions[0].message_count == 6
