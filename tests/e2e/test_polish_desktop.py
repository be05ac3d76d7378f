"""Polish of the terminal found by a QA pass, in headless Chromium against the real stack: focus rings that
show whole, an order book head that keeps one line, one toast per order's fills and Escape to dismiss them,
figures at one number of decimals per column, each data set read once per subscription, no tab stop on the
chart's attribution, and no room kept for an open-order count logged out."""

from __future__ import annotations

import base64
import re
import time
from decimal import Decimal
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import Stack, shot
from tests.e2e.test_terminal import (
    SYMBOL,
    best,
    login,
    market,
    open_trade,
    post_top_bid,
    rest_buy,
    snap,
    wait_for,
)

pytestmark = pytest.mark.browser

OFFLINE_CONSOLE = "ERR_INTERNET_DISCONNECTED|Failed to load resource"

# which sides of a screenshot (a PNG, base64) of a button and `margin` pixels around it hold the focus ring's
# colour (--focus, #4c9aff): for each side of the button, the share of its columns (top, bottom) or rows
# (left, right) with a ring pixel within `margin` pixels either side of that edge
RING_SIDES = """async ([png, margin]) => {
    const img = new Image();
    img.src = 'data:image/png;base64,' + png;
    await img.decode();
    const c = document.createElement('canvas');
    c.width = img.width; c.height = img.height;
    const g = c.getContext('2d');
    g.drawImage(img, 0, 0);
    const px = g.getImageData(0, 0, c.width, c.height).data;
    const ring = (x, y) => {
        const i = (y * c.width + x) * 4;
        return Math.abs(px[i] - 76) < 45 && Math.abs(px[i + 1] - 154) < 45 && px[i + 2] > 200;
    };
    const share = (n, hit) => { let k = 0; for (let i = 0; i < n; i++) if (hit(i)) k++; return k / n; };
    const any = (from, to, f) => { for (let j = from; j < to; j++) if (f(j)) return true; return false; };
    const [w, h, m] = [c.width, c.height, margin];
    const band = 2 * m;
    return {
        top: share(w - 2 * m, (i) => any(0, band, (y) => ring(m + i, y))),
        bottom: share(w - 2 * m, (i) => any(h - band, h, (y) => ring(m + i, y))),
        left: share(h - 2 * m, (i) => any(0, band, (x) => ring(x, m + i))),
        right: share(h - 2 * m, (i) => any(w - band, w, (x) => ring(x, m + i))),
    };
}"""


def ring_sides(page: Any, button: Any) -> dict[str, float]:
    """How much of each side of `button` shows the focus ring's colour, within 4 px of its edge."""
    box = button.bounding_box()
    assert box is not None
    x, y, w, h = (round(box[k]) for k in ("x", "y", "width", "height"))
    png = base64.b64encode(page.screenshot(clip={"x": x - 4, "y": y - 4, "width": w + 8, "height": h + 8}))
    return dict(page.evaluate(RING_SIDES, [png.decode(), 4]))


def test_a_keyboard_focused_segmented_button_shows_its_focus_ring_on_all_four_sides(
    stack: Stack, new_page: Any
) -> None:
    """Tabbing to a button of a segmented control (the chart's intervals, the order form's Buy/Sell and
    Limit/Market) draws its focus ring whole: along its top and bottom edges too, not only two thin lines
    at its sides (the group's rounded, clipped box cut the ring's top and bottom off)."""
    page = new_page(1280, 800)
    open_trade(page)
    form = page.get_by_test_id("order-form")
    pairs = [
        (
            page.get_by_role("button", name="1m", exact=True),
            page.get_by_role("button", name="5m", exact=True),
        ),
        (
            form.get_by_role("button", name="Buy", exact=True),
            form.get_by_role("button", name="Sell", exact=True),
        ),
        (
            form.get_by_role("button", name="Limit", exact=True),
            form.get_by_role("button", name="Market", exact=True),
        ),
    ]
    problems = []
    for before, button in pairs:
        unfocused = ring_sides(page, button)
        assert max(unfocused.values()) < 0.2, f"the ring's colour shows before any focus: {unfocused}"
        before.focus()
        page.keyboard.press("Tab")  # by keyboard: :focus-visible
        expect(button).to_be_focused()
        page.mouse.move(0, 0)  # no hover on it
        sides = ring_sides(page, button)
        name = button.inner_text()
        shot(page, f"40-focus-ring-{name}")
        if min(sides.values()) < 0.9:
            problems.append(f"{name}: the ring shows along {sides} of each side")
    assert not problems, "\n".join(problems)


