"""The account tables (order history, fills, positions) in headless Chromium against the real stack: the
filters, the sorts that make sense with them, paging, prices at the market's decimals, and phones.

One account (module fixture) holds orders in three markets, resting and filled, buys and sells, with long
amounts (98,765.4 MINA, 1.23456 BTC) and more than a page of fills, one of them a large fill against a
second account."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import Stack, shot
from tests.e2e.test_terminal import login, market, open_trade, qty_for, snap, wait_for

pytestmark = pytest.mark.browser

BTC, DOT, MINA = "BTC-USDT", "DOT-USDT", "MINA-USDT"
HISTORY_ROWS = "[data-testid=order-history] tbody tr[data-order-id]"
FILL_ROWS = "[data-testid=fills] tbody tr[data-trade-id]"
POSITION_ROWS = "[data-testid=positions] tbody tr[data-symbol]"
TRANSFER_ROWS = "[data-testid=transfers] tbody tr[data-transfer-id]"


@dataclass
class Account:
    email: str
    token: str


def client(stack: Stack, token: str) -> httpx.Client:
    return httpx.Client(base_url=stack.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=10)


def place(c: httpx.Client, symbol: str, side: str, **fields: Any) -> dict[str, Any]:
    """An order over REST (not by the page): a limit order given `price`, else a market order."""
    body = {"symbol": symbol, "side": side, "type": "limit" if "price" in fields else "market"}
    body |= {k: format(v, "f") if isinstance(v, Decimal) else v for k, v in fields.items()}
    r = c.post("/api/orders", json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


def market_order_that_fills(stack: Stack, c: httpx.Client, symbol: str, side: str) -> dict[str, Any]:
    """A market order of about the smallest amount, tried again until it trades (it expires unfilled when it
    lands while the market maker is replacing its ladder)."""
    m = market(stack, symbol)

    def attempt() -> dict[str, Any] | None:
        last = Decimal(c.get(f"/api/markets/{symbol}/trades", params={"limit": 1}).json()[0]["price"])
        order = place(c, symbol, side, qty=qty_for(m, last * Decimal("0.9")))
        return order if Decimal(order["filled_qty"]) > 0 else None

    return dict(wait_for(f"a filled market {side} on {symbol}", attempt))


def large_fill(stack: Stack, buyer: httpx.Client, seller: httpx.Client, symbol: str, qty: str) -> None:
    """`qty` bought by `buyer` from `seller` in one fill: a post-only bid one tick above the best bid (the
    best bid then), which the seller's IOC sell at that price takes. The bid's remainder is cancelled."""
    tick = Decimal(market(stack, symbol)["tick_size"])

    def attempt() -> bool:
        book = buyer.get(f"/api/markets/{symbol}/book").json()
        if not book["bids"] or not book["asks"]:
            return False
        price = Decimal(book["bids"][0][0]) + tick
        if price >= Decimal(book["asks"][0][0]):
            return False
        r = buyer.post(
            "/api/orders",
            json={"symbol": symbol, "side": "buy", "type": "limit", "price": format(price, "f"), "qty": qty,
                  "post_only": True},
        )  # fmt: skip
        if r.status_code != 201 or r.json()["status"] != "open":
            return False
        bid = r.json()
        place(seller, symbol, "sell", price=price, qty=qty, time_in_force="ioc")
        done = buyer.delete(f"/api/orders/{bid['id']}")
        filled = done.json() if done.status_code == 200 else buyer.get(f"/api/orders/{bid['id']}").json()
        return Decimal(filled["filled_qty"]) > 0

    wait_for(f"a large fill on {symbol}", attempt, timeout_s=60)


@pytest.fixture(scope="module")
def account(stack: Stack) -> Iterator[Account]:
    email = stack.register("tables")
    token = stack.token(email)
    seller = stack.token(stack.register("tables-seller"))
    with client(stack, token) as c, client(stack, seller) as s:
        tickers = {t["symbol"]: t for t in c.get("/api/tickers").json()}
        last = {sym: Decimal(tickers[sym]["last"]) for sym in (BTC, DOT, MINA)}
        tick = {sym: market(stack, sym)["tick_size"] for sym in (BTC, DOT, MINA)}
        placed = 0
        # resting orders far from the market, with long amounts and prices
        for i in range(3):
            place(c, BTC, "buy", price=snap(last[BTC] * Decimal("0.85"), tick[BTC]) - i, qty="0.12345")
        place(c, BTC, "sell", price=snap(last[BTC] * Decimal("1.2"), tick[BTC]), qty="1.23456")
        place(c, MINA, "buy", price=snap(last[MINA] * Decimal("0.8"), tick[MINA]), qty="98765.4")
        place(c, DOT, "buy", price=snap(last[DOT] * Decimal("0.8"), tick[DOT]), qty="1234.56")
        placed += 6
        # more than a page of fills, in two markets and on both sides
        for symbol, side in [(BTC, "buy")] * 6 + [(DOT, "buy")] * 4 + [(DOT, "sell")] * 2:
            market_order_that_fills(stack, c, symbol, side)
        large_fill(stack, c, s, DOT, "1234.56")
        total = len(c.get("/api/orders", params={"status": "open", "limit": 500}).json()["items"])
        assert total == 6, f"{total} resting orders, expected the 6 placed"
        # the tables load from the history database: wait for the workers to have written everything
        wait_for(
            "a page and more of fills",
            lambda: len(c.get("/api/fills", params={"limit": 500}).json()["items"]) > 12,
        )
        wait_for("the positions", lambda: {p["symbol"] for p in c.get("/api/positions").json()} >= {BTC, DOT})
        wait_for(
            "every order in the history",
            lambda: (
                len(c.get("/api/orders", params={"status": "all", "limit": 500}).json()["items"])
                >= placed + 13
            ),
        )
    yield Account(email, token)
    with client(stack, token) as c:
        c.delete("/api/orders")


def api_ids(stack: Stack, account: Account, path: str, key: str = "id", **params: Any) -> list[int]:
    with client(stack, account.token) as c:
        r = c.get(path, params=params)
        assert r.status_code == 200, r.text
        return [int(item[key]) for item in r.json()["items"]]


def row_ids(page: Any, rows: str, attr: str) -> list[int]:
    return [int(v) for v in page.locator(rows).evaluate_all(f"rs => rs.map(r => r.getAttribute('{attr}'))")]


def visible_cells(page: Any, rows: str, *columns: int) -> list[list[str]]:
    """The first line of each named cell's text in each row (what shows in the cell, not what it folds)."""
    return page.locator(rows).evaluate_all(
        "(rs, cols) => rs.map(r => cols.map(c => r.cells[c].innerText.split('\\n')[0].trim()))", list(columns)
    )


