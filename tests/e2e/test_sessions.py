"""The account panel's Devices tab: the account's login sessions listed by device, this one marked, the
others logged out from the browser (their refresh and access tokens stop working at once)."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import PASSWORD, Stack, shot
from tests.e2e.test_terminal import login

pytestmark = pytest.mark.browser

FIREFOX_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0"


def rest_login(stack: Stack, email: str, user_agent: str) -> dict[str, Any]:
    """A login from another "device": its User-Agent, its tokens in the body (no cookie)."""
    r = httpx.post(
        f"{stack.base_url}/api/auth/login",
        json={"email": email, "password": PASSWORD},
        headers={"User-Agent": user_agent},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


def refresh_status(stack: Stack, refresh_token: str) -> int:
    r = httpx.post(f"{stack.base_url}/api/auth/refresh", json={"refresh_token": refresh_token}, timeout=10)
    return r.status_code


def wait_revoked(stack: Stack, access_token: str) -> None:
    """The access token stops working (the API process that did not handle the logout within a second)."""
    deadline = time.monotonic() + 5
    headers = {"Authorization": f"Bearer {access_token}"}
    while httpx.get(f"{stack.base_url}/api/me", headers=headers, timeout=10).status_code != 401:
        assert time.monotonic() < deadline, "a logged-out session's access token still works"
        time.sleep(0.1)


def devices_of_two(stack: Stack, new_page: Any, prefix: str) -> tuple[str, dict[str, Any], Any]:
    """A new account logged in from a "Firefox on Windows" (REST: its tokens) and from the browser, whose
    page shows the Devices tab: (email, the other device's tokens, the page)."""
    email = stack.register(prefix)
    other = rest_login(stack, email, FIREFOX_WINDOWS)
    page = new_page()
    login(page, email)
    page.goto("/#/trade/BTC-USDT")
    page.get_by_role("tab", name="Devices").click()
    return email, other, page


def test_devices_tab_lists_sessions_and_logs_the_others_out(stack: Stack, new_page: Any) -> None:
    """The same account logged in from the browser and from a "Firefox on Windows" (REST): the Devices tab
    lists both, the browser's as "This device" with no logout of its own; logging the other out (a refusal
    first: shown, the row kept) removes its row, and its refresh and access tokens get 401. "Log out all
    other devices" asks first, then ends every other session and keeps this one."""
    email, other, page = devices_of_two(stack, new_page, "sessions")
    table = page.get_by_test_id("sessions")
    rows = table.locator("tbody tr[data-session-id]")
    expect(rows).to_have_count(2)

    mine = table.locator("tbody tr[data-current]")
    expect(mine).to_have_count(1)
    expect(mine.get_by_test_id("this-device")).to_have_text("This device")
    expect(mine.get_by_role("rowheader")).to_contain_text("Chrome")  # Debian's Chromium, headless
    expect(mine.get_by_role("button")).to_have_count(0)  # this device logs out from the header
    theirs = rows.filter(has_text="Firefox 121 on Windows")
    expect(theirs).to_have_count(1)
    expect(theirs.get_by_test_id("this-device")).to_have_count(0)
    expect(theirs.locator("td").first).to_have_text("127.0.0.1")
    shot(page, "13-sessions")

    log_out = theirs.get_by_role("button", name="Log out Firefox 121 on Windows (127.0.0.1)")
    # a refused logout: the button waits disabled for the answer, the error shows as a toast, the row stays
    held: list[Any] = []
    page.route("**/api/auth/sessions/*", lambda route: held.append(route))
    log_out.click()
    expect(log_out).to_be_disabled()
    deadline = time.monotonic() + 10
    while not held:  # the page's events run while Playwright waits
        assert time.monotonic() < deadline, "the logout request never went out"
        page.wait_for_timeout(50)
    assert len(held) == 1 and held[0].request.method == "DELETE"
    held[0].fulfill(status=429, json={"error": {"code": "RATE_LIMITED", "message": "too many requests"}})
    toast = page.get_by_test_id("toast").filter(has_text="Log out failed")
    expect(toast).to_contain_text("Too many requests")
    expect(log_out).to_be_enabled()
    expect(rows).to_have_count(2)
    page.unroute("**/api/auth/sessions/*")

    log_out.click()
    expect(theirs).to_have_count(0)
    expect(rows).to_have_count(1)
    assert refresh_status(stack, other["refresh_token"]) == 401
    wait_revoked(stack, other["access_token"])
    page.get_by_role("button", name="Refresh", exact=True).click()  # the server agrees
    expect(rows).to_have_count(1)
    expect(mine).to_have_count(1)

    # two more logins elsewhere: "Log out all other devices" asks, then ends both and keeps this one
    bots = [rest_login(stack, email, "python-httpx/0.28.1"), rest_login(stack, email, "curl/8.5.0")]
    page.get_by_role("button", name="Refresh", exact=True).click()
    expect(rows).to_have_count(3)
    expect(rows.filter(has_text="python-httpx 0.28.1")).to_have_count(1)
    expect(rows.filter(has_text="curl 8.5.0")).to_have_count(1)
    questions: list[str] = []

    def answer(dialog: Any) -> None:
        questions.append(dialog.message)
        dialog.accept()

    page.once("dialog", answer)
    page.get_by_role("button", name="Log out all other devices").click()
    expect(rows).to_have_count(1)
    expect(mine).to_have_count(1)
    assert questions == ["Log out all 2 other devices? They will have to log in again."]
    for bot in bots:
        assert refresh_status(stack, bot["refresh_token"]) == 401
    expect(page.get_by_test_id("user-email")).to_have_text(email)  # this device is still logged in
    page.get_by_role("button", name="Refresh", exact=True).click()
    expect(rows).to_have_count(1)
    expect(page.get_by_role("button", name="Log out all other devices")).to_be_disabled()


def test_changing_the_password_logs_the_other_devices_out_and_keeps_this_one(
    stack: Stack, new_page: Any
) -> None:
    """Under the Devices tab, "Change password": a repeat that differs is said before anything is sent; a
    wrong current password is the server's refusal, said under the form; the right one changes it: a notice
    counts the other device logged out (its refresh token is refused), the list shows this device alone, the
    page stays logged in, and the new password is the one that logs in."""
    email, other, page = devices_of_two(stack, new_page, "password")
    rows = page.get_by_test_id("sessions").locator("tbody tr[data-session-id]")
    expect(rows).to_have_count(2)
    page.locator("summary", has_text="Change password").click()  # opens the form
    form = page.get_by_test_id("password-change")
    error = page.get_by_test_id("password-change-error")
    new = "another horse battery"
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if r.url.endswith("/api/auth/password") else None)

    form.get_by_label("Current password").fill("not the password")
    form.get_by_label("New password", exact=True).fill(new)
    form.get_by_label("Repeat new password").fill(new + "!")
    form.get_by_role("button", name="Change password").click()
    expect(error).to_have_text("The two new passwords differ")
    assert sent == []

    form.get_by_label("Repeat new password").fill(new)
    form.get_by_role("button", name="Change password").click()
    expect(error).to_have_attribute("data-code", "WRONG_PASSWORD")
    expect(error).to_have_text("The current password is wrong")
    shot(page, "15-password-change")

    form.get_by_label("Current password").fill(PASSWORD)
    form.get_by_role("button", name="Change password").click()
    toast = page.get_by_test_id("toast").filter(has_text="Password changed")
    expect(toast).to_contain_text("1 other device was logged out")
    expect(error).to_have_count(0)
    expect(form.get_by_label("Current password")).to_have_value("")
    expect(rows).to_have_count(1)
    expect(page.get_by_test_id("user-email")).to_have_text(email)  # still logged in here
    assert len(sent) == 2
    assert refresh_status(stack, other["refresh_token"]) == 401
    wait_revoked(stack, other["access_token"])
    old = httpx.post(
        f"{stack.base_url}/api/auth/login", json={"email": email, "password": PASSWORD}, timeout=10
    )
    assert old.status_code == 401
    fresh = httpx.post(f"{stack.base_url}/api/auth/login", json={"email": email, "password": new}, timeout=10)
    assert fresh.status_code == 200, fresh.text


def test_signing_up_with_an_email_that_has_an_account_offers_to_log_in_instead(
    stack: Stack, new_page: Any
) -> None:
    """Sign-up with a taken email says so and links to the login page, which returns to where the trader
    was going (here the trade page)."""
    email = stack.register("taken")
    page = new_page()
    page.goto("/#/signup?next=%23%2Ftrade%2FETH-USDT")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign up", exact=True).click()
    expect(page.get_by_test_id("auth-error")).to_have_attribute("data-code", "EMAIL_TAKEN")
    page.get_by_test_id("login-instead").click()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    expect(page.get_by_test_id("user-email")).to_have_text(email)
    expect(page).to_have_url(re.compile(r"#/trade/ETH-USDT$"))