# the order book head's height, its title's height, where the column titles start (relative to the card)
# and the box of what says the book's state (the head's element that is neither the title nor the grouping),
# read in one task of the page
BOOK_HEAD = """() => {
    const card = document.querySelector('[data-testid=order-book]');
    const head = card.querySelector('.card-head');
    const box = (e) => e ? e.getBoundingClientRect() : null;
    const state = box([...head.children].find((e) => !e.matches('h2, select')));
    return {
        head: box(head).height,
        title: box(head.querySelector('h2')).height,
        titleWidth: head.querySelector('h2').scrollWidth,
        columns: box(card.querySelector('.book-cols')).top - box(card).top,
        state: state && {
            top: state.top - box(head).top, bottom: state.bottom - box(head).top, width: state.width,
        },
    };
}"""


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (1024, 768), (390, 844)])
def test_the_order_book_head_keeps_one_line_and_its_rows_stay_put_when_the_book_goes_stale(
    stack: Stack, new_page: Any, width: int, height: int
) -> None:
    """With the network gone, the order book says it is stale on its head's one line: the title stays on
    one line ("stale — resyncing…" wrapped it to "Order / book"), the head keeps its height and the rows
    under it do not move."""
    page = new_page(width, height, allow_console=OFFLINE_CONSOLE)
    open_trade(page)
    book = page.get_by_test_id("order-book")
    live = page.evaluate(BOOK_HEAD)
    assert live["state"] is None, live
    page.context.set_offline(True)
    expect(book).to_have_attribute("data-synced", "0", timeout=5_000)
    expect(book.locator(".card-head")).to_contain_text("stale")
    stale = page.evaluate(BOOK_HEAD)
    shot(page, f"41-book-stale-{width}")
    assert stale["title"] == live["title"] and stale["titleWidth"] == live["titleWidth"], (live, stale)
    assert abs(stale["head"] - live["head"]) < 0.5, f"the head grew from {live['head']} to {stale['head']}"
    assert abs(stale["columns"] - live["columns"]) < 0.5, f"the rows moved: {live} -> {stale}"
    s = stale["state"]
    assert s["width"] > 20 and s["top"] >= 0 and s["bottom"] <= stale["head"], (
        f"the state is not in the head: {s}"
    )
    # cut short where it must be, it says it all in its tooltip
    expect(page.get_by_test_id("book-state")).to_have_attribute("title", re.compile("^Stale: resyncing"))
    page.context.set_offline(False)
    expect(book).to_have_attribute("data-synced", "1", timeout=15_000)
    expect(page.get_by_test_id("book-state")).to_have_count(0)


def test_escape_dismisses_the_toasts(stack: Stack, new_page: Any) -> None:
    """Two order toasts on screen: Escape takes them both down at once, as it closes a popup."""
    email = stack.register("escape")
    page = new_page()
    login(page, email)
    open_trade(page)
    price = snap(best(page, "bids") * Decimal("0.9"), market(stack)["tick_size"])
    toasts = page.get_by_test_id("toast")
    headers = {"Authorization": f"Bearer {stack.token(email)}"}
    with httpx.Client(base_url=stack.base_url, headers=headers, timeout=10) as c:
        rest_buy(stack, c, price)
        rest_buy(stack, c, price - Decimal(market(stack)["tick_size"]))
        expect(toasts.filter(has_text="Order accepted")).to_have_count(2)
        page.keyboard.press("Shift")  # another key leaves them
        expect(toasts).to_have_count(2)
        page.keyboard.press("Escape")
        expect(toasts).to_have_count(0, timeout=1_000)  # at once, not after their few seconds
        assert c.delete("/api/orders").status_code == 200