def open_tab(page: Any, account: Account, tab: str, rows: str) -> None:
    login(page, account.email)
    open_trade(page)
    page.get_by_role("tab", name=tab).click()
    expect(page.locator(rows).first).to_be_visible(timeout=20_000)


def download(page: Any) -> tuple[str, list[dict[str, str]]]:
    with page.expect_download() as info:
        page.get_by_test_id("export-csv").click()
    with open(info.value.path(), encoding="utf-8") as f:
        return info.value.suggested_filename, list(csv.DictReader(io.StringIO(f.read())))


def test_history_filtered_by_market_side_and_status_lists_only_those_orders_and_exports_them(
    stack: Stack, new_page: Any, account: Account
) -> None:
    """Choosing a market, then a side, then a status shows only the orders that match (the same the API
    lists for those filters), back on page 1; the CSV export holds exactly the filtered orders and its file
    name says the market (and the side)."""
    page = new_page()
    open_tab(page, account, "Order history", HISTORY_ROWS)
    rows = page.locator(HISTORY_ROWS)
    expect(rows).to_have_count(10)
    page.get_by_role("button", name="Next page").click()
    expect(page.get_by_test_id("history-page")).to_have_text("Page 2")

    page.get_by_test_id("history-market").select_option(BTC)
    expect(page.get_by_test_id("history-page")).to_have_text("Page 1")  # a filter starts over
    btc = api_ids(stack, account, "/api/orders", symbol=BTC, limit=10)
    expect(rows).to_have_count(len(btc))
    wait_for("the BTC-USDT orders", lambda: row_ids(page, HISTORY_ROWS, "data-order-id") == btc, 10)
    assert {cells[0] for cells in visible_cells(page, HISTORY_ROWS, 2)} == {BTC}
    name, records = download(page)
    assert name == "orders-BTC-USDT.csv"
    every_btc = api_ids(stack, account, "/api/orders", symbol=BTC, limit=500)
    assert [int(r["id"]) for r in records] == every_btc and {r["symbol"] for r in records} == {BTC}

    page.get_by_test_id("history-side").select_option("sell")
    sells = api_ids(stack, account, "/api/orders", symbol=BTC, side="sell", limit=10)
    assert 0 < len(sells) < len(btc), sells
    wait_for("the BTC-USDT sells", lambda: row_ids(page, HISTORY_ROWS, "data-order-id") == sells, 10)
    assert {tuple(c) for c in visible_cells(page, HISTORY_ROWS, 2, 3)} == {(BTC, "sell")}
    shot(page, "30-history-filtered")
    name, records = download(page)
    assert name == "orders-BTC-USDT-sell.csv"
    assert [int(r["id"]) for r in records] == sells and {(r["symbol"], r["side"]) for r in records} == {
        (BTC, "sell")
    }

    page.get_by_test_id("history-side").select_option("buy")
    page.get_by_test_id("history-status").select_option("open")
    open_buys = api_ids(stack, account, "/api/orders", symbol=BTC, side="buy", status="open", limit=10)
    assert len(open_buys) == 3, open_buys  # the three resting BTC-USDT buys; the filled ones are closed
    wait_for("the open BTC-USDT buys", lambda: row_ids(page, HISTORY_ROWS, "data-order-id") == open_buys, 10)
    name, records = download(page)
    assert name == "orders-BTC-USDT-buy-open.csv" and [int(r["id"]) for r in records] == open_buys

    page.get_by_test_id("history-market").select_option("all")
    page.get_by_test_id("history-status").select_option("all")
    buys = api_ids(stack, account, "/api/orders", side="buy", limit=10)
    wait_for("every market's buys", lambda: row_ids(page, HISTORY_ROWS, "data-order-id") == buys, 10)
    assert {cells[0] for cells in visible_cells(page, HISTORY_ROWS, 3)} == {"buy"}


