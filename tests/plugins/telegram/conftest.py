"""Fixtures for the telegram plugin's tests: the fake Bot API and configuration for it."""

import pytest

from tests.fakes.telegram_server import FakeTelegram

OWNER = 42  # the Telegram user id in allowed_users


@pytest.fixture
async def tg():
    """A running fake Bot API."""
    async with FakeTelegram() as server:
        yield server


@pytest.fixture
def telegram_toml(tg):
    """``telegram_toml(**keys)``: a ``[telegram]`` section pointed at the fake server, with
    short intervals so tests run fast; ``keys`` override."""
    def make(**keys):
        settings = {"bot_token": tg.token, "api_base_url": tg.base_url,
                    "allowed_users": [OWNER], "poll_timeout": 1, "edit_interval": 0.15,
                    "backoff_initial": 0.05, "backoff_max": 0.4, **keys}
        return "[telegram]\n" + "".join(f"{key} = {_toml(value)}\n"
                                        for key, value in settings.items())

    return make


def _toml(value):
    if isinstance(value, str):
        return f'"{value}"'
    return repr(value)  # numbers and lists of numbers read the same in TOML
