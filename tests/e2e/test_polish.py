"""Small defects of the terminal, in headless Chromium against the real stack: the assets a market's listing
names (not its symbol's halves), and phone toasts that keep off the control in use."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import PASSWORD, Stack, shot
from tests.e2e.test_terminal import SYMBOL, login, open_trade, order_toast

pytestmark = pytest.mark.browser


def test_the_book_and_the_title_name_the_assets_the_markets_listing_names(
    stack: Stack, new_page: Any
) -> None:
    """The order book's column titles and the tab's title name the market's assets as `GET /api/markets`
    lists them (here BTC-USDT listed with base "XBT" and quote "USD-T", a quote asset with a dash), not
    the halves of the symbol split at its dash."""
    page = new_page()

    def relisted(route: Any) -> None:
        listed = route.fetch().json()
        for m in listed:
            if m["symbol"] == SYMBOL:
                m["base"], m["quote"] = "XBT", "USD-T"
        route.fulfill(status=200, content_type="application/json", body=json.dumps(listed))

    page.route(re.compile(r"/api/markets$"), relisted)
    open_trade(page)
    columns = page.locator("[data-testid=order-book] .book-cols span")
    expect(columns).to_have_text(["Price(USD-T)", "Amount(XBT)", "Sum"])
    expect(columns.nth(1)).to_have_attribute("title", "Amount at the price, in XBT")
    expect(page).to_have_title(re.compile(r" · XBT/USD-T · Exchange$"))


# whether the centre of `b` is `b` or inside it (nothing covers it there), where it is on the screen, and
# the boxes of the toasts and of the header
UNCOVERED = """(b) => {
    const r = b.getBoundingClientRect();
    const hit = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
    const box = (e) => { const q = e.getBoundingClientRect(); return [q.top, q.bottom]; };
    return {
        uncovered: b.contains(hit),
        hit: hit ? hit.outerHTML.slice(0, 80) : null,
        button: [r.top, r.bottom],
        screen: window.innerHeight,
        toasts: [...document.querySelectorAll('[data-testid=toast]')].map(box),
        header: box(document.querySelector('header.topbar')),
    };
}"""


@pytest.mark.parametrize(("width", "height"), [(390, 844), (360, 780)])
def test_a_toast_on_a_phone_leaves_the_change_password_button_uncovered_and_clickable(
    stack: Stack, new_page: Any, width: int, height: int
) -> None:
    """On a phone, typing in the Devices tab's password form with its "Change password" button at the
    bottom edge of the screen (where phone toasts show), an order's toast comes: it shows at the top under
    the header instead, the button stays uncovered and takes the click, and the toast's Dismiss removes it."""
    email = stack.register("phone-password")
    page = new_page(width, height)
    login(page, email)
    open_trade(page)
    page.get_by_role("tab", name="Devices").click()
    # the device list above the form loads first: its rows replacing "Loading…" would move the button down
    expect(page.get_by_test_id("this-device")).to_be_visible()
    page.locator("summary", has_text="Change password").click()  # opens the form
    form = page.get_by_test_id("password-change")
    button = form.get_by_role("button", name="Change password")
    form.get_by_label("Current password").fill(PASSWORD)
    form.get_by_label("New password", exact=True).fill("another horse battery")
    form.get_by_label("Repeat new password").fill("another horse battery!")  # typing: the focus is here
    # the button at the bottom edge of the screen, as one scrolls down to a form's submit button
    button.evaluate("(b) => { b.scrollIntoView({ block: 'end' }); window.scrollBy(0, 12); }")
    where = button.evaluate(UNCOVERED)
    assert where["screen"] - 60 < where["button"][1] <= where["screen"], f"not at the bottom edge: {where}"

    toast = order_toast(stack, page, email)
    shot(page, f"34-phone-{width}-toast-password")
    where = button.evaluate(UNCOVERED)
    assert where["uncovered"], f"the toast covers the Change password button: {where}"
    assert all(top >= where["header"][1] for top, _bottom in where["toasts"]), f"over the header: {where}"
    button.click(timeout=3_000)  # Playwright refuses to click a button that something covers
    expect(page.get_by_test_id("password-change-error")).to_have_text("The two new passwords differ")
    expect(toast).to_be_visible()  # still showing: the click went to the button, not through a toast
    toast.get_by_role("button", name="Dismiss").click()
    expect(toast).to_have_count(0)
    headers = {"Authorization": f"Bearer {stack.token(email)}"}
    with httpx.Client(base_url=stack.base_url, headers=headers, timeout=10) as c:
        assert c.delete("/api/orders").status_code == 200
