"""Warnings about traffic that leaves this machine unencrypted."""

import pytest

from blufio.exposure import bind_warning, exposure_warnings, is_loopback, plain_http_warning
from tests.fakes.config import make_config


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.1", "::1", "[::1]", "localhost",
                                  "api.localhost"])
def test_loopback_hosts(host):
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.0.0.5", "example.com", ""])
def test_hosts_beyond_this_machine(host):
    assert not is_loopback(host)


def test_plain_http_to_another_host_is_named_without_credentials():
    warning = plain_http_warning("anthropic.base_url", "http://user:secret@10.0.0.5:8080/v1")
    assert warning == ("anthropic.base_url reaches 10.0.0.5 over plain http://: credentials "
                       "and messages cross the network unencrypted; use https://")
    assert plain_http_warning("anthropic.base_url", "https://api.anthropic.com") is None
    assert plain_http_warning("anthropic.base_url", "http://127.0.0.1:9999") is None


def test_a_gateway_bound_beyond_loopback_is_one_warning():
    assert "0.0.0.0, beyond this machine" in bind_warning("0.0.0.0")
    assert bind_warning("127.0.0.1") is None


def test_every_enabled_plugin_s_base_url_and_the_gateway_host_are_checked(tmp_path):
    config = make_config(tmp_path, '[anthropic]\nbase_url = "http://10.1.1.1"\n'
                         '[telegram]\napi_base_url = "http://10.2.2.2"\n'
                         '[gateway]\nhost = "0.0.0.0"\n')
    warnings = exposure_warnings(config, ["anthropic", "telegram", "gateway"])
    assert len(warnings) == 3
    assert exposure_warnings(config, ["anthropic"]) == [warnings[0]]
