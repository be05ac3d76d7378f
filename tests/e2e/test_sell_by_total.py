"""A market sell by total in headless Chromium against the real stack: the order form's amount mode (by amount
or by total, the "Amount in" unit) is offered for a market sell too. A sell by total gives the quote value to
sell (before the fee); the form prices it with `GET /estimate/sell` (the base it sells, the fee, what the
trader receives), checks the base it needs against the balance, sizes it with the % buttons by the value of a
share of the base at the bids, carries the unsold rest of a capped one and keeps it in the form's draft."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import Stack, shot
from tests.e2e.test_terminal import SYMBOL, answer_orders, best, login, market, open_trade, snap

pytestmark = pytest.mark.browser

NBSP = "\u00a0"  # the reason line with nothing to say


def api(stack: Stack, email: str) -> httpx.Client:
    """The REST API as the trader (their own token, not the page's)."""
    headers = {"Authorization": f"Bearer {stack.token(email)}"}
    return httpx.Client(base_url=stack.base_url, headers=headers, timeout=10)


def balances(client: httpx.Client) -> dict[str, Decimal]:
    """The account's available balance of each asset, as the engine has it."""
    r = client.get("/api/balances")
    assert r.status_code == 200, r.text
    return {b["asset"]: Decimal(b["available"]) for b in r.json()}


@pytest.fixture
def trader(stack: Stack) -> Iterator[Callable[[str], str]]:
    """A factory of fresh accounts whose open orders (the resting orders a test sets up) are cancelled at
    the end of the test: they do not stay in the shared book for the tests after it."""
    emails: list[str] = []

    def make(prefix: str) -> str:
        emails.append(stack.register(prefix))
        return emails[-1]

    yield make
    for email in emails:
        with api(stack, email) as client:
            r = client.delete("/api/orders")
            assert r.status_code == 200, r.text


def sell_by_total(page: Any, m: dict[str, Any]) -> Any:
    """The order form on Sell, Market and "Amount in" the quote asset: the total field. Returns the form."""
    form = page.get_by_test_id("order-form")
    form.get_by_role("button", name="Sell", exact=True).click()
    form.get_by_role("button", name="Market", exact=True).click()
    form.get_by_label("Amount in").select_option(m["quote"])
    expect(form.locator("input[name=quote_qty]")).to_be_visible()
    expect(form.locator("input[name=qty]")).to_have_count(0)
    return form


def keep_only(client: httpx.Client, page: Any, m: dict[str, Any], keep: Decimal) -> None:
    """Leave the trader `keep` of the base available: the rest is held by a limit sell resting far above
    the asks (it never trades while the test runs)."""
    have = balances(client)[m["base"]]
    price = snap(best(page, "asks") * Decimal("1.04"), m["tick_size"], "ROUND_UP")
    qty = format(have - keep, "f")
    body = {"symbol": SYMBOL, "side": "sell", "type": "limit", "price": format(price, "f"), "qty": qty}
    r = client.post("/api/orders", json=body)
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "open", r.json()
    assert balances(client)[m["base"]] == keep


def test_a_market_sell_by_total_sells_what_the_total_is_worth(stack: Stack, new_page: Any) -> None:
    """100 USDT of BTC: the form shows about how much BTC it sells, the fee and what the trader receives; it
    sends `quote_qty` (no `qty`); the order's fills are worth at most 100 USDT, the BTC balance falls by the
    BTC it sold and the USDT balance grows by the fills' value less the fees."""
    page = new_page()
    email = stack.register("sellbytotal")
    login(page, email)
    open_trade(page)
    m = market(stack)
    form = sell_by_total(page, m)
    expect(form.locator("input[name=quote_qty]")).to_have_attribute(
        "title", re.compile("value of BTC to sell, before the fee")
    )
    total = "100"
    form.locator("input[name=quote_qty]").fill(total)
    expect(page.get_by_test_id("market-price")).to_contain_text(re.compile(r"avg ≈ \d"), timeout=10_000)
    expect(page.get_by_test_id("est-amount")).to_have_text(re.compile(rf"^0\.00\d+ {m['base']}$"))
    expect(page.get_by_test_id("est-fee")).to_have_text(re.compile(rf"^0\.\d{{6}} {m['quote']}$"))
    received = page.get_by_test_id("est-total")
    expect(received).to_have_text(re.compile(rf"^9\d\.\d{{6}} {m['quote']}$"))  # 100 less the fee, about
    expect(form.locator("dt", has_text="Est. proceeds")).to_be_visible()
    expect(page.get_by_test_id("order-reason")).to_have_text(NBSP)
    shot(page, "sell-by-total")

    with api(stack, email) as client:
        before = balances(client)
        order: dict[str, Any] = {}
        for _attempt in range(5):  # a send that lands while the market maker replaces its bids sells nothing
            submit = page.get_by_test_id("submit-order")
            expect(submit).to_be_enabled(timeout=10_000)
            with page.expect_response(
                lambda r: r.request.method == "POST" and r.url.endswith("/api/orders")
            ) as res:
                submit.click()
            sent = json.loads(res.value.request.post_data or "{}")
            assert {k: v for k, v in sent.items() if k not in ("client_order_id", "post_only")} == {
                "symbol": SYMBOL, "side": "sell", "type": "market", "quote_qty": total,
            }  # fmt: skip
            assert res.value.status == 201, res.value.text()
            order = res.value.json()
            if Decimal(order["filled_qty"]) > 0:
                break
            form.locator("input[name=quote_qty]").fill(total)
        assert order["status"] == "filled", order
        assert order["quote_qty"] == total and order["qty"] is None
        filled, worth = Decimal(order["filled_qty"]), Decimal(order["quote_filled"])
        assert Decimal(0) < worth <= Decimal(total)
        r = client.get(f"/api/orders/{order['id']}")
        assert r.status_code == 200, r.text
        fills = r.json()["fills"] or order["fills"]
        assert sum(Decimal(f["qty"]) for f in fills) == filled
        fees = sum(Decimal(f["fee"]) for f in fills if f["fee_asset"] == m["quote"])
        assert fees > 0
        after = balances(client)
    assert before[m["base"]] - after[m["base"]] == filled
    assert after[m["quote"]] - before[m["quote"]] == worth - fees
    expect(form.locator("input[name=quote_qty]")).to_have_value("")  # placed: cleared for the next one


def test_a_total_worth_more_than_the_traders_base_is_refused_before_it_is_sent(
    stack: Stack, new_page: Any, trader: Callable[[str], str]
) -> None:
    """With about 60 USDT of BTC available, a sell of 100 USDT of BTC needs more BTC than the account has:
    the form says so and its button is disabled; 20 USDT of BTC can go."""
    page = new_page()
    email = trader("sellshort")
    login(page, email)
    open_trade(page)
    m = market(stack)
    keep = snap(Decimal(60) / best(page, "bids"), m["lot_size"])
    with api(stack, email) as client:
        keep_only(client, page, m, keep)
    form = sell_by_total(page, m)
    expect(page.get_by_test_id("available")).to_have_text(f"{keep:.8f} {m['base']}", timeout=10_000)
    submit = page.get_by_test_id("submit-order")
    reason = page.get_by_test_id("order-reason")
    form.locator("input[name=quote_qty]").fill("100")
    expect(reason).to_have_text(f"Insufficient {m['base']} balance", timeout=10_000)
    expect(submit).to_be_disabled()
    expect(page.get_by_test_id("est-amount")).not_to_have_text("—")  # by the walk: more BTC than available
    assert Decimal(page.get_by_test_id("est-amount").inner_text().split()[0]) > keep
    shot(page, "sell-by-total-insufficient")
    form.locator("input[name=quote_qty]").fill("20")
    expect(page.get_by_test_id("est-amount")).to_have_text(
        re.compile(rf"^0\.000\d+ {m['base']}$"), timeout=10_000
    )
    expect(reason).to_have_text(NBSP)
    expect(submit).to_be_enabled()


def test_the_percent_buttons_give_a_total_the_account_can_sell(
    stack: Stack, new_page: Any, trader: Callable[[str], str]
) -> None:
    """In sell-by-total mode 50 % is the value of half the base available at the bids now (the walk of the
    book for that amount, not the best bid times the amount), a total whose sale needs no more base than
    the account has: the form has no objection and the order is placed, never refused for funds."""
    page = new_page()
    email = trader("sellpct")
    login(page, email)
    open_trade(page)
    m = market(stack)
    bid = best(page, "bids")
    keep = snap(Decimal(600) / bid, m["lot_size"])  # about 600 USDT of BTC: the bids hold its half
    with api(stack, email) as client:
        keep_only(client, page, m, keep)
        form = sell_by_total(page, m)
        expect(page.get_by_test_id("available")).to_have_text(f"{keep:.8f} {m['base']}", timeout=10_000)
        field = form.locator("input[name=quote_qty]")
        form.get_by_role("button", name="50%").click()
        expect(field).not_to_have_value("", timeout=10_000)
        total = Decimal(field.input_value())
        half = snap(keep / 2, m["lot_size"])
        assert total == total.quantize(Decimal(1).scaleb(-m["quote_decimals"]))  # whole minor units
        # the value of half the base at the bids: at most half x the best bid (the walk sells lower), near it
        top = max(bid, best(page, "bids")) * Decimal("1.01")
        assert half * top * Decimal("0.9") < total <= half * top, (total, half, bid)
        r = client.get(f"/api/markets/{SYMBOL}/estimate/sell", params={"quote_qty": format(total, "f")})
        assert r.status_code == 200, r.text
        assert Decimal(r.json()["filled_qty"]) <= keep, r.json()  # the account can sell it
        expect(page.get_by_test_id("est-amount")).to_have_text(
            re.compile(rf"^0\.00\d+ {m['base']}$"), timeout=10_000
        )
        expect(page.get_by_test_id("order-reason")).to_have_text(NBSP)
        submit = page.get_by_test_id("submit-order")
        expect(submit).to_be_enabled()
        with page.expect_response(
            lambda r: r.request.method == "POST" and r.url.endswith("/api/orders")
        ) as res:
            submit.click()
        assert res.value.status == 201, res.value.text()  # not INSUFFICIENT_FUNDS
        order = res.value.json()
        assert Decimal(order["quote_qty"]) == total and order["status"] != "rejected", order
        assert Decimal(order["quote_filled"]) <= total
        assert balances(client)[m["base"]] == keep - Decimal(order["filled_qty"])


def test_a_capped_sell_by_total_leaves_the_unsold_value_in_the_form(stack: Stack, new_page: Any) -> None:
    """The engine stops a sell of 100 USDT of BTC at its cap on resting orders matched (reason max_makers)
    after fills worth 72 USDT: the form keeps 28 USDT to sell (the total less the fills' value: a seller's
    fee comes out of the proceeds, not out of the total) and says why. (The capped answer is the server's,
    given here by the page's network layer: the demo book cannot be made to hold 13 bids at will.)"""
    page = new_page()
    login(page, stack.register("sellcapped"))
    open_trade(page)
    m = market(stack)

    def capped(body: dict[str, Any]) -> dict[str, Any]:
        fill = {
            "price": "60000",
            "qty": "0.0006",
            "fee": "0.072",
            "fee_asset": "USDT",
            "liquidity": "taker",
            "ts": 1,
        }
        return {
            "id": 987654322, "client_order_id": body["client_order_id"], "symbol": SYMBOL, "side": "sell",
            "type": "market", "price": None, "qty": None, "quote_qty": body["quote_qty"],
            "filled_qty": "0.0012", "remaining_qty": "0", "quote_filled": "72", "avg_price": "60000",
            "status": "expired", "reason": "max_makers", "time_in_force": "ioc", "post_only": False,
            "stp": "cancel_maker", "created_at": 1, "updated_at": 1,
            "fills": [fill | {"trade_id": 1}, fill | {"trade_id": 2}],
        }  # fmt: skip

    sent = answer_orders(page, capped)
    form = sell_by_total(page, m)
    form.locator("input[name=quote_qty]").fill("100")
    expect(page.get_by_test_id("market-price")).to_contain_text(re.compile(r"avg ≈ \d"), timeout=10_000)
    page.get_by_test_id("submit-order").click()
    carry = page.get_by_test_id("order-carry")
    expect(carry).to_have_text(
        "Sold all but 28.000000 USDT of the total: one order matches at most a set number of resting orders."
        " Sell again to send the rest."
    )
    expect(form.locator("input[name=quote_qty]")).to_have_value("28")
    assert sent[0]["quote_qty"] == "100" and "qty" not in sent[0]
    form.locator("input[name=quote_qty]").fill("30")
    expect(carry).to_have_count(0)


def test_a_sell_by_total_that_would_meet_the_traders_own_bid_says_it_would_cancel_it(
    stack: Stack, new_page: Any, trader: Callable[[str], str]
) -> None:
    """A trader with a bid resting under the market maker's bids: a sell of 20 USDT of BTC (the best bid
    takes it) says nothing; a total worth more than the bids above it warns that self-trade prevention
    would cancel the trader's bid, by the sell estimate's worst price."""
    page = new_page()
    email = trader("sellself")
    login(page, email)
    open_trade(page)
    m = market(stack)
    price = snap(best(page, "bids") * Decimal("0.97"), m["tick_size"])  # under the ladder, inside the band
    with api(stack, email) as client:
        body = {"symbol": SYMBOL, "side": "buy", "type": "limit", "price": format(price, "f"), "qty": "0.001"}
        r = client.post("/api/orders", json=body)
        assert r.status_code == 201, r.text
    expect(page.locator("[data-testid=open-orders] tbody tr[data-order-id]")).to_have_count(1, timeout=10_000)
    form = sell_by_total(page, m)
    warning = page.get_by_test_id("self-trade-warning")
    form.locator("input[name=quote_qty]").fill("20")
    expect(page.get_by_test_id("market-price")).to_contain_text(re.compile(r"avg ≈ \d"), timeout=10_000)
    expect(warning).to_have_count(0)
    form.locator("input[name=quote_qty]").fill("60000")  # more than the ladder above the trader's bid holds
    expect(warning).to_have_text(
        f"Would cancel your buy order at {format(price, ',.2f')}"
        " (self-trade prevention: an order never trades with your own)",
        timeout=10_000,
    )


def test_a_sell_by_total_draft_comes_back_after_a_reload(stack: Stack, new_page: Any) -> None:
    """The form's draft keeps a sell by total: after a reload it is still Sell, Market, in the quote asset,
    with the total typed (the amount mode used to mean something only for a buy)."""
    page = new_page()
    open_trade(page)
    m = market(stack)
    form = sell_by_total(page, m)
    form.locator("input[name=quote_qty]").fill("75.5")
    page.reload()
    expect(page.get_by_test_id("order-book")).to_have_attribute("data-synced", "1", timeout=20_000)
    expect(form.get_by_role("button", name="Sell", exact=True)).to_have_attribute("aria-pressed", "true")
    expect(form.get_by_role("button", name="Market", exact=True)).to_have_attribute("aria-pressed", "true")
    expect(form.get_by_label("Amount in")).to_have_value("quote")
    expect(form.locator("input[name=quote_qty]")).to_have_value("75.5")
    expect(page.get_by_test_id("est-amount")).to_have_text(
        re.compile(rf"^0\.00\d+ {m['base']}$"), timeout=10_000
    )