def test_the_fills_of_one_order_update_one_toast_in_place(stack: Stack, new_page: Any) -> None:
    """A resting buy that another trader sells into three times, within a second or two: one toast follows
    its fills, "Order partially filled" with the amount filled so far, then "Order filled", instead of a new
    toast for each fill."""
    buyer, seller = stack.register("fills-buyer"), stack.register("fills-seller")
    m = market(stack)
    tick, qty, part = Decimal(m["tick_size"]), Decimal("0.003"), Decimal("0.001")
    page = new_page()
    login(page, buyer)
    open_trade(page)
    auth = {who: {"Authorization": f"Bearer {stack.token(who)}"} for who in (buyer, seller)}
    with (
        httpx.Client(base_url=stack.base_url, headers=auth[buyer], timeout=10) as b,
        httpx.Client(base_url=stack.base_url, headers=auth[seller], timeout=10) as s,
    ):
        order = wait_for("a resting best bid", lambda: post_top_bid(b, SYMBOL, tick, qty))
        toasts = page.get_by_test_id("toast")
        expect(toasts.filter(has_text="Order accepted")).to_have_count(1)
        fill_toasts = toasts.filter(has_text=re.compile(r"Order (partially )?filled"))
        filled = Decimal(0)
        deadline = time.monotonic() + 30
        while filled < qty:
            assert time.monotonic() < deadline, f"the order filled only {filled} of {qty}"
            body = {"symbol": SYMBOL, "side": "sell", "type": "limit", "price": order["price"],
                    "qty": format(part, "f"), "time_in_force": "ioc"}  # fmt: skip
            assert s.post("/api/orders", json=body).status_code == 201
            now = Decimal(b.get(f"/api/orders/{order['id']}").json()["filled_qty"])
            if now == filled:
                continue  # the sell met a bid the market maker had just placed above ours: again
            filled = now
            if filled < qty:  # "Order partially filled" over "0.002 of BUY 0.003 BTC-USDT @ …"
                now_shown = fill_toasts.filter(has_text=f"Order partially filled{format(filled, 'f')} of BUY")
            else:
                now_shown = fill_toasts.filter(has_text="Order filled")
            expect(now_shown).to_be_visible()
            # at once, while the toasts of earlier fills, had there been any, would still show
            texts = fill_toasts.all_inner_texts()
            assert len(texts) == 1, f"{len(texts)} toasts for the fills of one order: {texts}"
        shot(page, "42-one-toast-per-order")


# each data set the trade page reads over REST, by the request that reads it (not the chart's older pages)
DATA_SETS = {
    "candles": re.compile(rf"/api/markets/{SYMBOL}/candles\?(?!.*end=)"),
    "trades": re.compile(rf"/api/markets/{SYMBOL}/trades\?"),
    "balances": re.compile(r"/api/balances$"),
    "open orders": re.compile(r"/api/orders\?status=open"),
}


def counted(urls: list[str]) -> dict[str, int]:
    return {name: sum(1 for u in urls if pattern.search(u)) for name, pattern in DATA_SETS.items()}


def test_a_page_load_reads_each_data_set_once_and_a_reconnect_once_more(stack: Stack, new_page: Any) -> None:
    """Reloading the trade page logged in reads the candles, the trades, the balances and the open orders
    once each (they were read twice: at once and again once their channel was subscribed), none of them
    aborted; after the connection drops and comes back, each is read once more, so whatever happened
    meanwhile shows."""
    page = new_page(allow_console=OFFLINE_CONSOLE)
    login(page, stack.register("reads"))
    open_trade(page)
    # the first load's reads done, so that the reload aborts none of them (a slow candles read was, on a busy
    # machine: counted as a failed request of the reload's page)
    expect(page.get_by_test_id("chart")).not_to_have_attribute("data-bars", "0")
    page.wait_for_load_state("networkidle")
    urls: list[str] = []
    failed: list[str] = []
    page.on("request", lambda r: urls.append(r.url))
    page.on("requestfailed", lambda r: failed.append(f"{r.url} {r.failure}"))
    page.reload()
    expect(page.get_by_test_id("order-book")).to_have_attribute("data-synced", "1", timeout=20_000)
    page.get_by_role("tab", name="Balances").click()
    expect(page.locator("[data-testid=balances] tr[data-asset]").first).to_be_visible()
    expect(page.get_by_test_id("chart")).not_to_have_attribute("data-bars", "0")
    page.wait_for_timeout(3_000)  # past the wait for a subscription that never comes (SUBSCRIBED_WAIT_MS)
    assert counted(urls) == dict.fromkeys(DATA_SETS, 1), urls
    assert not failed, failed

    urls.clear()
    conn = page.get_by_test_id("conn-state")
    page.context.set_offline(True)
    expect(conn).not_to_have_attribute("data-state", "open", timeout=5_000)
    page.context.set_offline(False)
    expect(conn).to_have_attribute("data-state", "open", timeout=15_000)
    expect(page.get_by_test_id("order-book")).to_have_attribute("data-synced", "1", timeout=15_000)
    deadline = time.monotonic() + 10
    while not all(counted(urls).values()):  # the page's events come in while Playwright waits, not sleeps
        assert time.monotonic() < deadline, f"not every data set was read again after the reconnect: {urls}"
        page.wait_for_timeout(100)
    page.wait_for_timeout(3_000)
    assert counted(urls) == dict.fromkeys(DATA_SETS, 1), urls
    assert not failed, failed


