"""The chat page in a real browser (headless Chromium): signing in, streaming, stopping,
reloading, reconnecting, and message text that can never become markup.

Conditions given to Playwright's ``wait_for_function`` are arrow functions: a bare expression
would be run with ``eval``, which the page's policy refuses.

Timings measured by the page itself (first paint, first delta on screen) are printed, never
asserted: ``pytest -m slow -s tests/plugins/gateway/test_chat_page_in_a_browser.py``.
"""

import os
import statistics

import httpx
import pytest

from tests.fakes.anthropic_server import slow_text_reply, text_reply, tool_use_reply

from .browser import ARGS, CHROMIUM, DroppingProxy, chromium_or_skip
from .conftest import TOKEN

pytestmark = pytest.mark.slow

# Read at import: the tests' own environment has no BLUFIO_* variables.
SAVE_SCREENSHOT = os.environ.get("BLUFIO_SAVE_SCREENSHOT") == "1"
DOCS = os.path.join(os.path.dirname(__file__), "..", "..", "..", "docs")
MARKDOWN_REPLY = (
    "Here is what I found for **Lisbon** this weekend:\n\n"
    "| Day | Weather | High |\n|---|---|---:|\n| Saturday | sunny | 24 °C |\n"
    "| Sunday | a few clouds | 22 °C |\n\n"
    "1. Take the *28 tram* early, before the crowds.\n2. Lunch at the Time Out Market.\n\n"
    "A quick check in Python:\n\n```python\nprint(round((24 + 22) / 2))\n```\n\n"
    "Details: [ipma.pt](https://www.ipma.pt/en/).")


@pytest.fixture(scope="module")
def browser():
    sync_playwright = chromium_or_skip()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def served(budgeted_gateway):
    """The gateway with budgets, so the page has spend to show against them."""
    return budgeted_gateway


@pytest.fixture
def page(browser, served):  # closed before the gateway stops
    context = browser.new_context(viewport={"width": 1100, "height": 720})
    tab = context.new_page()
    tab.problems = []  # page errors and CSP violations, which every test checks are absent
    tab.on("pageerror", lambda error: tab.problems.append(str(error)))
    tab.on("console", lambda message: message.type == "error" and tab.problems.append(message.text))
    yield tab
    context.close()


def sign_in(page, url, token=TOKEN):
    page.goto(url + "/")
    page.fill("#token", token)
    page.press("#token", "Enter")


def send(page, text):
    page.fill("#input", text)
    page.press("#input", "Enter")


def last_reply(page):
    return page.locator(".msg.assistant").last


def wait_done(page):
    page.wait_for_selector(".msg.assistant:last-of-type .meta:not(:empty)", timeout=20_000)


def paint_ms(page):
    return page.evaluate("performance.getEntriesByName('first-contentful-paint')[0]?.startTime")


def test_sign_in_by_keyboard_send_with_enter_and_see_the_reply_stream(page, served, fake_anthropic):
    fake_anthropic.add(slow_text_reply("Good morning! The reply arrives piece by piece.", pause=0.2))
    page.goto(served.url + "/")
    # Keyboard only: the token field has the focus, Enter signs in, the message box has it next.
    page.wait_for_function("() => document.activeElement?.id === 'token'")
    page.keyboard.type(TOKEN)
    page.keyboard.press("Enter")
    page.wait_for_selector("#app:not([hidden])")
    page.wait_for_function("() => document.activeElement?.id === 'input'")
    page.keyboard.type("hello")
    page.keyboard.press("Enter")
    # Text is on screen while the turn is still going (the typing marker is still there).
    page.wait_for_function("""() => {
        const body = [...document.querySelectorAll('.msg.assistant div')].find(d => d.classList.contains('typing'));
        return body && body.textContent.length > 0; }""", timeout=10_000)
    assert page.locator(".msg.assistant .meta").last.inner_text() == ""
    assert page.is_visible("#stop") and not page.is_visible("#send")
    wait_done(page)
    assert last_reply(page).locator("p").inner_text() == "Good morning! The reply arrives piece by piece."
    assert "in ·" in last_reply(page).locator(".meta").inner_text()
    assert page.problems == []


def test_the_session_is_found_after_a_reload_and_in_the_api(page, served):
    sign_in(page, served.url)
    send(page, "remember me")
    wait_done(page)
    page.wait_for_selector("#sessions button[aria-current=true]")
    session_id = page.get_attribute("#sessions button[aria-current=true]", "data-id")
    page.reload()
    page.wait_for_selector(f"#sessions button[data-id='{session_id}']")
    assert page.locator(".msg.user").inner_text() == "remember me"  # reopened where it was
    assert last_reply(page).inner_text().startswith("echo: remember me")
    listed = httpx.get(f"{served.url}/v1/sessions", headers=served.auth()).json()["data"]
    assert listed[0]["id"] == session_id


