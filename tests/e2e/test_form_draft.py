"""The order form's draft in headless Chromium against the real stack: what the trader set in the form (side,
type, price, amount or total, time in force, post-only, amount mode) is kept per market in the tab's
sessionStorage, so a reload, a switch to another market and back, or a detour through the login page finds it
as it was; after an order it is what the form showed after it; a corrupted entry loads an empty form."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import PASSWORD, Stack, shot
from tests.e2e.test_order_form import UNKNOWN, open_orders
from tests.e2e.test_terminal import (
    SYMBOL,
    answer_orders,
    best,
    capped_market_buy,
    login,
    market,
    open_trade,
    place_limit,
    qty_for,
    snap,
)

pytestmark = pytest.mark.browser

OTHER = "ETH-USDT"
OPEN_ROWS = "[data-testid=open-orders] tbody tr[data-order-id]"


def reload(page: Any) -> None:
    """Reload the page and wait for the trade page to be back (the book in sync: the form is mounted)."""
    page.reload()
    expect(page.get_by_test_id("order-book")).to_have_attribute("data-synced", "1", timeout=20_000)
    expect(page.get_by_test_id("order-form")).to_be_visible()


def switch_market(page: Any, symbol: str) -> None:
    """The trade page's own market switch (no reload: the same order form, another market)."""
    page.get_by_role("combobox", name="Market", exact=True).select_option(symbol)
    expect(page).to_have_url(re.compile(rf"#/trade/{symbol}$"))
    expect(page.get_by_test_id("order-book")).to_have_attribute("data-synced", "1", timeout=20_000)


def last_price(stack: Stack, symbol: str) -> Decimal:
    """The market's last trade price, as the API has it (not the book on screen, which may still be the
    previous market's for a moment after a switch)."""
    tickers = httpx.get(f"{stack.base_url}/api/tickers", timeout=10).json()
    return Decimal(next(t for t in tickers if t["symbol"] == symbol)["last"])


def lots(m: dict[str, Any], n: int) -> str:
    """n lots of the market, as the form shows an amount typed so."""
    return format((Decimal(m["lot_size"]) * n).normalize(), "f")


def fill_limit(page: Any, side: str, price: str, qty: str, tif: str = "gtc") -> None:
    """A limit order typed into the form, not sent."""
    form = page.get_by_test_id("order-form")
    form.get_by_role("button", name=side.capitalize(), exact=True).click()
    form.get_by_role("button", name="Limit", exact=True).click()
    form.get_by_label("Time in force").select_option(tif)
    form.locator("input[name=price]").fill(price)
    form.locator("input[name=qty]").fill(qty)
    form.locator("input[name=qty]").blur()


def expect_limit(page: Any, side: str, price: str, qty: str, tif: str = "gtc") -> None:
    form = page.get_by_test_id("order-form")
    expect(form.get_by_role("button", name=side.capitalize(), exact=True)).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(form.get_by_role("button", name="Limit", exact=True)).to_have_attribute("aria-pressed", "true")
    expect(form.locator("input[name=price]")).to_have_value(price)
    expect(form.locator("input[name=qty]")).to_have_value(qty)
    expect(form.get_by_label("Time in force")).to_have_value(tif)


def draft_keys(page: Any, storage: str) -> list[str]:
    """The keys of `storage` (sessionStorage or localStorage) that hold an order form draft of a market."""
    return list(
        page.evaluate(
            """(name) => Object.keys(window[name]).filter((k) => /BTC-USDT|ETH-USDT/.test(k)
                && /price/.test(window[name].getItem(k) || ''))""",
            storage,
        )
    )


def test_a_reload_keeps_the_form_as_the_trader_left_it(stack: Stack, new_page: Any) -> None:
    """A sell limit with its price, amount and time in force; then post-only; then a market buy by total:
    after each reload the form shows what was in it. The draft is in the tab's sessionStorage, not in
    localStorage (a draft order must not come back days later)."""
    page = new_page()
    open_trade(page)
    m = market(stack)
    form = page.get_by_test_id("order-form")
    price = format(snap(best(page, "asks") * Decimal("1.05"), m["tick_size"]), "f")
    qty = lots(m, 37)
    fill_limit(page, "sell", price, qty, tif="ioc")
    reload(page)
    expect_limit(page, "sell", price, qty, tif="ioc")
    shot(page, "form-draft-reloaded")

    form.get_by_label("Post-only").check()  # post-only takes GTC
    reload(page)
    expect_limit(page, "sell", price, qty, tif="gtc")
    expect(form.get_by_label("Post-only")).to_be_checked()

    # a market buy giving what to spend (the amount in the quote asset)
    form.get_by_role("button", name="Buy", exact=True).click()
    form.get_by_role("button", name="Market", exact=True).click()
    form.get_by_label("Amount in").select_option("quote")
    form.locator("input[name=quote_qty]").fill("250.5")
    reload(page)
    expect(form.get_by_role("button", name="Buy", exact=True)).to_have_attribute("aria-pressed", "true")
    expect(form.get_by_role("button", name="Market", exact=True)).to_have_attribute("aria-pressed", "true")
    expect(form.get_by_label("Amount in")).to_have_value("quote")
    expect(form.locator("input[name=quote_qty]")).to_have_value("250.5")
    # back to Limit: the limit fields are as they were
    form.get_by_role("button", name="Limit", exact=True).click()
    expect(form.locator("input[name=price]")).to_have_value(price)
    expect(form.locator("input[name=qty]")).to_have_value(qty)

    assert len(draft_keys(page, "sessionStorage")) == 1, draft_keys(page, "sessionStorage")
    assert draft_keys(page, "localStorage") == []


