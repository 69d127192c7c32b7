"""Shared by the command tests: ``serve`` as a real process."""

import pytest

from tests.served import Served, checkout_env


@pytest.fixture
def serve(request, repo_root, fake_anthropic):
    """``serve(**env)`` starts ``blufio serve`` as a process against the fake Anthropic API,
    with the test module's ``TOKEN`` as the gateway's token; each one is killed at the end."""
    started = []

    def start(**env):
        base = {"ANTHROPIC_BASE_URL": fake_anthropic.base_url, "ANTHROPIC_API_KEY": "sk-ant-x",
                "BLUFIO_GATEWAY__BEARER_TOKEN": request.module.TOKEN,
                "BLUFIO_PLUGINS__TELEGRAM": "false"}
        base.update(env)
        served = Served(checkout_env(repo_root, **base))
        started.append(served)
        return served

    yield start
    for served in started:
        served.kill()