def test_the_chart_attribution_is_no_tab_stop_but_stays_a_visible_link(stack: Stack, new_page: Any) -> None:
    """The TradingView attribution the chart shows (its license asks for it) is still a visible link that
    takes a click, but Tab goes from the last chart interval straight to the book's price grouping."""
    page = new_page(1280, 800)
    open_trade(page)
    link = page.locator("[data-testid=chart] a#tv-attr-logo")
    expect(link).to_be_visible()
    expect(link).to_have_attribute("href", re.compile(r"^https://www\.tradingview\.com/"))
    expect(link).to_have_attribute("tabindex", "-1")
    on_top = link.evaluate(
        """(a) => {
            const r = a.getBoundingClientRect();
            return a.contains(document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2));
        }"""
    )
    assert on_top, "something covers the attribution link"
    page.get_by_role("button", name="1d", exact=True).focus()
    page.keyboard.press("Tab")
    expect(page.get_by_test_id("book-grouping")).to_be_focused()
    page.keyboard.press("Shift+Tab")
    expect(page.get_by_role("button", name="1d", exact=True)).to_be_focused()


# each account tab's width beyond its label's (the padding, and whatever else it holds), by its id
TAB_ROOM = """() => Object.fromEntries(
    [...document.querySelectorAll('[role=tablist][aria-label=Account] [role=tab]')].map((t) => {
        const label = t.querySelector('.tab-long') || t;
        const r = document.createRange();
        r.selectNodeContents(label);
        return [t.id, t.getBoundingClientRect().width - r.getBoundingClientRect().width];
    }))"""


def test_logged_out_the_open_orders_tab_keeps_no_room_for_a_count(stack: Stack, new_page: Any) -> None:
    """Logged out the Open orders tab shows no count, and keeps no room for one: it is as wide beyond its
    label as the other tabs are (a blank of about 30 px sat before "Order history"). Logged in, the count
    and its room are back."""
    page = new_page(1280, 800)
    open_trade(page)
    room = page.evaluate(TAB_ROOM)
    shot(page, "43-anon-tabs")
    assert abs(room["tab-open"] - room["tab-history"]) < 1, f"the Open orders tab keeps room: {room}"
    expect(page.get_by_role("tab", name="Open orders")).to_have_text("Open orders", use_inner_text=True)
    login(page, stack.register("tab-room"))
    open_trade(page)
    expect(page.get_by_role("tab", name="Open orders")).to_have_text("Open orders (0)", use_inner_text=True)


# the text of every cell of a column (by its header) of an account table, in one task of the page
COLUMN = """([table, header]) => {
    const t = document.querySelector(`[data-testid=${table}]`);
    const i = [...t.querySelectorAll('thead th')].findIndex((th) => th.innerText.trim() === header);
    return [...t.querySelectorAll('tbody tr')].filter((r) => r.cells.length > i)
        .map((r) => r.cells[i].querySelector('.amount')?.textContent ?? r.cells[i].childNodes[0].textContent);
}"""


def decimals(text: str) -> int:
    return len(text.partition(".")[2])


