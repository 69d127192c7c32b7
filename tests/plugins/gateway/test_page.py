"""The chat page's files: served without a token, small, from the package, with strict
security headers; ``[gateway] ui = false`` turns them off."""

import re

import httpx
import pytest

from blufio.plugins.gateway.page import content_security_policy, page_files

from .conftest import RunningGateway


def test_the_page_is_small_and_needs_nothing_from_outside():
    files = page_files()
    assert sum(len(data) for data in files.values()) <= 100 * 1024
    for name, data in files.items():
        text = data.decode()
        assert not re.search(r"(src|href)=\"(https?:)?//", text), name  # no CDN, no outside file
        assert not re.search(r"\.(inner|outer)HTML\s*=|insertAdjacentHTML|document\.write|"
                             r"\beval\(|new Function", text), name
    html = files["index.html"].decode()
    assert "<script>" not in html and "style=" not in html and "<style" not in html
    assert set(re.findall(r'(?:src|href)="/ui/([^"?]+)', html)) <= set(files)


def test_the_page_and_its_files_are_served_without_a_token(gateway):
    page = httpx.get(f"{gateway.url}/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<textarea id="input"' in page.text
    script = httpx.get(f"{gateway.url}/ui/app.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert httpx.get(f"{gateway.url}/ui/nope.js").status_code == 404
    assert httpx.get(f"{gateway.url}/ui/index.html").status_code == 404  # only at /
    assert httpx.get(f"{gateway.url}/v1/sessions").status_code == 401  # the API still needs one


def test_every_page_answer_carries_the_security_headers(gateway):
    for path in ("/", "/ui/app.css", "/ui/markdown.js"):
        headers = httpx.get(f"{gateway.url}{path}").headers
        policy = headers["content-security-policy"]
        assert "script-src 'self';" in policy and "style-src 'self';" in policy
        assert "unsafe" not in policy and "frame-ancestors 'none'" in policy
        host = gateway.url.removeprefix("http://")
        assert f"connect-src 'self' ws://{host} wss://{host};" in policy
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"


def test_a_strange_host_header_never_reaches_the_policy():
    assert "connect-src 'self';" in content_security_policy("evil.example; script-src *")
    assert "ws://[::1]:8420" in content_security_policy("[::1]:8420")


def test_an_unchanged_file_is_answered_304(gateway):
    first = httpx.get(f"{gateway.url}/ui/app.js")
    again = httpx.get(f"{gateway.url}/ui/app.js", headers={"if-none-match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""


def test_the_page_names_its_files_by_version_and_those_are_kept_for_good(gateway):
    page = httpx.get(f"{gateway.url}/")
    assert page.headers["cache-control"] == "no-cache"  # the page itself is always checked
    script = re.search(r'src="(/ui/app\.js\?v=\w+)"', page.text).group(1)
    assert "immutable" in httpx.get(f"{gateway.url}{script}").headers["cache-control"]
    stale = httpx.get(f"{gateway.url}/ui/app.js?v=old")
    assert stale.status_code == 200 and stale.headers["cache-control"] == "no-cache"


@pytest.fixture
def gateway_without_ui(gateway_env, monkeypatch):
    monkeypatch.setenv("BLUFIO_GATEWAY__UI", "false")
    running = RunningGateway().start()
    yield running
    running.stop()


def test_with_ui_off_the_page_is_404(gateway_without_ui):
    url = gateway_without_ui.url
    for path in ("/", "/ui/app.js"):
        response = httpx.get(f"{url}{path}")
        assert response.status_code == 404 and response.json()["error"]["type"] == "not_found_error"
    paths = httpx.get(f"{url}/v1/openapi.json", headers=gateway_without_ui.auth()).json()["paths"]
    assert "/" not in paths and "/v1/usage" in paths