def test_each_market_keeps_its_own_draft(stack: Stack, new_page: Any) -> None:
    """A sell on BTC-USDT, then a buy on ETH-USDT: switching back and forth (and a reload) shows each market's
    own draft, never one market's price on another."""
    page = new_page()
    open_trade(page)
    btc, eth = market(stack), market(stack, OTHER)
    btc_price = format(snap(last_price(stack, SYMBOL) * Decimal("1.04"), btc["tick_size"]), "f")
    btc_qty = lots(btc, 21)
    fill_limit(page, "sell", btc_price, btc_qty)

    switch_market(page, OTHER)
    form = page.get_by_test_id("order-form")
    expect(form.locator("input[name=price]")).to_have_value("")  # BTC's price is not ETH's
    expect(form.locator("input[name=qty]")).to_have_value("")
    eth_price = format(snap(last_price(stack, OTHER) * Decimal("0.96"), eth["tick_size"]), "f")
    eth_qty = lots(eth, 13)
    fill_limit(page, "buy", eth_price, eth_qty, tif="fok")

    switch_market(page, SYMBOL)
    expect_limit(page, "sell", btc_price, btc_qty)
    reload(page)
    expect_limit(page, "sell", btc_price, btc_qty)
    switch_market(page, OTHER)
    expect_limit(page, "buy", eth_price, eth_qty, tif="fok")
    reload(page)
    expect_limit(page, "buy", eth_price, eth_qty, tif="fok")
    # a market never visited has no draft: the fields are empty
    switch_market(page, "BNB-USDT")
    expect(form.locator("input[name=price]")).to_have_value("")
    expect(form.locator("input[name=qty]")).to_have_value("")


def test_after_an_order_a_reload_shows_what_the_form_showed_not_the_order_again(
    stack: Stack, new_page: Any
) -> None:
    """A limit buy placed: the form keeps its price and clears its amount; a reload shows just that (not the
    amount sent), and sends nothing."""
    page = new_page()
    email = stack.register("draft-placed")
    login(page, email)
    open_trade(page)
    m = market(stack)
    price = snap(best(page, "bids") * Decimal("0.95"), m["tick_size"])
    place_limit(page, "buy", price, qty_for(m, price))
    expect(page.locator(OPEN_ROWS)).to_have_count(1)
    form = page.get_by_test_id("order-form")
    expect(form.locator("input[name=qty]")).to_have_value("")
    reload(page)
    expect_limit(page, "buy", format(price, "f"), "")
    expect(page.get_by_test_id("order-reason")).to_have_text("Enter an amount")
    expect(page.locator(OPEN_ROWS)).to_have_count(1)
    assert len(open_orders(stack, email)) == 1


def test_the_rest_of_an_order_stopped_at_the_cap_is_what_a_reload_shows(stack: Stack, new_page: Any) -> None:
    """An order the engine stopped at its cap on resting orders matched leaves its unfilled amount in the form
    (test_order_form.py): a reload shows that amount, not the amount sent. (The capped answer is given by the
    page's network layer, as in test_order_form.py.)"""
    page = new_page()
    login(page, stack.register("draft-capped"))
    open_trade(page)
    sent = answer_orders(page, capped_market_buy)
    form = page.get_by_test_id("order-form")
    form.get_by_role("button", name="Buy", exact=True).click()
    form.get_by_role("button", name="Market", exact=True).click()
    form.locator("input[name=qty]").fill("0.005")
    expect(page.get_by_test_id("market-price")).to_contain_text(re.compile(r"avg ≈ \d"), timeout=10_000)
    page.get_by_test_id("submit-order").click()
    expect(page.get_by_test_id("order-carry")).to_be_visible()
    expect(form.locator("input[name=qty]")).to_have_value("0.0038")
    page.unroute("**/api/orders")
    reload(page)
    expect(form.get_by_role("button", name="Market", exact=True)).to_have_attribute("aria-pressed", "true")
    expect(form.get_by_role("button", name="Buy", exact=True)).to_have_attribute("aria-pressed", "true")
    expect(form.locator("input[name=qty]")).to_have_value("0.0038")
    assert [b["qty"] for b in sent] == ["0.005"]


