"""Warnings about traffic that leaves this machine unencrypted, said once when serve starts.

Two cases: a plugin reaching its service (``*base_url`` keys: the provider, Telegram's Bot
API) over plain ``http://`` on a host other than this machine, which sends credentials and
conversations in clear; and the gateway listening beyond loopback, where clients send their
tokens in clear unless a TLS proxy stands in front.
"""

import ipaddress
from urllib.parse import urlsplit

LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def is_loopback(host):
    """Whether ``host`` (a name or an address) is this machine's loopback."""
    host = (host or "").strip("[]").lower()
    if host in LOCAL_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def plain_http_warning(dotted, url):
    """The warning for ``dotted`` = ``url`` when it is plain http to another host, else None."""
    parts = urlsplit(url or "")
    if parts.scheme != "http" or is_loopback(parts.hostname):
        return None
    return (f"{dotted} reaches {parts.hostname} over plain http://: credentials and messages "
            "cross the network unencrypted; use https://")


def bind_warning(host):
    """The warning for a gateway listening on ``host``, or None when that is loopback."""
    if is_loopback(host):
        return None
    return (f"the gateway listens on {host}, beyond this machine, in plain HTTP: tokens and "
            "messages cross the network unencrypted unless a TLS proxy is in front; bind "
            "127.0.0.1 ([gateway] host) and put the proxy on this machine")


def exposure_warnings(config, plugin_names):
    """Every warning for the enabled ``plugin_names`` under ``config``, one line each."""
    warnings = []
    for name in plugin_names:
        for key in config.schema.sections.get(name, {}):
            if key.endswith("base_url"):
                warning = plain_http_warning(f"{name}.{key}", config.get(f"{name}.{key}"))
                if warning:
                    warnings.append(warning)
    if "gateway" in plugin_names:
        warning = bind_warning(config.get("gateway.host"))
        if warning:
            warnings.append(warning)
    return warnings