def test_older_sessions_come_a_page_at_a_time(page, served):
    for _ in range(23):
        served.call(served.storage.create_session("gateway"))
    sign_in(page, served.url)
    page.wait_for_selector("#more:not([hidden])")
    assert page.locator("#sessions li").count() == 20
    page.click("#more")
    page.wait_for_selector("#more[hidden]", state="attached")
    assert page.locator("#sessions li").count() == 23


def test_a_session_that_is_gone_opens_a_new_conversation(page, served):
    page.goto(served.url + "/#no-such-session")
    page.fill("#token", TOKEN)
    page.press("#token", "Enter")
    page.wait_for_selector(".empty")
    assert page.evaluate("() => location.hash") == ""
    assert page.inner_text("#title") == "New conversation"


def test_tool_calls_show_as_one_line_each(page, served, fake_anthropic):
    fake_anthropic.add(tool_use_reply("current_time", {"timezone": "UTC"}, text="Let me look."),
                       text_reply("It is noon."))
    sign_in(page, served.url)
    send(page, "what time is it?")
    wait_done(page)
    assert last_reply(page).locator(".tool").inner_text() == "⚙ current_time"
    assert last_reply(page).locator(".body").inner_text() == "Let me look.\n\nIt is noon."
    page.reload()  # the same from the stored history
    page.wait_for_selector(".msg.assistant .tool")
    assert last_reply(page).locator(".tool").inner_text() == "⚙ current_time"


def test_the_spend_shows_and_moves_after_a_turn(page, served):
    sign_in(page, served.url)
    page.wait_for_selector("#spend strong")
    assert page.inner_text("#spend").startswith("Today: $0 of $5.00")
    send(page, "spend something")
    wait_done(page)
    page.wait_for_function("() => document.querySelector('#spend strong').textContent !== '$0'")
    assert "of $50.00" in page.inner_text("#spend") and "This conversation: $0.0" in page.inner_text("#spend")


def test_the_scroll_position_is_kept_while_streaming_unless_at_the_bottom(page, served, fake_anthropic):
    long_reply = "\n\n".join(f"Paragraph {n} of a long answer." for n in range(60))
    fake_anthropic.add(slow_text_reply(long_reply, pause=0.03, chunk_size=40),
                       slow_text_reply(long_reply, pause=0.03, chunk_size=40))
    sign_in(page, served.url)
    send(page, "a long one, followed")
    wait_done(page)
    assert page.evaluate("() => { const l = document.querySelector('#log');"
                         " return l.scrollHeight - l.scrollTop - l.clientHeight < 40; }")
    send(page, "a long one, read from the top")
    page.wait_for_function("() => document.querySelectorAll('.msg.assistant p').length > 65")
    page.evaluate("() => { document.querySelector('#log').scrollTop = 0; }")
    wait_done(page)
    assert page.evaluate("() => document.querySelector('#log').scrollTop") == 0


def test_stop_cancels_the_reply_in_flight(page, served, fake_anthropic):
    fake_anthropic.add(slow_text_reply("This answer is very long and would take ages to finish.",
                                       pause=1.0))
    sign_in(page, served.url)
    send(page, "tell me everything")
    page.wait_for_function(
        "() => document.querySelector('.msg.assistant p')?.textContent.length > 0")
    page.click("#stop")
    wait_done(page)
    assert last_reply(page).locator(".meta").inner_text().startswith("Stopped")
    assert page.is_visible("#send") and not page.is_visible("#stop")
    session_id = page.get_attribute("#sessions button[aria-current=true]", "data-id")
    stored = httpx.get(f"{served.url}/v1/sessions/{session_id}", headers=served.auth()).json()
    said = stored["messages"][1]["content"][0]["text"]
    assert said and "This answer is very long".startswith(said.strip()[:24])


def test_markup_in_a_reply_is_shown_as_text(page, served, fake_anthropic):
    fake_anthropic.add(text_reply(
        'Try <img src=x onerror="window.pwned=1"> and <script>window.pwned=2</script> or '
        '[click](javascript:window.pwned=3) and <b>bold?</b>\n\n```html\n<iframe src=x></iframe>\n```'))
    sign_in(page, served.url)
    send(page, "<img src=x onerror=\"window.pwned=4\">")
    wait_done(page)
    log = page.locator("#log")
    assert log.locator("img, script, iframe, b").count() == 0
    assert log.locator("a").count() == 0  # javascript: is never a link
    assert page.evaluate("window.pwned") is None
    text = last_reply(page).inner_text()
    assert '<img src=x onerror="window.pwned=1">' in text and "<script>window.pwned=2</script>" in text
    assert "<iframe src=x></iframe>" in last_reply(page).locator("pre").inner_text()
    assert page.locator(".msg.user").inner_text() == '<img src=x onerror="window.pwned=4">'


