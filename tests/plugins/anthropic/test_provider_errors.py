"""What Anthropic's failures mean for Blufio: the anthropic plugin translates each, once,
into a ProviderError class and the answer Blufio's own clients get."""

import pytest

from blufio.errors import ProviderAuthError, ProviderError, ProviderUnavailableError
from tests.fakes.anthropic_server import (FakeAnthropic, dropped, http_error, malformed,
                                          stream_error)
from tests.plugins.anthropic.test_provider import collect, provider_for

# Anthropic's failure -> (the class raised, http_status, http_error_type)
FAILURES = [
    (lambda: http_error(400), ProviderError, 400, "invalid_request_error"),
    (lambda: http_error(401), ProviderAuthError, 502, "api_error"),
    (lambda: http_error(403), ProviderAuthError, 502, "api_error"),
    (lambda: http_error(404), ProviderError, 400, "not_found_error"),
    (lambda: http_error(413, "request_too_large"), ProviderError, 413, "request_too_large"),
    (lambda: http_error(429), ProviderError, 429, "rate_limit_error"),
    (lambda: http_error(503), ProviderError, 503, "api_error"),
    (lambda: http_error(529), ProviderError, 529, "overloaded_error"),
    (lambda: stream_error("Hel", "overloaded_error"), ProviderError, 529, "overloaded_error"),
    (lambda: stream_error("Hel", "timeout_error"), ProviderError, 504, "timeout_error"),
    (lambda: stream_error("Hel", "invalid_request_error"), ProviderUnavailableError, 503,
     "api_error"),
    (lambda: dropped("Hel"), ProviderUnavailableError, 503, "api_error"),
    (lambda: malformed("Hel"), ProviderError, 500, "api_error"),
]


@pytest.fixture
def fake():
    with FakeAnthropic(api_key="sk-test") as server:
        yield server


@pytest.mark.parametrize("respond, cls, status, error_type", FAILURES)
async def test_each_failure_is_raised_as_what_it_means(tmp_path, fake, respond, cls, status,
                                                       error_type):
    fake.add(respond())
    provider = provider_for(tmp_path, fake, "max_retries = 0\n")
    with pytest.raises(ProviderError) as caught:
        await collect(provider)
    await provider.shutdown()
    assert type(caught.value) is cls
    assert (caught.value.http_status, caught.value.http_error_type) == (status, error_type)
    assert caught.value.kind == "provider"


async def test_a_connection_refused_is_unavailable(tmp_path, fake):
    provider = provider_for(tmp_path, fake, "max_retries = 0\n")
    fake.stop()
    with pytest.raises(ProviderUnavailableError, match="cannot connect"):
        await collect(provider)
    await provider.shutdown()
