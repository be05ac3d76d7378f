"""The trading terminal in headless Chromium against the real stack (Redis, PostgreSQL, API, market maker)."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import signal
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import PASSWORD, Stack, shot

pytestmark = pytest.mark.browser

SYMBOL = "BTC-USDT"


def login(page: Any, email: str, password: str = PASSWORD) -> None:
    page.goto("/#/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in", exact=True).click()
    expect(page.get_by_test_id("user-email")).to_have_text(email)


def market(stack: Stack, symbol: str = SYMBOL) -> dict[str, Any]:
    return next(m for m in stack.markets if m["symbol"] == symbol)


def open_trade(page: Any, symbol: str = SYMBOL) -> None:
    page.goto(f"/#/trade/{symbol}")
    expect(page.get_by_test_id("order-book")).to_have_attribute("data-synced", "1", timeout=20_000)
    expect(page.locator("[data-testid=order-book] .book-row").first).to_be_visible(timeout=20_000)


def best(page: Any, side: str) -> Decimal:
    """Best price of one side of the book on screen (waits while the market maker re-quotes that side)."""
    rows = page.locator(f"[data-testid=book-{side}] .book-row")
    expect(rows.first).to_be_visible(timeout=30_000)
    return Decimal(rows.first.get_attribute("data-price"))  # both sides render best first


def pick_book_price(page: Any, side: str, nth: int = 0) -> str:
    """Clicks the nth row of one side of the book and returns its price. Finding, reading and clicking the
    row happen in one task of the page: the market maker keeps re-quoting, and a row that React replaced
    between two protocol calls would take the click outside the document, where React never sees it."""
    return str(
        page.wait_for_function(
            """([side, nth]) => {
                const r = document.querySelectorAll(`[data-testid=book-${side}] .book-row`)[nth];
                if (!r) return null; // that side is short for a moment: try again
                r.click();
                return r.dataset.price;
            }""",
            arg=[side, nth],
        ).json_value()
    )


def snap(value: Decimal, step: str, rounding: str = "ROUND_DOWN") -> Decimal:
    s = Decimal(step)
    return ((value / s).to_integral_value(rounding=rounding) * s).normalize()


def qty_for(m: dict[str, Any], price: Decimal) -> str:
    """The smallest amount that meets both the minimum quantity and the minimum notional (plus 10%)."""
    need = Decimal(m["min_notional"]) * Decimal("1.1") / price
    qty = max(Decimal(m["min_qty"]), snap(need, m["lot_size"], "ROUND_UP"))
    return format(qty.normalize(), "f")


def answer_orders(page: Any, answer: Callable[[dict[str, Any]], dict[str, Any]]) -> list[dict[str, Any]]:
    """Answers the page's order POSTs itself, 201 with `answer(body)` (an order the demo book cannot be made
    to give at will, such as one stopped at the cap on makers); other requests go on. Returns the bodies
    sent, as they are sent; `page.unroute("**/api/orders")` ends it."""
    sent: list[dict[str, Any]] = []

    def route(r: Any) -> None:
        if r.request.method != "POST":
            r.continue_()
            return
        body = json.loads(r.request.post_data or "{}")
        sent.append(body)
        r.fulfill(status=201, content_type="application/json", body=json.dumps(answer(body)))

    page.route("**/api/orders", route)
    return sent


def capped_market_buy(body: dict[str, Any]) -> dict[str, Any]:
    """The answer to a market buy of `body["qty"]` BTC that the engine stopped at its cap on makers
    (reason max_makers) after 0.0012 BTC."""
    return {
        "id": 987654321, "client_order_id": body["client_order_id"], "symbol": SYMBOL, "side": "buy",
        "type": "market", "price": None, "qty": body["qty"], "quote_qty": None, "filled_qty": "0.0012",
        "remaining_qty": format(Decimal(body["qty"]) - Decimal("0.0012"), "f"), "quote_filled": "72",
        "avg_price": "60000", "status": "expired", "reason": "max_makers", "time_in_force": "ioc",
        "post_only": False, "stp": "cancel_maker", "created_at": 1, "updated_at": 1, "fills": [],
    }  # fmt: skip


def post_top_bid(c: httpx.Client, symbol: str, tick: Decimal, qty: Decimal) -> dict[str, Any] | None:
    """A post-only buy of `qty` one tick above the best bid, with the client's account: the book's best bid,
    which a sell at its price takes before any other. None when the spread is one tick (it would cross) or
    the order did not rest (the book moved)."""
    book = c.get(f"/api/markets/{symbol}/book").json()
    price = Decimal(book["bids"][0][0]) + tick
    if price >= Decimal(book["asks"][0][0]):
        return None
    body = {"symbol": symbol, "side": "buy", "type": "limit", "price": format(price, "f"),
            "qty": format(qty, "f"), "post_only": True}  # fmt: skip
    r = c.post("/api/orders", json=body)
    return r.json() if r.status_code == 201 and r.json()["status"] == "open" else None


def place_limit(
    page: Any, side: str, price: Decimal, qty: str, tif: str = "gtc", post_only: bool = False
) -> None:
    form = page.get_by_test_id("order-form")
    form.get_by_role("button", name=side.capitalize(), exact=True).click()
    form.get_by_role("button", name="Limit", exact=True).click()
    form.get_by_label("Time in force").select_option(tif)
    form.get_by_label("Post-only").set_checked(post_only)
    form.locator("input[name=price]").fill(format(price, "f"))
    form.locator("input[name=qty]").fill(qty)
    form.locator("input[name=qty]").blur()
    submit = page.get_by_test_id("submit-order")
    expect(page.get_by_test_id("order-reason")).to_have_text("\u00a0")  # no reason to refuse
    expect(submit).to_be_enabled()
    submit.click()


def available(page: Any, asset: str) -> Decimal:
    page.get_by_role("tab", name="Balances").click()
    cell = page.locator(f"[data-testid=balances] tr[data-asset={asset}] td").nth(1)
    expect(cell).not_to_have_text("")
    return Decimal(cell.inner_text().replace(",", ""))


def test_sign_up_log_in_reload_and_log_out(stack: Stack, new_page: Any) -> None:
    """Sign up, stay logged in across a reload, log out, see a wrong password inline, log in."""
    page = new_page()
    email = f"signup-{int(time.time() * 1000)}@example.com"
    page.goto("/#/signup")
    shot(page, "01-signup")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign up", exact=True).click()
    expect(page.get_by_test_id("user-email")).to_have_text(email)
    page.reload()
    expect(page.get_by_test_id("user-email")).to_have_text(email)
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_test_id("user-email")).to_have_count(0)

    page.goto("/#/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in", exact=True).click()
    expect(page.get_by_test_id("auth-error")).to_be_visible()
    shot(page, "02-login-error")
    login(page, email)


def test_navigation_remembers_the_market_and_skips_the_login_page_when_logged_in(
    stack: Stack, new_page: Any
) -> None:
    """The header's Trade link opens the last market viewed; an unknown market says so in the page and the
    tab title and links to the list; the log-in and sign-up pages of a logged-in trader move on to the page
    they would lead to."""
    page = new_page()
    open_trade(page, "ETH-USDT")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Markets").click()
    expect(page).to_have_url(re.compile(r"#/markets$"))
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Trade").click()
    expect(page).to_have_url(re.compile(r"#/trade/ETH-USDT$"))
    page.goto("/#/trade/")  # no market named: the last one viewed
    expect(page).to_have_url(re.compile(r"#/trade/ETH-USDT$"))

    page.goto("/#/trade/FOO-BAR")
    expect(page.get_by_test_id("trade-missing")).to_contain_text("Unknown market FOO-BAR")
    expect(page).to_have_title("Unknown market · Exchange")
    page.get_by_test_id("trade-missing").get_by_role("link", name="See every market").click()
    expect(page).to_have_url(re.compile(r"#/markets$"))

    login(page, stack.register("nav"))
    page.goto("/#/login")
    expect(page).to_have_url(re.compile(r"#/markets$"))
    page.goto("/#/signup?next=%23%2Ftrade%2FBNB-USDT")
    expect(page).to_have_url(re.compile(r"#/trade/BNB-USDT$"))


def test_logging_in_from_the_trade_page_returns_to_it(stack: Stack, new_page: Any) -> None:
    """The header's "Log in" on a market's page carries that page along (`?next=`): after logging in the
    trader is back on it, not on the markets list."""
    page = new_page()
    email = stack.register("return")
    open_trade(page)
    page.get_by_role("link", name="Log in", exact=True).first.click()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    expect(page.get_by_test_id("user-email")).to_have_text(email)
    expect(page).to_have_url(re.compile(rf"#/trade/{SYMBOL}$"))
    expect(page.get_by_test_id("order-form")).to_be_visible()


def test_a_limit_price_far_worse_than_the_last_asks_first(stack: Stack, new_page: Any) -> None:
    """A buy priced 9 % above the market (a fat finger, within the market's 10 % price band) asks before it
    is sent; declined, no order goes."""
    page = new_page()
    login(page, stack.register("fatfinger"))
    open_trade(page)
    m = market(stack)
    price = snap(best(page, "asks") * Decimal("1.09"), m["tick_size"])
    asked: list[str] = []
    page.once("dialog", lambda d: (asked.append(d.message), d.dismiss()))
    place_limit(page, "buy", price, qty_for(m, price))
    expect(page.get_by_test_id("submit-order")).to_be_enabled()
    assert len(asked) == 1 and "above the last price" in asked[0], asked
    page.wait_for_timeout(1_000)
    expect(page.get_by_test_id("toast").filter(has_text="Order accepted")).to_have_count(0)
    expect(page.locator("[data-testid=open-orders] tbody tr[data-order-id]")).to_have_count(0)


def test_an_amount_typed_with_a_thousands_comma_is_questioned_not_read_as_a_decimal(
    stack: Stack, new_page: Any
) -> None:
    """Typed key by key, "12,000" stays "12,000" in the field and the form asks which is meant (12000 or
    12.000) instead of reading 12.000, 1,000 times less; "0,01" is a decimal comma: the field keeps the comma,
    the order form reads 0.01."""
    page = new_page()
    login(page, stack.register("comma"))
    open_trade(page)
    form = page.get_by_test_id("order-form")
    form.get_by_role("button", name="Buy", exact=True).click()
    form.get_by_role("button", name="Limit", exact=True).click()
    form.locator("input[name=price]").fill("1")
    qty = form.locator("input[name=qty]")
    qty.press_sequentially("12,000")
    expect(qty).to_have_value("12,000")
    reason = page.get_by_test_id("order-reason")
    expect(reason).to_have_text("Write 12000 or 12.000: is the comma a thousands separator?")
    expect(page.get_by_test_id("submit-order")).to_be_disabled()
    qty.fill("")
    qty.press_sequentially("0,01")
    expect(qty).to_have_value("0,01")
    expect(reason).not_to_contain_text("comma")
    expect(form).to_contain_text("0.01")  # the total: 1 x 0.01


def test_a_refused_post_only_order_says_why_under_the_button(stack: Stack, new_page: Any) -> None:
    """A post-only buy above the best ask would take liquidity: the engine refuses it, and the form says so
    under its button (not only in a toast that goes), keeping the amount to resend at another price."""
    page = new_page()
    login(page, stack.register("postonly"))
    open_trade(page)
    m = market(stack)
    price = snap(best(page, "asks") * Decimal("1.02"), m["tick_size"], "ROUND_UP")  # the book may move
    qty = qty_for(m, price)
    place_limit(page, "buy", price, qty, post_only=True)
    reason = page.get_by_test_id("order-reason")
    expect(reason).to_have_text("Not placed: post-only: it would have taken liquidity")
    expect(page.get_by_test_id("order-form").locator("input[name=qty]")).to_have_value(qty)
    page.get_by_test_id("order-form").get_by_label("Post-only").set_checked(False)
    expect(reason).to_have_text("\u00a0")  # a change of the order clears it


def test_a_fill_or_kill_order_that_the_book_cannot_fill_expires_whole(stack: Stack, new_page: Any) -> None:
    """The form's time in force offers FOK: a fill-or-kill buy priced under the best ask cannot fill at all,
    so it expires whole (the toast says why), nothing rests and nothing stays held. Post-only and a time in
    force other than GTC exclude each other in the form."""
    page = new_page()
    login(page, stack.register("fok"))
    open_trade(page)
    m = market(stack)
    form = page.get_by_test_id("order-form")
    tif = form.get_by_label("Time in force")
    expect(tif.locator("option")).to_have_text(["GTC", "IOC", "FOK"])
    form.get_by_label("Post-only").set_checked(True)
    tif.select_option("fok")
    expect(form.get_by_label("Post-only")).not_to_be_checked()
    form.get_by_label("Post-only").set_checked(True)
    expect(tif).to_have_value("gtc")

    held_before = page.locator(f"[data-testid=balances] tr[data-asset={m['quote']}] td").nth(2)
    available(page, m["quote"])  # opens the Balances tab
    before = held_before.inner_text()
    price = snap(best(page, "bids"), m["tick_size"])  # a buy at the best bid: below every ask
    place_limit(page, "buy", price, qty_for(m, price), tif="fok")
    expired = page.get_by_test_id("toast").filter(has_text="Order expired")
    expect(expired).to_be_visible()
    expect(expired).to_contain_text("fill-or-kill: the book could not fill all of it")
    expect(held_before).to_have_text(before)
    page.get_by_role("tab", name=re.compile("Open orders")).click()
    expect(page.get_by_test_id("open-orders")).to_contain_text("No open orders")


# collects what the page's Content-Security-Policy refuses (installed before any script of the page runs)
CSP_PROBE = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => window.__cspViolations.push(
    `${e.effectiveDirective} refused ${e.blockedURI || '(inline)'} at ${e.sourceFile}:${e.lineNumber}`
), true);
"""


def test_the_terminal_runs_under_its_content_security_policy(stack: Stack, new_page: Any) -> None:
    """Served with the strict CSP, the terminal loads, logs in, streams over its same-origin WebSocket
    (CSP3 `connect-src 'self'` covers ws:), draws the book and chart and places an order without a single
    violation; an inline script injected afterwards is refused, so the policy is in force."""
    page = new_page(allow_console=r"violates the following Content Security Policy directive")
    page.add_init_script(CSP_PROBE)
    sockets: list[Any] = []
    frames: list[str] = []

    def on_websocket(ws: Any) -> None:
        sockets.append(ws)
        ws.on("framereceived", lambda payload: frames.append(ws.url))

    page.on("websocket", on_websocket)
    response = page.goto("/")
    assert response is not None and response.ok
    policy = response.header_value("content-security-policy") or ""
    assert "script-src 'self'" in policy and "connect-src 'self'" in policy and "unsafe" not in policy
    assert response.header_value("x-content-type-options") == "nosniff"

    email = stack.register("csp")
    login(page, email)
    open_trade(page)
    expect(page.get_by_test_id("conn-state")).to_have_attribute("data-state", "open")
    ws_url = stack.base_url.replace("http://", "ws://", 1) + "/ws"
    assert [ws.url for ws in sockets] == [ws_url] and not sockets[0].is_closed()
    assert frames, "no WebSocket frame arrived"
    expect(page.get_by_test_id("chart")).not_to_have_attribute("data-bars", "0", timeout=20_000)
    # the depth bars are sized through the CSSOM (element.style), which style-src does not govern
    depth = page.locator("[data-testid=order-book] .book-row .depth").first
    assert depth.evaluate("e => e.style.width") not in ("", "0px")

    m = market(stack)
    price = snap(best(page, "bids") * Decimal("0.95"), m["tick_size"])
    place_limit(page, "buy", price, qty_for(m, price))
    expect(page.get_by_test_id("toast").filter(has_text="Order accepted")).to_be_visible()
    assert page.evaluate("window.__cspViolations") == []
    shot(page, "05b-csp")

    page.evaluate(
        """() => {
        const s = document.createElement('script');
        s.textContent = 'window.__inlineRan = true';
        document.body.appendChild(s);
    }"""
    )
    page.wait_for_function("window.__cspViolations.length > 0")
    assert page.evaluate("window.__inlineRan") is None
    violations = page.evaluate("window.__cspViolations")
    assert len(violations) == 1 and violations[0].startswith("script-src-elem refused inline"), violations
    token = stack.token(email)
    r = httpx.delete(f"{stack.base_url}/api/orders", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert r.status_code == 200, r.text


def test_starred_pairs_make_the_favorites_view_kept_across_a_reload_and_the_trade_page(
    stack: Stack, new_page: Any
) -> None:
    """A star on the markets list stars the pair without opening it; "Favorites" shows only starred pairs
    (and says how to star one when there are none); the stars and the view survive a reload; the trade
    page's star is the same favorite."""
    page = new_page()
    page.goto("/#/markets")
    rows = page.locator("[data-testid=markets-table] tbody tr[data-symbol]")
    expect(rows).to_have_count(len(stack.markets))
    page.get_by_role("button", name="Favorites", exact=True).click()
    expect(rows).to_have_count(0)
    expect(page.get_by_test_id("markets-table")).to_contain_text("No favorites yet: star a pair")
    page.get_by_role("button", name="All", exact=True).click()
    page.get_by_role("button", name="Add ETH/USDT to favorites").click()
    page.get_by_role("button", name="Add DOT/USDT to favorites").click()
    expect(page).to_have_url(re.compile(r"#/markets$"))  # the star did not open the market
    page.get_by_role("button", name="Favorites (2)", exact=True).click()
    expect(rows).to_have_count(2)
    assert sorted(rows.evaluate_all("(rs) => rs.map((r) => r.dataset.symbol)")) == ["DOT-USDT", "ETH-USDT"]

    page.reload()
    expect(rows).to_have_count(2)  # the view and the stars were kept
    page.get_by_role("button", name="Remove DOT/USDT from favorites").click()
    expect(rows).to_have_count(1)
    rows.first.click()
    expect(page).to_have_url(re.compile(r"#/trade/ETH-USDT$"))
    star = page.get_by_role("button", name="Remove ETH/USDT from favorites")
    expect(star).to_have_attribute("aria-pressed", "true")
    star.click()
    expect(page.get_by_role("button", name="Add ETH/USDT to favorites")).to_be_visible()
    page.goto("/#/markets")
    expect(page.get_by_test_id("markets-table")).to_contain_text("No favorites yet: star a pair")
    shot(page, "03b-markets-favorites")


def test_every_market_has_a_live_price_and_the_table_sorts_and_filters(stack: Stack, new_page: Any) -> None:
    """The markets page lists every seeded market with a last price, sorts by a column and searches."""
    page = new_page()
    page.goto("/#/markets")
    rows = page.locator("[data-testid=markets-table] tbody tr[data-symbol]")
    expect(rows).to_have_count(len(stack.markets))
    for m in stack.markets:
        cell = page.locator(f"tr[data-symbol='{m['symbol']}'] [data-testid=last-price]")
        expect(cell).to_have_text(re.compile(r"\d"))
    expect(page.get_by_test_id("conn-state")).to_have_attribute("data-state", "open")
    shot(page, "03-markets")

    page.get_by_role("button", name="Last").click()  # numeric sort, descending first
    lasts = [Decimal(t.replace(",", "")) for t in page.locator("[data-testid=last-price]").all_inner_texts()]
    assert lasts == sorted(lasts, reverse=True)

    page.get_by_label("Search markets").fill("btc-us")
    expect(rows).to_have_count(1)
    rows.first.click()
    expect(page).to_have_url(re.compile(r"#/trade/BTC-USDT$"))


def test_trade_page_book_trades_and_candles_move(stack: Stack, new_page: Any) -> None:
    """On BTC-USDT the order book, the trades tape and the candle chart all update live; the tab's title
    names the price and the pair."""
    page = new_page()
    open_trade(page)
    expect(page).to_have_title(re.compile(r"^[\d,]+\.?\d* · BTC/USDT · Exchange$"))
    chart = page.get_by_test_id("chart")
    expect(chart).not_to_have_attribute("data-bars", "0", timeout=20_000)
    book0 = page.get_by_test_id("order-book").inner_text()
    trade0 = page.get_by_test_id("trades").get_attribute("data-last-id")
    candle0 = chart.get_attribute("data-last")
    deadline = time.monotonic() + 45
    moved = {"book": False, "trades": False, "candles": False}
    while time.monotonic() < deadline and not all(moved.values()):
        page.wait_for_timeout(500)
        moved["book"] |= page.get_by_test_id("order-book").inner_text() != book0
        moved["trades"] |= page.get_by_test_id("trades").get_attribute("data-last-id") != trade0
        moved["candles"] |= chart.get_attribute("data-last") != candle0
    shot(page, "04-trade")
    assert all(moved.values()), moved

    row = page.locator("[data-testid=book-bids] .book-row").first
    expect(row).to_be_visible(timeout=30_000)
    picked = pick_book_price(page, "bids")  # a book level puts its price into the order form
    expect(page.get_by_test_id("order-form").locator("input[name=price]")).to_have_value(picked)

    page.get_by_role("button", name="5m", exact=True).click()
    expect(chart).to_have_attribute("data-interval", "5m")
    expect(chart).not_to_have_attribute("data-bars", "0")


# every time the header's last price or the tape's newest trade changes, in the same task as the change:
# the two must say the same price (`window.__lastPrice`: what was seen, `.bad`: where they differed)
WATCH_LAST_PRICE = """() => {
    const header = document.querySelector("[data-testid=ticker-last]");
    const tape = document.querySelector("[data-testid=trades]");
    const top = () => tape.querySelector(".trade-row span")?.textContent ?? null;
    const seen = (window.__lastPrice = { prices: [top()], bad: [] });
    const check = () => {
        const [h, t] = [header.textContent, top()];
        if (h !== t) seen.bad.push([h, t]);
        if (t !== seen.prices[seen.prices.length - 1]) seen.prices.push(t);
    };
    check();
    const opts = { subtree: true, childList: true, characterData: true, attributes: true };
    new MutationObserver(check).observe(header, opts);
    new MutationObserver(check).observe(tape, opts);
}"""


def test_the_header_last_price_moves_with_the_tape_at_once(stack: Stack, new_page: Any) -> None:
    """The header's last price is the tape's newest trade in the same render (the tickers channel comes
    about once a second and would trail it), and a later ticker never moves it back."""
    email = stack.register("last")
    m = market(stack)
    page = new_page()
    open_trade(page)
    expect(page.locator("[data-testid=trades] .trade-row").first).to_be_visible(timeout=20_000)
    page.evaluate(WATCH_LAST_PRICE)
    headers = {"Authorization": f"Bearer {stack.token(email)}"}
    with httpx.Client(base_url=stack.base_url, headers=headers, timeout=10) as c:
        last = Decimal(next(t for t in c.get("/api/tickers").json() if t["symbol"] == SYMBOL)["last"])
        body = {"symbol": SYMBOL, "side": "buy", "type": "market", "qty": qty_for(m, last)}
        wait_for(  # a trade now, besides the market maker's own (tried again as the account tables test does)
            "a filled market buy", lambda: Decimal(c.post("/api/orders", json=body).json()["filled_qty"]) > 0
        )
    # two new prices on the tape, then more than a ticker interval for a stale ticker to arrive
    page.wait_for_function("() => window.__lastPrice.prices.length >= 3", timeout=30_000)
    page.wait_for_timeout(1_500)
    seen = page.evaluate("window.__lastPrice")
    assert not seen["bad"], f"header and tape disagreed (header, tape): {seen['bad'][:5]}"


def test_prices_for_a_volume_follow_the_book(stack: Stack, new_page: Any) -> None:
    """Typing an amount shows what buying and selling it would cost now (buying averages above selling,
    since the book is never crossed); an amount off the lot is refused with the reason."""
    page = new_page()
    open_trade(page)
    box = page.get_by_test_id("volume-prices")
    box.locator("input[name=volume]").fill("0.000001")
    expect(box.get_by_role("alert")).to_contain_text("multiple of")
    box.locator("input[name=volume]").fill(market(stack)["min_qty"])
    buy, sell = page.get_by_test_id("volume-buy"), page.get_by_test_id("volume-sell")
    expect(buy).to_contain_text(re.compile(r"avg \d"), timeout=20_000)
    expect(sell).to_contain_text(re.compile(r"avg \d"), timeout=20_000)

    # both read in one task of the page (the book moves between two protocol calls): "avg 60,000.50"
    texts = page.evaluate(
        """() => ["volume-buy", "volume-sell"].map(
            (id) => document.querySelectorAll(`[data-testid=${id}] span`)[1].innerText
        )"""
    )
    bought, sold = (Decimal(t.removeprefix("avg ").replace(",", "")) for t in texts)
    assert bought > sold > 0
    shot(page, "04b-volume-prices")


def test_limit_order_appears_in_open_orders_and_cancels(stack: Stack, new_page: Any) -> None:
    """A resting limit buy shows an accepted toast and an open-orders row; cancelling removes it."""
    page = new_page()
    login(page, stack.register("limit"))
    open_trade(page)
    m = market(stack)
    price = snap(best(page, "bids") * Decimal("0.95"), m["tick_size"])
    place_limit(page, "buy", price, qty_for(m, price))
    expect(page.get_by_test_id("toast").filter(has_text="Order accepted")).to_be_visible()
    row = page.locator("[data-testid=open-orders] tbody tr[data-order-id]")
    expect(row).to_have_count(1)
    shot(page, "05-open-order")
    row.get_by_role("button", name=re.compile("Cancel order")).click()
    expect(page.get_by_test_id("toast").filter(has_text="Order cancelled")).to_be_visible()
    expect(row).to_have_count(0)


def test_orders_placed_elsewhere_notify_and_cancel_all_clears_them(stack: Stack, new_page: Any) -> None:
    """Orders placed through the API (not this page) toast and list live; "Cancel all" removes them all and
    says so once (one summary, not a toast per order, which would push it out of the stack)."""
    email = stack.register("elsewhere")
    page = new_page()
    login(page, email)
    open_trade(page)
    m = market(stack)
    price = snap(best(page, "bids") * Decimal("0.9"), m["tick_size"])
    headers = {"Authorization": f"Bearer {stack.token(email)}"}
    with httpx.Client(base_url=stack.base_url, headers=headers, timeout=10) as c:
        for p in (price, price - Decimal(m["tick_size"])):
            body = {"symbol": SYMBOL, "side": "buy", "type": "limit", "price": format(p, "f")}
            body["qty"] = qty_for(m, p)
            assert c.post("/api/orders", json=body).status_code == 201
    expect(page.get_by_test_id("toast").filter(has_text="Order accepted")).to_have_count(2)
    rows = page.locator("[data-testid=open-orders] tbody tr[data-order-id]")
    expect(rows).to_have_count(2)
    asked: list[str] = []
    page.once("dialog", lambda d: (asked.append(d.message), d.accept()))  # the confirmation
    page.get_by_role("button", name="Cancel all", exact=True).click()
    expect(rows).to_have_count(0)
    assert asked == ["Cancel all 2 open orders?"]
    expect(page.get_by_test_id("toast").filter(has_text="Cancelled 2 orders")).to_be_visible()
    page.wait_for_timeout(1_000)  # the orders' own cancellation notices have come by now
    expect(page.get_by_test_id("toast").filter(has_text="Order cancelled")).to_have_count(0)


def test_crossing_order_fills_with_a_toast_and_moves_the_balance(stack: Stack, new_page: Any) -> None:
    """A limit buy above the best ask trades: the fill toast gives the average price the trades gave, the
    base balance grows, and the Positions tab, left open, shows the position once persistence has it."""
    page = new_page()
    login(page, stack.register("cross"))
    open_trade(page)
    m = market(stack)
    before = available(page, m["base"])
    page.get_by_role("tab", name="Positions").click()
    expect(page.get_by_test_id("positions")).to_contain_text("No positions yet")
    filled = page.get_by_test_id("toast").filter(has_text=re.compile("filled"))
    expired = page.get_by_test_id("toast").filter(has_text="Order expired")
    for _attempt in range(5):
        price = snap(best(page, "asks") * Decimal("1.02"), m["tick_size"], "ROUND_UP")
        seen_expired = expired.count()
        # IOC: a remainder must not rest above the market maker's asks (it would block its post-only
        # quotes); it expires unfilled when it lands while the market maker is replacing its ladder
        place_limit(page, "buy", price, qty_for(m, price), tif="ioc")
        deadline = time.monotonic() + 10
        while not filled.count() and expired.count() <= seen_expired and time.monotonic() < deadline:
            page.wait_for_timeout(100)
        if filled.count():
            break
    expect(filled).to_be_visible()
    expect(filled.first).to_contain_text(re.compile(r"avg price \d"))
    shot(page, "06-fill-toast")
    # no tab switch: the panel reloads on its own once the workers have written the fill (`history` channel)
    position = page.locator(f"[data-testid=positions] tr[data-symbol='{SYMBOL}']")
    expect(position).to_be_visible(timeout=30_000)
    last = position.locator("td").nth(3)  # Market, Net bought, Avg entry, Last
    first_last = last.inner_text()
    # the market maker keeps trading: the open tab follows the last price (and the unrealized PnL with it)
    expect(last).not_to_have_text(first_last, timeout=30_000)
    deadline = time.monotonic() + 10
    after = available(page, m["base"])
    while after == before and time.monotonic() < deadline:
        page.wait_for_timeout(200)
        after = available(page, m["base"])
    assert after > before, f"{m['base']} balance did not grow: {before} -> {after}"


def rest_buy(stack: Stack, client: httpx.Client, price: Decimal) -> dict[str, Any]:
    """A resting limit buy of the smallest valid amount at `price`, placed over REST, not by the page."""
    body = {"symbol": SYMBOL, "side": "buy", "type": "limit", "price": format(price, "f")}
    r = client.post("/api/orders", json=body | {"qty": qty_for(market(stack), price)})
    assert r.status_code == 201, r.text
    return dict(r.json())


def order_toast(stack: Stack, page: Any, email: str) -> Any:
    """Place a resting buy for `email` over REST, 10 % under the best bid the page shows, and return its
    "Order accepted" toast once the page shows it (a Playwright locator)."""
    headers = {"Authorization": f"Bearer {stack.token(email)}"}
    with httpx.Client(base_url=stack.base_url, headers=headers, timeout=10) as c:
        rest_buy(stack, c, snap(best(page, "bids") * Decimal("0.9"), market(stack)["tick_size"]))
    toast = page.get_by_test_id("toast").filter(has_text="Order accepted")
    expect(toast).to_be_visible()
    return toast


def test_order_history_sorts_pages_and_exports_csv(stack: Stack, new_page: Any) -> None:
    """Order history sorts by price, pages forward and back, and downloads the account's CSV."""
    email = stack.register("history")
    token = stack.token(email)
    m = market(stack)
    with httpx.Client(base_url=stack.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=10) as c:
        tickers = {t["symbol"]: t for t in c.get("/api/tickers").json()}
        bid = Decimal(tickers[SYMBOL]["last"])
        for i in range(12):
            rest_buy(stack, c, snap(bid * (Decimal("0.80") + Decimal(i) / 100), m["tick_size"]))
        # the History tab loads when it opens: wait until the workers have written all 12 (their notices
        # were sent before the page subscribed)
        deadline = time.monotonic() + 30
        while len(c.get("/api/orders", params={"status": "all", "limit": 100}).json()["items"]) < 12:
            assert time.monotonic() < deadline, "the 12 orders did not reach the order history"
            time.sleep(0.2)
    page = new_page()
    login(page, email)
    open_trade(page)
    page.get_by_role("tab", name="Order history").click()
    rows = page.locator("[data-testid=order-history] tbody tr[data-order-id]")
    expect(rows).to_have_count(10, timeout=20_000)  # persisted by the workers, first page of 10

    page.get_by_test_id("history-market").select_option(SYMBOL)  # a price sort needs one market
    page.locator("[data-testid=order-history] th").get_by_role("button", name="Price").click()
    expect(page.locator("[data-testid=order-history] th[aria-sort=descending]")).to_have_count(1)
    page.wait_for_timeout(500)
    prices = [
        Decimal(t.replace(",", ""))
        for t in rows.evaluate_all(
            "rs => rs.map(r => r.querySelector('[data-testid=order-price]').innerText)"
        )
    ]
    assert prices == sorted(prices, reverse=True)
    shot(page, "07-history")

    page.get_by_role("button", name="Next page").click()
    expect(page.get_by_test_id("history-page")).to_have_text("Page 2")
    expect(rows).to_have_count(2)
    page.get_by_role("button", name="Previous page").click()
    expect(rows).to_have_count(10)

    # left open, the view follows the account: an order placed elsewhere (here over REST) shows up, at the top
    # of the price-descending page, once the workers have written it (the `history` channel says so)
    with httpx.Client(base_url=stack.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=10) as c:
        placed = rest_buy(stack, c, snap(bid * Decimal("0.915"), m["tick_size"]))
    expect(rows.first).to_have_attribute("data-order-id", str(placed["id"]), timeout=10_000)

    with page.expect_download() as info:
        page.get_by_test_id("export-csv").click()
    with open(info.value.path(), encoding="utf-8") as f:
        text = f.read()
    records = list(csv.DictReader(io.StringIO(text)))
    assert len(records) >= 13


def test_one_users_order_reaches_another_users_book_within_a_second(stack: Stack, new_page: Any) -> None:
    """Two browser contexts as two users: A's resting order appears in B's order book within a second."""
    a = new_page()
    b = new_page()
    alice = stack.register("alice")
    login(a, alice)
    open_trade(a)
    open_trade(b)
    m = market(stack)
    tick = Decimal(m["tick_size"])
    rejected = a.get_by_test_id("toast").filter(has_text="Order rejected")
    elapsed = None
    for _attempt in range(3):
        # one tick under the best bid: a price of its own (the market maker's levels are bps apart),
        # shown near the top of the book; post-only, so it can never trade instead of resting
        price = (best(a, "bids") - tick).normalize()
        level = b.locator(f"[data-testid=book-bids] .book-row[data-price='{format(price, 'f')}']")
        seen_rejected = rejected.count()
        place_limit(a, "buy", price, qty_for(m, price), post_only=True)
        start = time.monotonic()
        while time.monotonic() - start < 3:
            if level.count():
                elapsed = time.monotonic() - start
                break
            if rejected.count() > seen_rejected:
                break
            b.wait_for_timeout(20)
        if elapsed is not None:
            break
    assert elapsed is not None, "the order never showed in the other user's book"
    shot(b, "08-second-user-book")
    token = stack.token(alice)
    r = httpx.delete(f"{stack.base_url}/api/orders", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert r.status_code == 200, r.text
    assert elapsed < 1.0, f"order reached the other user's book after {elapsed:.2f}s"


def test_book_rows_show_whole_and_the_tablet_layout_applies(stack: Stack, new_page: Any) -> None:
    """At 1280 and 820 px wide every book row is either wholly visible or wholly out of sight (none cut in
    half), and at 820 px the tablet grid applies: the chart gets the width, the form a column beside it."""
    for width, height in ((1280, 800), (820, 900)):
        page = new_page(width, height)
        open_trade(page)
        cut = page.evaluate(
            """() => [...document.querySelectorAll('[data-testid^=book-] .book-row')].filter((row) => {
                const box = row.parentElement.getBoundingClientRect(), r = row.getBoundingClientRect();
                const inside = r.top >= box.top - 0.5 && r.bottom <= box.bottom + 0.5
                    && r.left >= box.left - 0.5 && r.right <= box.right + 0.5;
                const outside = r.bottom <= box.top || r.top >= box.bottom || r.left >= box.right
                    || r.right <= box.left;
                return !inside && !outside;
            }).length"""
        )
        assert cut == 0, f"{cut} book rows cut at {width}px"
        visible = page.locator("[data-testid=book-asks] .book-row").first
        expect(visible).to_be_in_viewport()  # the best ask, next to the spread
        if width == 820:
            areas = page.evaluate("getComputedStyle(document.querySelector('.trade-grid')).gridTemplateAreas")
            assert '"trades form"' in areas, areas
            chart = page.locator(".area-chart").bounding_box()
            assert chart is not None and chart["width"] > 400, chart
        shot(page, f"08b-book-{width}")


def test_the_book_groups_price_levels_by_a_chosen_step(stack: Stack, new_page: Any) -> None:
    """Grouping by 10 USDT shows bid buckets at their lower and ask buckets at their upper edge (multiples of
    10, best first, never crossing the real best prices in the spread row), and a bucket picked fills the
    order form's price with the bucket's price; back at the tick the book shows its own levels again. The
    columns name their assets, as an exchange's book does."""
    page = new_page()
    open_trade(page)
    columns = page.locator("[data-testid=order-book] .book-cols span")
    expect(columns).to_have_text(["Price(USDT)", "Amount(BTC)", "Sum"])
    grouping = page.get_by_test_id("book-grouping")
    expect(grouping.locator("option")).to_have_text(["0.01", "0.1", "1", "10"])
    grouping.select_option("10")
    asks = page.locator("[data-testid=book-asks] .book-row")
    bids = page.locator("[data-testid=book-bids] .book-row")
    deadline = time.monotonic() + 10
    while True:  # the book moves: read both sides and the spread row until one reading is consistent
        ask_prices = [Decimal(p) for p in asks.evaluate_all("rs => rs.map(r => r.dataset.price)")]
        bid_prices = [Decimal(p) for p in bids.evaluate_all("rs => rs.map(r => r.dataset.price)")]
        real_bid, real_ask = (
            Decimal(t.replace(",", ""))
            for t in page.locator("[data-testid=book-spread] > span:not(.book-spread-gap)").all_inner_texts()
        )
        if ask_prices and bid_prices and ask_prices[0] >= real_ask and bid_prices[0] <= real_bid:
            break
        assert time.monotonic() < deadline, (ask_prices, bid_prices, real_bid, real_ask)
        page.wait_for_timeout(100)
    assert all(p % 10 == 0 for p in ask_prices + bid_prices), (ask_prices, bid_prices)
    assert ask_prices == sorted(ask_prices) and bid_prices == sorted(bid_prices, reverse=True)
    assert ask_prices[0] - real_ask < 10 and real_bid - bid_prices[0] < 10
    picked = pick_book_price(page, "asks")
    expect(page.get_by_test_id("order-form").locator("input[name=price]")).to_have_value(picked)
    grouping.select_option("0.01")
    deadline = time.monotonic() + 10
    while True:  # at the tick the best ask row is the real best ask again
        first = Decimal(asks.first.get_attribute("data-price") or "0")
        real_ask = Decimal(
            page.locator("[data-testid=book-spread] > span.down").inner_text().replace(",", "")
        )
        if first == real_ask:
            break
        assert time.monotonic() < deadline, (first, real_ask)
        page.wait_for_timeout(100)


def test_a_market_order_is_priced_by_walking_the_book(stack: Stack, new_page: Any) -> None:
    """In market mode the form shows the average price the book gives for the amount (the server's
    estimate), and warns when the book cannot fill all of it."""
    page = new_page()
    login(page, stack.register("walk"))
    open_trade(page)
    form = page.get_by_test_id("order-form")
    form.get_by_role("button", name="Market", exact=True).click()
    form.locator("input[name=qty]").fill(market(stack)["min_qty"])
    expect(page.get_by_test_id("market-price")).to_contain_text(re.compile(r"avg ≈ \d"), timeout=10_000)
    expect(page.get_by_test_id("market-shortfall")).to_have_count(0)
    form.locator("input[name=qty]").fill(market(stack)["max_qty"])  # far more than the demo book holds
    expect(page.get_by_test_id("market-shortfall")).to_contain_text("the rest would expire", timeout=10_000)


def test_a_market_buy_by_total_spends_at_most_the_total(stack: Stack, new_page: Any) -> None:
    """A market buy can give the total to spend (in the quote asset) instead of the amount: the form shows
    the amount the book gives for it and its average price (the server's walk), 25 % fills in a quarter of
    the available balance, and the order spends no more than the total: the quote balance falls by at most
    the total and the base balance grows by the estimated amount's order of magnitude."""
    page = new_page()
    login(page, stack.register("bytotal"))
    open_trade(page)
    m = market(stack)
    quote_before = available(page, m["quote"])
    base_before = available(page, m["base"])
    form = page.get_by_test_id("order-form")
    form.get_by_role("button", name="Buy", exact=True).click()
    form.get_by_role("button", name="Market", exact=True).click()
    form.get_by_label("Amount in").select_option(m["quote"])
    form.get_by_role("button", name="25%").click()
    spend = form.locator("input[name=quote_qty]")
    expect(spend).not_to_have_value("")
    quarter = (quote_before / 4).quantize(Decimal(1).scaleb(-6), rounding="ROUND_DOWN")  # USDT: 6 decimals
    assert Decimal(spend.input_value()) == quarter
    total = "100"
    form.locator("input[name=quote_qty]").fill(total)
    expect(page.get_by_test_id("market-price")).to_contain_text(re.compile(r"avg ≈ \d"), timeout=10_000)
    expect(page.get_by_test_id("est-amount")).to_contain_text(re.compile(rf"^0\.\d+ {m['base']}$"))
    expect(page.get_by_test_id("order-reason")).to_have_text("\u00a0")
    page.get_by_test_id("submit-order").click()
    expect(page.get_by_test_id("toast").filter(has_text=re.compile("filled"))).to_be_visible(timeout=10_000)
    expect(form.locator("input[name=quote_qty]")).to_have_value("")
    deadline = time.monotonic() + 10
    quote_after = available(page, m["quote"])
    while quote_after == quote_before and time.monotonic() < deadline:
        page.wait_for_timeout(200)
        quote_after = available(page, m["quote"])
    assert Decimal(0) < quote_before - quote_after <= Decimal(total)
    assert available(page, m["base"]) > base_before


def test_a_refused_estimate_is_said_under_the_order_button(stack: Stack, new_page: Any) -> None:
    """A market order's estimate refused (a rate limit shared behind one address) used to leave the form's
    figures at "—" without a word: the refusal shows where the book's shortfall would."""
    page = new_page()
    login(page, stack.register("estlimited"))
    open_trade(page)
    body = json.dumps({"error": {"code": "RATE_LIMITED", "message": "Too many market data requests"}})
    page.route(
        "**/api/markets/*/estimate/buy*",
        lambda route: route.fulfill(status=429, body=body, headers={"Content-Type": "application/json"}),
    )
    form = page.get_by_test_id("order-form")
    form.get_by_role("button", name="Buy", exact=True).click()
    form.get_by_role("button", name="Market", exact=True).click()
    form.get_by_label("Amount in").select_option(market(stack)["quote"])
    form.locator("input[name=quote_qty]").fill("100")
    expect(page.get_by_test_id("market-shortfall")).to_have_text(
        "Estimate unavailable: Too many market data requests"
    )


def test_phone_width_layout_and_keyboard(stack: Stack, new_page: Any) -> None:
    """At phone width the trade page stacks without horizontal scroll; markets rows open with Enter; the
    account tabs work with the arrow keys."""
    page = new_page(390, 844)
    page.goto("/#/markets")
    expect(page.locator("tr[data-symbol]").first).to_be_visible()
    page.locator("tr[data-symbol='BTC-USDT']").focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"#/trade/BTC-USDT$"))
    expect(page.get_by_test_id("order-form")).to_be_visible()
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"page scrolls sideways by {overflow}px"
    shot(page, "09-phone")
    # the account tabs are one tab stop; arrows move between them (WAI-ARIA tabs)
    page.get_by_role("tab", name="Open orders").focus()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("tab", name="Order history")).to_be_focused()
    expect(page.get_by_role("tab", name="Order history")).to_have_attribute("aria-selected", "true")
    page.keyboard.press("End")
    expect(page.get_by_role("tab", name="Devices")).to_have_attribute("aria-selected", "true")
    page.keyboard.press("ArrowRight")  # wraps around
    expect(page.get_by_role("tab", name="Open orders")).to_be_focused()