def test_account_tables_show_amounts_at_the_lot_and_quote_amounts_at_one_number_of_decimals(
    stack: Stack, new_page: Any
) -> None:
    """Open orders of 0.001 and 0.00123 BTC show "0.00100" and "0.00123", filled "0.00000" (the lot's
    decimals, as the book shows amounts); fills show their amounts likewise, and their totals and fees each
    at one number of decimals; the balances' three columns read at one number of decimals; the order
    history's amounts at the lot's decimals too."""
    email = stack.register("decimals")
    m = market(stack)
    lot = decimals(m["lot_size"].rstrip("0"))
    headers = {"Authorization": f"Bearer {stack.token(email)}"}
    page = new_page(1280, 800)
    login(page, email)
    open_trade(page)
    low = (best(page, "bids") * Decimal("0.9")).quantize(Decimal(m["tick_size"]))
    with httpx.Client(base_url=stack.base_url, headers=headers, timeout=10) as c:
        for q in ("0.001", "0.00123"):
            body = {"symbol": SYMBOL, "side": "buy", "type": "limit", "price": format(low, "f"), "qty": q}
            assert c.post("/api/orders", json=body).status_code == 201

        def bought(qty: str) -> Decimal:
            body = {"symbol": SYMBOL, "side": "buy", "type": "market", "qty": qty}
            return Decimal(c.post("/api/orders", json=body).json()["filled_qty"])

        for q in ("0.0003", "0.00031"):  # fills, of fees of different digits
            wait_for("a filled market buy", lambda q=q: bought(q))
        wait_for("the fills persisted", lambda: len(c.get("/api/fills").json()["items"]) >= 2)
    rows = page.locator("[data-testid=open-orders] tbody tr[data-order-id]")
    expect(rows).to_have_count(2)
    amounts = sorted(page.evaluate(COLUMN, ["open-orders", "Amount"]))
    assert amounts == ["0.00100", "0.00123"], amounts
    assert page.evaluate(COLUMN, ["open-orders", "Filled"]) == ["0.00000"] * 2

    page.get_by_role("tab", name="Fills").click()
    expect(page.locator("[data-testid=fills] tbody tr[data-trade-id]").nth(1)).to_be_visible(timeout=20_000)
    shot(page, "44-fills-decimals")
    problems = []
    for header in ("Amount", "Total", "Fee"):
        cells = page.evaluate(COLUMN, ["fills", header])
        places = {decimals(t) for t in cells}
        if len(places) != 1 or (header == "Amount" and places != {lot}):
            problems.append(f"fills {header}: {cells}")

    page.get_by_role("tab", name="Balances").click()
    expect(page.locator("[data-testid=balances] tbody tr[data-asset]").first).to_be_visible()
    cells = [t for h in ("Available", "In orders", "Total") for t in page.evaluate(COLUMN, ["balances", h])]
    if len({decimals(t) for t in cells}) != 1:  # every asset has 6 decimals or more here
        problems.append(f"balances: {cells}")

    page.get_by_role("tab", name="Order history").click()
    expect(page.locator("[data-testid=order-history] tbody tr[data-order-id]").nth(3)).to_be_visible(
        timeout=20_000
    )
    for header in ("Amount", "Filled"):
        cells = page.evaluate(COLUMN, ["order-history", header])
        if {decimals(t) for t in cells} != {lot}:
            problems.append(f"order history {header}: {cells}")
    assert not problems, "\n".join(problems)


def test_prices_for_a_volume_show_average_prices_at_the_ticks_decimals(stack: Stack, new_page: Any) -> None:
    """The average prices of "Prices for a volume" show at the market's price decimals, as every other price
    in the terminal (they had two more: "59,845.4139"), buying at or above selling."""
    m = market(stack)
    page = new_page()
    open_trade(page)
    box = page.get_by_test_id("volume-prices")
    box.locator("input[name=volume]").fill("0.05")
    price = rf"avg \d{{1,3}}(,\d{{3}})*\.\d{{{decimals(m['tick_size'].rstrip('0'))}}}$"
    buy, sell = page.get_by_test_id("volume-buy"), page.get_by_test_id("volume-sell")
    for row in (buy, sell):
        expect(row.locator("span").nth(1)).to_have_text(re.compile(price), timeout=20_000)
    bought, sold = (
        Decimal(t.removeprefix("avg ").replace(",", ""))
        for t in page.evaluate(
            """() => ["volume-buy", "volume-sell"].map(
                (id) => document.querySelectorAll(`[data-testid=${id}] span`)[1].innerText)"""
        )
    )
    assert bought > sold > 0