def test_price_and_amount_sorts_are_offered_only_with_one_market_chosen(
    stack: Stack, new_page: Any, account: Account
) -> None:
    """With all markets the Price and Amount headers are plain, with a tooltip saying to choose a market;
    with one market they sort (by price: the API's order); back to all markets, a price sort falls back to
    the newest first."""
    page = new_page()
    open_tab(page, account, "Order history", HISTORY_ROWS)
    table = page.get_by_test_id("order-history")
    price = table.get_by_role("columnheader", name="Price", exact=True)
    amount = table.get_by_role("columnheader", name="Amount", exact=True)
    expect(price.get_by_role("button")).to_have_count(0)
    expect(amount.get_by_role("button")).to_have_count(0)
    expect(price).to_have_attribute("title", "Choose a market to sort by price")
    expect(amount).to_have_attribute("title", "Choose a market to sort by amount")

    page.get_by_test_id("history-market").select_option(BTC)
    price.get_by_role("button", name="Price").click()
    expect(price).to_have_attribute("aria-sort", "descending")
    by_price = api_ids(stack, account, "/api/orders", symbol=BTC, sort="price", order="desc", limit=10)
    wait_for("BTC-USDT by price", lambda: row_ids(page, HISTORY_ROWS, "data-order-id") == by_price, 10)
    shown = [t for (t,) in visible_cells(page, HISTORY_ROWS, 5) if t != "—"]  # a market order has no price
    prices = [Decimal(t.replace(",", "")) for t in shown]
    assert prices and prices == sorted(prices, reverse=True), shown
    amount.get_by_role("button", name="Amount").click()
    expect(amount).to_have_attribute("aria-sort", "descending")
    by_qty = api_ids(stack, account, "/api/orders", symbol=BTC, sort="qty", order="desc", limit=10)
    wait_for("BTC-USDT by amount", lambda: row_ids(page, HISTORY_ROWS, "data-order-id") == by_qty, 10)
    shot(page, "31-history-by-amount")

    page.get_by_test_id("history-market").select_option("all")
    expect(amount.get_by_role("button")).to_have_count(0)
    expect(price.get_by_role("button")).to_have_count(0)
    expect(table.get_by_role("columnheader", name="Created")).to_have_attribute("aria-sort", "descending")
    newest = api_ids(stack, account, "/api/orders", limit=10)
    wait_for("the newest orders", lambda: row_ids(page, HISTORY_ROWS, "data-order-id") == newest, 10)