# the columns a trader reads in each account table, by the table's test id
ACCOUNT_COLUMNS = {
    "open-orders": ["Time", "Market", "Side", "Type", "Price", "Amount", "Filled", "Status"],
    "order-history": [
        "Created",
        "Market",
        "Side",
        "Type",
        "Price",
        "Amount",
        "Filled",
        "Avg price",
        "Total",
        "Status",
    ],
    "fills": ["Time", "Market", "Side", "Price", "Amount", "Total", "Fee", "Role"],
    "positions": ["Market", "Net bought", "Avg entry", "Last", "Realized PnL", "Unrealized PnL", "Fees"],
    "balances": ["Asset", "Available", "In orders", "Total"],
    "sessions": ["Device", "IP address", "Signed in", "Last active"],
}
# each account tab: its table's test id and the attribute its data rows carry
ACCOUNT_TABS = {
    "Open orders": ("open-orders", "data-order-id"),
    "Order history": ("order-history", "data-order-id"),
    "Fills": ("fills", "data-trade-id"),
    "Positions": ("positions", "data-symbol"),
    "Balances": ("balances", "data-asset"),
    "Devices": ("sessions", "data-session-id"),
}

# how far a table overflows its panel sideways, which headers it shows and which of them are cut by the
# panel's edges (all read in one task of the page)
TABLE_FIT = """(table) => {
    const body = table.closest('.tab-body');
    const box = body.getBoundingClientRect();
    const scrollers = [table.closest('.table-scroll'), body].filter(Boolean);
    const heads = [...table.querySelectorAll('thead th')]
        .filter((th) => th.getBoundingClientRect().width > 0);
    return {
        overflow: Math.max(...scrollers.map((e) => e.scrollWidth - e.clientWidth)),
        shown: heads.map((th) => th.innerText.replace(/[\u25b2\u25bc]/g, '').trim()),
        cut: heads.filter((th) => {
            const r = th.getBoundingClientRect();
            return r.left < box.left - 0.5 || r.right > box.right + 0.5;
        }).map((th) => th.innerText),
    };
}"""