def test_a_wrong_token_shows_the_message(page, served):
    sign_in(page, served.url, token="not-a-token")
    page.wait_for_function(
        "() => document.querySelector('#signin-error').textContent.includes('not accepted')")
    assert page.is_visible("#signin") and not page.is_visible("#app")
    assert "wrong, expired or revoked" in page.inner_text("#signin-error")


def test_the_page_is_served_with_its_content_security_policy(page, served):
    response = page.goto(served.url + "/")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    # Inline script is refused by the browser itself under that policy.
    blocked = page.evaluate("""() => new Promise(resolve => {
        document.addEventListener('securitypolicyviolation', e => resolve(e.violatedDirective));
        const s = document.createElement('script'); s.textContent = 'window.inlineRan = true';
        document.body.appendChild(s); setTimeout(() => resolve(null), 1000); })""")
    assert blocked and blocked.startswith("script-src") and page.evaluate("window.inlineRan") is None


def test_after_a_network_drop_the_page_reconnects_and_resumes_the_turn(page, served, fake_anthropic):
    fake_anthropic.add(slow_text_reply("Before the drop, and after it: all of it arrives.", pause=0.4))
    host, port = served.url.removeprefix("http://").split(":")
    proxy = DroppingProxy((host, int(port)))
    try:
        sign_in(page, f"http://127.0.0.1:{proxy.port}")
        send(page, "survive a drop")
        page.wait_for_function(
        "() => document.querySelector('.msg.assistant p')?.textContent.length > 0")
        proxy.drop()
        page.wait_for_function(
            "() => document.querySelector('#status').textContent === 'Reconnecting…'")
        wait_done(page)
        assert last_reply(page).locator("p").inner_text() == \
            "Before the drop, and after it: all of it arrives."
        assert page.inner_text("#status") == "Connected"
    finally:
        proxy.close()


def test_a_phone_screen_gets_a_drawer_and_dark_mode_follows_the_system(browser, served):
    context = browser.new_context(viewport={"width": 390, "height": 844}, color_scheme="dark",
                                  is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        sign_in(page, served.url)
        page.wait_for_selector("#app:not([hidden])")
        assert not page.locator("#sidebar").is_visible() or page.evaluate(
            "document.querySelector('#sidebar').getBoundingClientRect().right <= 0")
        page.click("#menu")
        page.wait_for_function(
            "() => document.querySelector('#sidebar').getBoundingClientRect().left >= 0")
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(21, 22, 26)"
    finally:
        context.close()


def test_screenshot_for_the_readme_and_the_timings(browser, served, fake_anthropic, capsys,
                                                   tmp_path):
    """Takes the README's screenshot and prints the page's own measurements. The picture is
    written over docs/chat.png only when BLUFIO_SAVE_SCREENSHOT=1 (a test run leaves the
    checkout as it was)."""
    picture = os.path.join(DOCS, "chat.png") if SAVE_SCREENSHOT else str(tmp_path / "chat.png")
    fake_anthropic.add(text_reply("A few things, briefly.", usage={"input_tokens": 900, "output_tokens": 30}),
                       slow_text_reply(MARKDOWN_REPLY, pause=0.02, chunk_size=12,
                                       usage={"input_tokens": 1400, "output_tokens": 160}))
    context = browser.new_context(viewport={"width": 1100, "height": 720})
    try:
        page = context.new_page()
        sign_in(page, served.url)
        send(page, "Plan my weekend")
        wait_done(page)
        send(page, "What is the weather in Lisbon this weekend?")
        page.wait_for_function(
            "() => document.querySelectorAll('.msg.assistant .meta:not(:empty)').length === 2",
            timeout=20_000)
        page.wait_for_timeout(300)
        page.screenshot(path=picture)
        deltas = page.evaluate("window.blufioTimings.firstDeltas")
        cold = paint_ms(page)
        warm, html = [], []
        for _ in range(5):
            page.reload()
            page.wait_for_selector(".msg.assistant")
            warm.append(paint_ms(page))
            html.append(page.evaluate("() => performance.getEntriesByType('navigation')[0].responseEnd"))
    finally:
        context.close()
    assert len(deltas) == 2
    with capsys.disabled():
        print(f"\nchat page: first contentful paint {cold:.0f} ms (first load), "
              f"{statistics.median(warm):.0f} ms median of {len(warm)} reloads (the page's HTML "
              f"in after {statistics.median(html):.0f} ms); first delta on "
              f"screen {max(deltas):.1f} ms after it reached the page (worst of {len(deltas)})")