def test_fills_page_forward_and_back_and_filter_by_market(
    stack: Stack, new_page: Any, account: Account
) -> None:
    """The Fills tab pages by 10 with Prev/Next (the API's pages, newest first) and back to the same first
    page; choosing a market shows only its fills, from page 1."""
    first = api_ids(stack, account, "/api/fills", key="trade_id", limit=10)
    with client(stack, account.token) as c:
        cursor = c.get("/api/fills", params={"limit": 10}).json()["next_cursor"]
        assert cursor, "fewer than 11 fills: nothing to page"
        second_page = c.get("/api/fills", params={"limit": 10, "cursor": cursor}).json()
    second = [int(f["trade_id"]) for f in second_page["items"]]
    page = new_page()
    open_tab(page, account, "Fills", FILL_ROWS)
    prev, nxt = page.get_by_role("button", name="Previous page"), page.get_by_role("button", name="Next page")
    expect(page.locator(FILL_ROWS)).to_have_count(10)
    assert row_ids(page, FILL_ROWS, "data-trade-id") == first
    expect(prev).to_be_disabled()
    nxt.click()
    expect(page.get_by_test_id("fills-page")).to_have_text("Page 2")
    wait_for("the second page of fills", lambda: row_ids(page, FILL_ROWS, "data-trade-id") == second, 10)
    if second_page["next_cursor"] is None:
        expect(nxt).to_be_disabled()
    shot(page, "32-fills-page-2")
    prev.click()
    expect(page.get_by_test_id("fills-page")).to_have_text("Page 1")
    wait_for("the first page of fills again", lambda: row_ids(page, FILL_ROWS, "data-trade-id") == first, 10)

    nxt.click()
    expect(page.get_by_test_id("fills-page")).to_have_text("Page 2")
    page.get_by_test_id("fills-market").select_option(DOT)
    expect(page.get_by_test_id("fills-page")).to_have_text("Page 1")
    dot = api_ids(stack, account, "/api/fills", key="trade_id", symbol=DOT, limit=10)
    wait_for("the DOT-USDT fills", lambda: row_ids(page, FILL_ROWS, "data-trade-id") == dot, 10)
    assert {cells[0] for cells in visible_cells(page, FILL_ROWS, 1)} == {DOT}


def decimals_of(step: str) -> int:
    """ "0.001" -> 3, "1" -> 0."""
    return len(step.partition(".")[2].rstrip("0"))


def test_positions_show_prices_at_the_markets_price_decimals(
    stack: Stack, new_page: Any, account: Account
) -> None:
    """A position's average entry and last price show as the book shows prices: the market's price decimals
    (DOT-USDT 3, BTC-USDT 2) with thousands separators; the average entry's finer figure is its tooltip."""
    page = new_page()
    open_tab(page, account, "Positions", POSITION_ROWS)
    for symbol in (BTC, DOT):
        row = page.locator(f"[data-testid=positions] tr[data-symbol='{symbol}']")
        n = decimals_of(market(stack, symbol)["tick_size"])
        price = re.compile(rf"^\d{{1,3}}(,\d{{3}})*\.\d{{{n}}}$")
        for column in (2, 3):  # Avg entry, Last
            expect(row.locator("td").nth(column)).to_have_text(price)
        expect(row.locator("td").nth(2)).to_have_attribute("title", re.compile(r"^Average entry \d+\.\d+$"))


# how far a table's scroll containers overflow sideways, which headers show, and what of the panel's tools
# (filters, pager) reaches past the card (all read in one task of the page)
PHONE_FIT = """(table) => {
    const card = table.closest('.account-card').getBoundingClientRect();
    const scrollers = [table.closest('.table-scroll'), table.closest('.tab-body')];
    const tools = [...table.closest('.tab-body').querySelectorAll('.table-tools *')];
    return {
        widths: scrollers.map((e) => [e.className, e.scrollWidth, e.clientWidth]),
        overflow: Math.max(...scrollers.map((e) => e.scrollWidth - e.clientWidth)),
        page: document.documentElement.scrollWidth - window.innerWidth,
        shown: [...table.querySelectorAll('thead th')].filter((th) => th.getBoundingClientRect().width > 0)
            .map((th) => th.innerText.split('\\n')[0].replace(/[\\u25b2\\u25bc]/g, '').trim()),
        toolsOut: tools.filter((e) => {
            const r = e.getBoundingClientRect();
            return r.width > 0 && (r.left < card.left - 0.5 || r.right > card.right + 0.5);
        }).map((e) => e.outerHTML.slice(0, 80)),
    };
}"""
PHONE_TABS = {
    "Order history": ("order-history", HISTORY_ROWS, ["Market", "Side", "Price", "Amount", "Status"]),
    "Fills": ("fills", FILL_ROWS, ["Market", "Side", "Price", "Amount", "Fee"]),
    "Positions": ("positions", POSITION_ROWS, ["Market", "Net bought", "Unrealized PnL"]),
    "Balances": ("transfers", TRANSFER_ROWS, ["Time", "Type", "Asset", "Amount"]),  # the deposits
}