def wait_for(what: str, check: Any, timeout_s: float = 30) -> Any:
    """Polls `check()` until it returns something truthy (the stack's workers persist asynchronously)."""
    deadline = time.monotonic() + timeout_s
    while not (result := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)
    return result


def test_account_tables_show_every_column_without_sideways_scroll_at_1280(
    stack: Stack, new_page: Any
) -> None:
    """At 1280x800 each account table (open orders, order history, fills, positions, balances, devices)
    shows all the columns a trader reads inside the panel, with no horizontal scrolling; the realized PnL
    says that it is net of fees."""
    email = stack.register("columns")
    m = market(stack)
    headers = {"Authorization": f"Bearer {stack.token(email)}"}
    with httpx.Client(base_url=stack.base_url, headers=headers, timeout=10) as c:
        last = Decimal(next(t for t in c.get("/api/tickers").json() if t["symbol"] == SYMBOL)["last"])
        low = snap(last * Decimal("0.9"), m["tick_size"])
        rest_buy(stack, c, low)
        rest_buy(stack, c, low - Decimal(m["tick_size"]))
        cancelled = rest_buy(stack, c, low - 2 * Decimal(m["tick_size"]))
        assert c.delete(f"/api/orders/{cancelled['id']}").status_code == 200
        # a market buy of about the smallest amount trades with the market maker: a fill and a position (it
        # expires unfilled when it lands while the market maker is replacing its ladder: try again); sized
        # at the last price, its value at the best ask clears the minimum notional the engine checks there
        body = {"symbol": SYMBOL, "side": "buy", "type": "market", "qty": qty_for(m, last)}
        wait_for(
            "a filled market buy", lambda: Decimal(c.post("/api/orders", json=body).json()["filled_qty"]) > 0
        )
        wait_for(
            "the order history",
            lambda: len(c.get("/api/orders", params={"status": "all"}).json()["items"]) >= 4,
        )
        wait_for("the position", lambda: c.get("/api/positions").json())
    page = new_page(1280, 800)
    login(page, email)
    open_trade(page)
    for tab, (table_id, row_attr) in ACCOUNT_TABS.items():
        page.get_by_role("tab", name=tab).click()
        table = page.get_by_test_id(table_id)
        expect(table.locator(f"tbody tr[{row_attr}]").first).to_be_visible(timeout=20_000)
        fit = table.evaluate(TABLE_FIT)
        shot(page, f"11-columns-{table_id}")
        assert fit["overflow"] <= 0, f"{tab} scrolls sideways by {fit['overflow']}px"
        assert not fit["cut"], f"{tab}: columns cut by the panel's edge: {fit['cut']}"
        missing = [col for col in ACCOUNT_COLUMNS[table_id] if col not in fit["shown"]]
        assert not missing, f"{tab} hides {missing} (shows {fit['shown']})"
    page.get_by_role("tab", name="Positions").click()
    realized = page.get_by_test_id("positions").get_by_role("columnheader", name="Realized PnL", exact=True)
    expect(realized).to_have_attribute("title", re.compile(r"net of fees.*every fee"))
    expect(page.get_by_test_id("pnl-note")).to_contain_text("Realized PnL is net of fees")


