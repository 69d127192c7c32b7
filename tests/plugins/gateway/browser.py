"""Headless Chromium for the chat page's tests: Debian's ``/usr/bin/chromium`` driven by
Playwright (nothing downloaded)."""

import os
import shutil

import pytest


CHROMIUM = os.environ.get("BLUFIO_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def chromium_or_skip():
    """Playwright's sync API and the installed Chromium, or skip the test saying what is missing."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install -e '.[test]')")
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    return sync_playwright

