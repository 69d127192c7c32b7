"""The Bot API client, splitting and backoff, without a server (httpx's MockTransport)."""

import json

import httpx
import pytest

from blufio.errors import PluginError
from blufio.plugins.telegram.api import BotAPI, BotAPIError
from blufio.retry import Backoff
from blufio.plugins.telegram.reply import MAX_MESSAGE_LENGTH, split_text, utf16_length

TOKEN = "123:secret-token"


def _api(handler, base_url="http://bots.example/prefix/"):
    return BotAPI(base_url, TOKEN, transport=httpx.MockTransport(handler))


async def test_requests_go_to_base_url_bot_token_method_with_json():
    seen = []

    def handler(request):
        seen.append(request)
        return httpx.Response(200, json={"ok": True, "result": {"id": 1}})

    api = _api(handler)
    assert await api.call("getMe", x=1) == {"id": 1}
    await api.aclose()
    assert seen[0].url.path == f"/prefix/bot{TOKEN}/getMe"
    assert json.loads(seen[0].content) == {"x": 1}
    assert TOKEN not in repr(api)


@pytest.mark.parametrize("status, body, transient, fatal", [
    (500, {"ok": False, "error_code": 500, "description": "Internal"}, True, False),
    (502, "<html>bad gateway</html>", True, False),
    (429, {"ok": False, "error_code": 429, "description": "Too Many Requests",
           "parameters": {"retry_after": 7}}, True, False),
    (401, {"ok": False, "error_code": 401, "description": "Unauthorized"}, False, True),
    (404, {"ok": False, "error_code": 404, "description": "Not Found"}, False, True),
    (400, {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"},
     False, False),
])
async def test_failures_are_classified(status, body, transient, fatal):
    def handler(request):
        if isinstance(body, str):
            return httpx.Response(status, text=body)
        return httpx.Response(status, json=body)

    api = _api(handler)
    with pytest.raises(BotAPIError) as caught:
        await api.call("sendMessage")
    await api.aclose()
    error = caught.value
    assert isinstance(error, PluginError)
    assert (error.transient, error.fatal) == (transient, fatal)
    assert error.status == status
    assert TOKEN not in str(error)
    if status == 429:
        assert error.retry_after == 7


async def test_network_errors_are_transient_and_never_name_the_url():
    def handler(request):
        raise httpx.ConnectError(f"cannot connect to {request.url}", request=request)

    api = _api(handler)
    with pytest.raises(BotAPIError) as caught:
        await api.call("getUpdates")
    await api.aclose()
    assert caught.value.transient and caught.value.status is None
    assert "secret-token" not in str(caught.value)


async def test_call_with_retry_retries_transient_failures_only():
    answers = [httpx.Response(500, json={"ok": False, "error_code": 500}),
               httpx.Response(429, json={"ok": False, "error_code": 429,
                                         "parameters": {"retry_after": 0}}),
               httpx.Response(200, json={"ok": True, "result": True})]
    api = BotAPI("http://bots.example", TOKEN, backoff=(0.01, 0.02),
                 transport=httpx.MockTransport(lambda request: answers.pop(0)))
    assert await api.call_with_retry("sendMessage") is True

    answers[:] = [httpx.Response(400, json={"ok": False, "error_code": 400})] * 3
    with pytest.raises(BotAPIError):
        await api.call_with_retry("sendMessage")
    assert len(answers) == 2  # a 400 is not retried
    await api.aclose()


def test_backoff_doubles_with_jitter_up_to_a_cap_and_honours_retry_after():
    backoff = Backoff(1.0, 30.0)
    delays = [backoff.next_delay() for _ in range(8)]
    steps = [1, 2, 4, 8, 16, 30, 30, 30]
    assert all(step / 2 <= delay <= step for delay, step in zip(delays, steps))
    assert backoff.next_delay(retry_after=45) == 45
    backoff.reset()
    assert backoff.next_delay() <= 1.0


def test_split_prefers_paragraphs_then_lines_then_spaces():
    paragraphs = "\n\n".join(["a" * 3000, "b" * 3000])
    assert split_text(paragraphs) == ["a" * 3000, "b" * 3000]
    lines = "\n".join(["a" * 3000, "b" * 3000])
    assert split_text(lines) == ["a" * 3000, "b" * 3000]
    words = " ".join(["a" * 3000, "b" * 3000])
    assert split_text(words) == ["a" * 3000, "b" * 3000]
    assert split_text("short") == ["short"]
    assert split_text("") == []


def test_split_cuts_unbroken_text_at_the_limit():
    pieces = split_text("x" * 10000)
    assert [len(p) for p in pieces] == [4096, 4096, 1808]


def test_split_counts_as_telegram_does_in_utf16_units():
    emoji = "😀" * 3000  # 6000 UTF-16 code units
    pieces = split_text(emoji)
    assert "".join(pieces) == emoji
    assert all(utf16_length(p) <= MAX_MESSAGE_LENGTH for p in pieces)
    assert len(pieces) == 2