def test_every_account_tab_is_in_sight_and_opens_on_a_phone(stack: Stack, new_page: Any) -> None:
    """At 390x844 all six account tabs lie inside the tab bar and the screen (none scrolled out of sight),
    and each one, clicked, shows its table."""
    page = new_page(390, 844)
    login(page, stack.register("phone-tabs"))
    open_trade(page)
    tablist = page.get_by_role("tablist", name="Account")
    tablist.scroll_into_view_if_needed()
    for tab, (table_id, _row_attr) in ACCOUNT_TABS.items():
        button = page.get_by_role("tab", name=tab)
        in_sight = button.evaluate(
            """(t) => {
                const bar = t.parentElement.getBoundingClientRect(), r = t.getBoundingClientRect();
                return r.left >= bar.left - 0.5 && r.right <= bar.right + 0.5
                    && r.left >= -0.5 && r.right <= window.innerWidth + 0.5;
            }"""
        )
        assert in_sight, f"the {tab} tab is out of sight at 390px"
        button.click()
        expect(button).to_have_attribute("aria-selected", "true")
        expect(page.get_by_test_id(table_id)).to_be_visible()
    shot(page, "12-phone-tabs")


def test_the_account_tabs_on_a_phone_stay_put_while_the_book_moves(stack: Stack, new_page: Any) -> None:
    """At 390x844 the order book above the account panel keeps one height: as the market maker re-quotes
    (levels come and go), the account tabs do not move under the finger (they jumped by up to 300 px a second
    when the book was as tall as its levels, and a tap meant for one tab missed it)."""
    page = new_page(390, 844)
    login(page, stack.register("phone-still"))
    open_trade(page)
    page.get_by_role("tablist", name="Account").scroll_into_view_if_needed()
    # the tab bar's place on the page and the book's prices, sampled in the page every 50 ms for at least
    # 2 s, until the book has changed 3 times (at most 10 s)
    samples = page.evaluate(
        """() => new Promise((done) => {
            const out = [], seen = new Set();
            const bar = document.querySelector('[role=tablist][aria-label=Account]');
            const prices = () => [...document.querySelectorAll('[data-testid=order-book] .book-row')]
                .map((r) => r.dataset.price + ':' + r.dataset.qty).join(',');
            const timer = setInterval(() => {
                const book = prices();
                seen.add(book);
                out.push([bar.getBoundingClientRect().top + window.scrollY, book]);
                if ((out.length >= 40 && seen.size >= 4) || out.length >= 200) {
                    clearInterval(timer);
                    done(out);
                }
            }, 50);
        })"""
    )
    books = {book for _top, book in samples}
    assert len(books) > 1, "the book did not change in 10 s: nothing was tested"
    tops = sorted({round(top) for top, _book in samples})
    assert tops == tops[:1], f"the account tabs moved while the book changed: at {tops}"