def test_an_order_whose_status_is_unknown_is_not_restored_for_a_resend_with_a_new_id(
    stack: Stack, new_page: Any
) -> None:
    """A draft is kept across a reload; but once an order's answer is lost (its status unknown), the form
    keeps it on the page for a resend with the same client order id, as before, and a reload does not bring it
    back: sent from a restored draft it would go with a new id, and could be placed twice."""
    page = new_page(allow_console="ERR_TIMED_OUT|Failed to load resource")
    email = stack.register("draft-lost")
    login(page, email)
    open_trade(page)
    m = market(stack)
    price = snap(best(page, "bids") * Decimal("0.95"), m["tick_size"])
    qty = qty_for(m, price)
    fill_limit(page, "buy", format(price, "f"), qty)
    reload(page)
    expect_limit(page, "buy", format(price, "f"), qty)  # a draft is kept

    sent: list[dict[str, Any]] = []

    def lose_the_answer(route: Any) -> None:
        if route.request.method != "POST":
            route.continue_()
            return
        sent.append(json.loads(route.request.post_data or "{}"))
        answer = route.fetch()  # the server places the order...
        assert answer.status == 201, answer.text()
        route.abort("timedout")  # ...and the browser never sees its answer

    page.route("**/api/orders", lose_the_answer)
    page.get_by_test_id("submit-order").click()
    expect(page.get_by_test_id("order-reason")).to_have_text(UNKNOWN)
    expect_limit(page, "buy", format(price, "f"), qty)  # on the page: kept for a resend with the same id
    assert len(open_orders(stack, email)) == 1
    page.unroute("**/api/orders")

    reload(page)
    form = page.get_by_test_id("order-form")
    expect(form.locator("input[name=price]")).to_have_value("")
    expect(form.locator("input[name=qty]")).to_have_value("")
    expect(page.get_by_test_id("submit-order")).to_be_disabled()
    assert draft_keys(page, "sessionStorage") == []
    assert len(sent) == 1
    assert len(open_orders(stack, email)) == 1


def test_logged_out_the_draft_waits_through_the_login(stack: Stack, new_page: Any) -> None:
    """Logged out, the trader fills the form, then follows "Log in to trade": back on the market after
    logging in, the form holds what they typed."""
    page = new_page()
    email = stack.register("draft-login")
    open_trade(page)
    m = market(stack)
    price = format(snap(best(page, "asks") * Decimal("1.03"), m["tick_size"]), "f")
    qty = lots(m, 17)
    fill_limit(page, "sell", price, qty, tif="ioc")
    page.get_by_test_id("login-to-trade").click()
    expect(page).to_have_url(re.compile(r"#/login\?next="))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    expect(page.get_by_test_id("user-email")).to_have_text(email)
    expect(page).to_have_url(re.compile(rf"#/trade/{SYMBOL}$"))
    expect_limit(page, "sell", price, qty, tif="ioc")
    expect(page.get_by_test_id("submit-order")).to_be_visible()


# ways a stored draft can be corrupted, each applied to the draft the form stored (JavaScript, given the
# stored object `d`, returns the text to store in its place)
CORRUPTIONS = {
    "not JSON": '() => \'{"v": 1, "side": \'',
    "not an object": "() => JSON.stringify([d])",
    "null": "() => 'null'",
    "an unknown field": "() => JSON.stringify({ ...d, clientOrderId: 't0123456789abcdef' })",
    "a field missing": "() => { const { price, ...rest } = d; return JSON.stringify(rest); }",
    "a price of the wrong type": "() => JSON.stringify({ ...d, price: 61000 })",
    "a price that is not a decimal": "() => JSON.stringify({ ...d, price: '6.1e4' })",
    "an amount that is markup": "() => JSON.stringify({ ...d, qty: '<img src=x onerror=alert(1)>' })",
    "an unknown side": "() => JSON.stringify({ ...d, side: 'short' })",
}


def test_a_corrupted_draft_loads_an_empty_form_without_errors(stack: Stack, new_page: Any) -> None:
    """Whatever is stored in the draft's place (not JSON, another shape, an unknown field, a price that is
    not a decimal...), the page loads with an empty form and no error; the next edit is kept again."""
    page = new_page()
    open_trade(page)
    m = market(stack)
    form = page.get_by_test_id("order-form")
    price = format(snap(best(page, "asks") * Decimal("1.05"), m["tick_size"]), "f")
    qty = lots(m, 29)
    fill_limit(page, "sell", price, qty)
    keys = draft_keys(page, "sessionStorage")
    assert len(keys) == 1, keys
    key = keys[0]
    good = page.evaluate("(k) => sessionStorage.getItem(k)", key)
    for what, corrupt in CORRUPTIONS.items():
        page.evaluate(
            f"([k, good]) => {{ const d = JSON.parse(good); sessionStorage.setItem(k, ({corrupt})()); }}",
            [key, good],
        )
        reload(page)
        expect(form.locator("input[name=price]"), what).to_have_value("")
        expect(form.locator("input[name=qty]"), what).to_have_value("")
        expect(page.get_by_test_id("login-to-trade"), what).to_be_visible()
    shot(page, "form-draft-corrupted")

    # the stored draft itself was right: put back, it loads; and the next edit is kept again
    page.evaluate("([k, good]) => sessionStorage.setItem(k, good)", [key, good])
    reload(page)
    expect_limit(page, "sell", price, qty)
    form.locator("input[name=qty]").fill(lots(m, 30))
    reload(page)
    expect_limit(page, "sell", price, lots(m, 30))