# each balance row's asset and, per amount column shown, the amount's text, the right edge of its figures up
# to its decimal point (the point's own right edge), and how the cell aligns its figures
BALANCE_CELLS = """(table) => [...table.querySelectorAll('tbody tr[data-asset]')].map((r) => ({
    asset: r.dataset.asset,
    cells: [...r.cells].slice(1).filter((c) => c.getBoundingClientRect().width > 0).map((c) => {
        const text = c.textContent, node = (c.querySelector('.amount') || c).firstChild;
        const range = document.createRange();
        range.setStart(node, 0);
        range.setEnd(node, text.includes('.') ? text.indexOf('.') + 1 : text.length);
        const style = getComputedStyle(c);
        return { text, point: range.getBoundingClientRect().right, align: style.textAlign,
                 figures: style.fontVariantNumeric };
    }),
}))"""


def test_balances_line_up_each_columns_decimal_points_at_each_assets_decimals(
    stack: Stack, new_page: Any, account: Account
) -> None:
    """The balances table (USDT of 6 decimals beside BTC, DOT, MINA of 8, with held amounts like 1.23456
    BTC) shows each asset's available, in orders and total exactly as the API has them, none with more
    decimals than its asset has, each column at one number of decimals where the asset has them, right-
    aligned in tabular figures: the decimal points of a column line up."""
    with client(stack, account.token) as c:
        decimals = {a["symbol"]: a["decimals"] for a in c.get("/api/assets").json()}
        balances = {b["asset"]: b for b in c.get("/api/balances").json()}
    page = new_page()
    open_tab(page, account, "Balances", "[data-testid=balances] tbody tr[data-asset]")
    table = page.get_by_test_id("balances")
    expect(table.locator("thead th")).to_have_text(["Asset", "Available", "In orders", "Total"])
    expect(table.locator("tbody tr[data-asset]")).to_have_count(len(balances))
    rows = table.evaluate(BALANCE_CELLS)
    shot(page, "35-balances-aligned")
    problems = []
    for column, name in enumerate(["available", "held", "total"]):
        cells = [(r["asset"], r["cells"][column]) for r in rows]
        shown = {asset: len(cell["text"].partition(".")[2]) for asset, cell in cells}
        widest = max(shown.values())
        for asset, cell in cells:
            b = balances[asset]
            want = Decimal(b["available"]) + Decimal(b["held"]) if name == "total" else Decimal(b[name])
            if Decimal(cell["text"].replace(",", "")) != want:
                problems.append(f"{asset} {name}: {cell['text']!r}, the API says {want}")
            if shown[asset] != min(widest, decimals[asset]):
                problems.append(
                    f"{asset} {name}: {cell['text']!r} beside {widest} decimals, asset has {decimals[asset]}"
                )
            if cell["align"] != "right" or "tabular-nums" not in cell["figures"]:
                problems.append(f"{asset} {name}: aligned {cell['align']}, figures {cell['figures']}")
        points = sorted(round(cell["point"], 1) for _asset, cell in cells)
        if points[-1] - points[0] > 0.5:
            problems.append(f"{name}: the decimal points are at x {points}: {[c['text'] for _a, c in cells]}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(("width", "height"), [(390, 844), (360, 740)])
def test_history_fills_and_positions_fit_a_phone_without_sideways_scroll(
    stack: Stack, new_page: Any, account: Account, width: int, height: int
) -> None:
    """On a phone the order history, fills, positions, balances and deposits tables (three markets, amounts
    like 98,765.4 MINA and 1,234.56 DOT, balances of up to 8 decimals) fit the account panel: neither the
    table nor the panel scrolls sideways, the key columns show and the others fold under them (an order's
    time under its market), and the filters and pager stay inside the card."""
    page = new_page(width, height)
    login(page, account.email)
    open_trade(page)
    problems = []
    for tab, (table_id, rows, columns) in PHONE_TABS.items():
        page.get_by_role("tab", name=tab).click()
        expect(page.locator(rows).first).to_be_visible(timeout=20_000)
        if tab == "Order history":  # the longest amounts and prices among the orders (MINA, DOT, BTC)
            expect(page.locator(rows)).to_have_count(10)
        fit = page.get_by_test_id(table_id).evaluate(PHONE_FIT)
        print(f"{width}x{height} {tab}: {fit['widths']}")
        shot(page, f"33-phone-{width}-{table_id}")
        if fit["overflow"] > 0 or fit["page"] > 0 or fit["toolsOut"]:
            problems.append(f"{tab} at {width}px overflows: {fit}")
        missing = [c for c in columns if c not in fit["shown"]]
        if missing:
            problems.append(f"{tab} at {width}px hides {missing} (shows {fit['shown']})")
        folded = page.locator(rows).first.locator(".cell-more").first
        if not folded.is_visible():
            problems.append(f"{tab} at {width}px shows nothing folded under its key columns")
    # the balances above the deposits: each asset's available and in orders, decimal points in line (the
    # total, their sum, only where there is room)
    fit = page.get_by_test_id("balances").evaluate(PHONE_FIT)
    print(f"{width}x{height} balances: {fit['widths']}")
    if fit["overflow"] > 0 or fit["page"] > 0:
        problems.append(f"Balances at {width}px overflows: {fit}")
    if fit["shown"] != ["Asset", "Available", "In orders"]:
        problems.append(f"Balances at {width}px shows {fit['shown']}")
    points = page.get_by_test_id("balances").evaluate(BALANCE_CELLS)
    for column in (0, 1):
        xs = [round(r["cells"][column]["point"], 1) for r in points]
        if max(xs) - min(xs) > 0.5:
            problems.append(f"Balances at {width}px: column {column + 1}'s decimal points at x {xs}")
    assert not problems, "\n".join(problems)


def test_balances_tab_lists_the_deposits_and_withdrawals_below_the_balances(
    stack: Stack, new_page: Any
) -> None:
    """A new account's demo funds are seven deposits: under the Balances tab's table they are listed, one
    row per asset with its signed amount in the asset's digits and its reference, as `GET /api/transfers`
    has them; the asset and type filters narrow the list."""
    email = stack.register("transfers")
    with client(stack, stack.token(email)) as api:

        def seven() -> list[dict[str, Any]] | None:
            items: list[dict[str, Any]] = api.get("/api/transfers").json()["items"]
            return items if len(items) == 7 else None

        listed = wait_for("the demo deposits persisted", seven)
    page = new_page()
    open_tab(page, Account(email, ""), "Balances", TRANSFER_ROWS)
    rows = page.locator(TRANSFER_ROWS)
    expect(rows).to_have_count(7)
    for t in listed:
        row = page.locator(f"[data-testid=transfers] tr[data-transfer-id='{t['id']}']")
        expect(row.locator("td").nth(1)).to_have_text("deposit")
        expect(row.locator("td").nth(2)).to_have_text(t["asset"], use_inner_text=True)
        expect(row.locator("td").nth(4)).to_have_text(t["ref"])
    usdt = page.locator("[data-testid=transfers] tr[data-asset=USDT]")
    expect(usdt.locator("td").nth(3)).to_have_text("+100,000.00")
    expect(page.get_by_test_id("transfers-page")).to_have_text("Page 1")
    page.get_by_test_id("transfers-asset").select_option("BTC")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-asset", "BTC")
    page.get_by_test_id("transfers-type").select_option("withdrawal")
    expect(rows).to_have_count(0)
    expect(page.get_by_test_id("transfers")).to_contain_text("None match the filters")
    page.get_by_test_id("transfers-asset").select_option("all")
    page.get_by_test_id("transfers-type").select_option("deposit")
    expect(rows).to_have_count(7)
    page.get_by_test_id("transfers").scroll_into_view_if_needed()
    shot(page, "16-transfers")