def test_toasts_on_a_phone_leave_the_header_clear_and_go_away(stack: Stack, new_page: Any) -> None:
    """At 390x844 an order's toast shows at the bottom of the screen, clear of the header (logo, navigation,
    log out), and goes by itself, leaving the order form's submit button uncovered."""
    page = new_page(390, 844)
    email = stack.register("phone-toast")
    login(page, email)
    open_trade(page)
    toast = order_toast(stack, page, email)
    shot(page, "13-phone-toast")
    header, box = page.locator("header.topbar").bounding_box(), toast.bounding_box()
    assert header is not None and box is not None
    overlap = min(header["y"] + header["height"], box["y"] + box["height"]) - max(header["y"], box["y"])
    assert overlap <= 0, f"the toast {box} covers the header {header}"
    assert box["y"] + box["height"] <= 844 and box["y"] > 844 / 2, f"the toast {box} is not at the bottom"
    expect(toast).to_have_count(0, timeout=10_000)  # it goes by itself after a few seconds
    submit = page.get_by_test_id("submit-order")
    submit.scroll_into_view_if_needed()
    on_top = submit.evaluate(
        """(b) => {
            const r = b.getBoundingClientRect();
            return b.contains(document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2));
        }"""
    )
    assert on_top, "something still covers the submit button"
    headers = {"Authorization": f"Bearer {stack.token(email)}"}
    with httpx.Client(base_url=stack.base_url, headers=headers, timeout=10) as c:
        assert c.delete("/api/orders").status_code == 200


