"""A session ended from elsewhere (another device's logout here): the terminal says so once, on the login
page, which returns to the page the trader was on; this browser's own logout says nothing."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import PASSWORD, Stack, shot
from tests.e2e.test_sessions import rest_login
from tests.e2e.test_terminal import SYMBOL, login

pytestmark = pytest.mark.browser

NOTICE = "You were logged out: this session was ended from another device, or it expired. Log in again."


def test_a_session_ended_from_another_device_says_so_on_the_login_page(stack: Stack, new_page: Any) -> None:
    email = stack.register("ended")
    page = new_page()
    login(page, email)
    page.goto(f"/#/trade/{SYMBOL}")
    expect(page.get_by_test_id("order-form")).to_be_visible()

    # another device lists the account's sessions and ends the browser's (the one that is not its own)
    other = rest_login(stack, email, "curl/8.5.0")
    headers = {"Authorization": f"Bearer {other['access_token']}"}
    with httpx.Client(base_url=stack.base_url, headers=headers, timeout=10) as client:
        r = client.get("/api/auth/sessions")
        assert r.status_code == 200, r.text
        browsers = [s for s in r.json() if not s["current"]]
        assert len(browsers) == 1, r.json()
        assert client.delete(f"/api/auth/sessions/{browsers[0]['id']}").status_code == 204

    # the WebSocket's TOKEN_REVOKED (or the next request) ends it here: the login page tells why
    notice = page.get_by_test_id("session-ended")
    expect(notice).to_have_text(NOTICE, timeout=10_000)
    expect(page.get_by_role("button", name="Log in", exact=True)).to_be_visible()
    expect(page.get_by_test_id("user-email")).to_have_count(0)
    expect(page).to_have_url(re.compile(r"#/login\?next=%23%2Ftrade%2F" + SYMBOL + "$"))
    shot(page, "15-session-ended")

    # logging in again returns to the trade page; the notice is gone, and the own logout shows none
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    expect(page.get_by_test_id("user-email")).to_have_text(email)
    expect(page).to_have_url(re.compile(rf"#/trade/{SYMBOL}$"))
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_test_id("user-email")).to_have_count(0)
    page.goto("/#/login")
    expect(page.get_by_role("button", name="Log in", exact=True)).to_be_visible()
    expect(notice).to_have_count(0)


def test_a_session_ended_while_the_terminal_was_closed_says_so_when_it_opens_again(
    stack: Stack, new_page: Any
) -> None:
    """The trader closes the terminal; another device logs that session out; opening the terminal again (the
    same browser: its cookie is refused with SESSION_ENDED) lands on the login page with the notice."""
    email = stack.register("ended-closed")
    page = new_page()
    login(page, email)
    context = page.context
    page.close()

    other = rest_login(stack, email, "curl/8.5.0")
    headers = {"Authorization": f"Bearer {other['access_token']}"}
    with httpx.Client(base_url=stack.base_url, headers=headers, timeout=10) as client:
        browsers = [s for s in client.get("/api/auth/sessions").json() if not s["current"]]
        assert len(browsers) == 1, browsers
        assert client.delete(f"/api/auth/sessions/{browsers[0]['id']}").status_code == 204

    again = context.new_page()
    again.goto(f"/#/trade/{SYMBOL}")
    expect(again.get_by_test_id("session-ended")).to_have_text(NOTICE, timeout=10_000)
    expect(again).to_have_url(re.compile(r"#/login\?next=%23%2Ftrade%2F" + SYMBOL + "$"))
    expect(again.get_by_test_id("user-email")).to_have_count(0)


def test_a_session_that_expired_while_the_terminal_was_closed_says_so_on_the_page_opened(
    stack: Stack, new_page: Any
) -> None:
    """A kept session whose refresh cookie is gone when the terminal opens again (it expired: the browser
    drops an expired cookie) is not silently forgotten: the page opened says the session expired, with a
    link to log in that returns here, and stays where it is; logging in again clears the notice."""
    email = stack.register("expired")
    page = new_page()
    login(page, email)
    page.context.clear_cookies()  # what the browser does with the refresh cookie once it expires
    page.goto(f"/#/trade/{SYMBOL}")
    page.reload()
    notice = page.get_by_test_id("session-expired")
    expect(notice).to_contain_text("Your session expired while the terminal was closed.")
    expect(page).to_have_url(re.compile(rf"#/trade/{SYMBOL}$"))  # no detour to the login page
    expect(page.get_by_test_id("user-email")).to_have_count(0)
    notice.get_by_role("link", name="Log in again").click()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    expect(page).to_have_url(re.compile(rf"#/trade/{SYMBOL}$"))
    expect(page.get_by_test_id("user-email")).to_have_text(email)
    expect(notice).to_have_count(0)