def test_a_burst_of_orders_placed_elsewhere_shows_one_summary_toast(stack: Stack, new_page: Any) -> None:
    """20 orders placed through the API within a second show one toast, "20 orders accepted on BTC-USDT",
    not a toast each; cancelling them all through the API likewise says it once."""
    email = stack.register("burst")
    page = new_page()
    login(page, email)
    open_trade(page)
    m = market(stack)
    top = snap(best(page, "bids") * Decimal("0.9"), m["tick_size"])
    toasts = page.get_by_test_id("toast")
    headers = {"Authorization": f"Bearer {stack.token(email)}"}
    with httpx.Client(base_url=stack.base_url, headers=headers, timeout=10) as c:
        for i in range(20):
            rest_buy(stack, c, top - i * Decimal(m["tick_size"]))
        expect(page.locator("[data-testid=open-orders] tbody tr[data-order-id]")).to_have_count(20)
        expect(toasts.filter(has_text="20 orders accepted on BTC-USDT")).to_be_visible()
        expect(toasts).to_have_count(1)
        shot(page, "14-burst-toast")
        r = c.delete("/api/orders")
        assert r.status_code == 200 and r.json()["cancelled"] == 20, r.text
    expect(toasts.filter(has_text="20 orders cancelled on BTC-USDT")).to_be_visible()
    expect(toasts.filter(has_text="Order cancelled")).to_have_count(0)


def refresh_cookie(page: Any) -> dict[str, Any] | None:
    return next((c for c in page.context.cookies() if c["name"] == "exchange_refresh"), None)


def test_the_refresh_token_is_an_httponly_cookie_the_page_cannot_read(stack: Stack, new_page: Any) -> None:
    """After login no token is in storage or document.cookie: the refresh token is an httpOnly, strict
    cookie for /api/auth. A reload gets a new access token by rotating it; logging out revokes and clears
    it, and ends the access token the page held (in every API process)."""
    page = new_page()
    bearers: list[str] = []
    page.on("request", lambda r: bearers.append(r.headers.get("authorization", "")))
    email = stack.register("refresh")
    login(page, email)
    assert json.loads(page.evaluate("localStorage.getItem('exchange.session')")) == {"email": email}
    assert "exchange_refresh" not in page.evaluate("document.cookie")
    cookie = refresh_cookie(page)
    assert cookie is not None
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/api/auth"
    page.reload()
    open_trade(page)
    expect(page.get_by_test_id("user-email")).to_have_text(email)
    page.get_by_role("tab", name="Balances").click()
    expect(page.locator("[data-testid=balances] tr[data-asset]").first).to_be_visible()
    rotated = refresh_cookie(page)
    assert rotated is not None and rotated["value"] != cookie["value"]
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_test_id("user-email")).to_have_count(0)
    deadline = time.monotonic() + 10  # the page logs out at once; the server's answer clears the cookie
    while refresh_cookie(page) is not None and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert refresh_cookie(page) is None
    r = httpx.post(f"{stack.base_url}/api/auth/refresh", json={"refresh_token": rotated["value"]})
    assert r.status_code == 401  # revoked by the logout, not only forgotten by the browser
    held = [b for b in bearers if b.startswith("Bearer ")][-1]  # the page's last access token
    deadline = time.monotonic() + 5  # the other API process reads the revocation within a second
    while httpx.get(f"{stack.base_url}/api/me", headers={"Authorization": held}).status_code != 401:
        assert time.monotonic() < deadline, "the page's access token still works after the logout"
        time.sleep(0.1)


def test_reconnects_and_resubscribes_after_the_api_restarts(stack: Stack, new_page: Any) -> None:
    """Stopping the API shows the connection as down; once it is back the page goes live and updates again."""
    page = new_page(allow_console=r"WebSocket connection to .* failed|Failed to load resource")
    login(page, stack.register("restart"))
    open_trade(page)
    conn = page.get_by_test_id("conn-state")
    expect(conn).to_have_attribute("data-state", "open")
    info = json.loads((stack.data_dir / "var" / "stack.json").read_text())
    os.kill(int(info["pids"]["api"]), signal.SIGTERM)
    expect(conn).not_to_have_attribute("data-state", "open", timeout=15_000)
    shot(page, "10-offline")
    expect(conn).to_have_attribute("data-state", "open", timeout=60_000)
    expect(page.get_by_test_id("order-book")).to_have_attribute("data-synced", "1", timeout=20_000)
    trade0 = page.get_by_test_id("trades").get_attribute("data-last-id")
    expect(page.get_by_test_id("trades")).not_to_have_attribute("data-last-id", trade0 or "", timeout=45_000)
