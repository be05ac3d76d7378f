"""`GET /api/markets/{symbol}/estimate?qty=`: the current buy and sell prices for a volume; and
`GET /api/markets/{symbol}/estimate/buy?quote_qty=`: what a market buy spending an amount would get."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from exchange.api.convert import Market
from exchange.api.estimate import sell_worth, spend, walk
from tests.api.conftest import User, error_code, register

SYMBOL = "BTC-USDT"


async def place(client: AsyncTestClient[Litestar], user: User, **fields: Any) -> Any:
    r = await client.post("/api/orders", json={"symbol": SYMBOL, **fields}, headers=user.headers)
    assert r.status_code == 201, r.text
    return r.json()


async def estimate(client: AsyncTestClient[Litestar], qty: str, symbol: str = SYMBOL) -> Any:
    return await client.get(f"/api/markets/{symbol}/estimate", params={"qty": qty})


async def ladder(client: AsyncTestClient[Litestar], side: str, prices_qtys: list[tuple[str, str]]) -> None:
    """One resting order per level, each from its own account (so fills round as the estimate does)."""
    for price, qty in prices_qtys:
        maker = await register(client)
        await place(client, maker, side=side, type="limit", price=price, qty=qty)


ASKS = [("60000.01", "0.01234"), ("60001.37", "0.5"), ("60100", "0.33333")]
BIDS = [("59999.99", "0.02"), ("59950.5", "0.41111"), ("59000", "1")]


@pytest.mark.parametrize(
    ("side", "qty"), [("buy", "0.3"), ("buy", "0.51234"), ("sell", "0.2"), ("sell", "1.1")]
)
async def test_the_estimate_is_what_a_market_order_then_gets(
    client: AsyncTestClient[Litestar], side: str, qty: str
) -> None:
    """With one maker per level, a market order of `qty` placed right after the estimate fills exactly the
    estimated quantity, at the estimated worst price, notional, fee and total (the engine's rounding), and the
    estimate's average price is its fills' volume-weighted price (tick decimals + 4)."""
    await ladder(client, "sell", ASKS)
    await ladder(client, "buy", BIDS)
    r = await estimate(client, qty)
    assert r.status_code == 200, r.text
    est = r.json()[side]
    assert est["complete"] is True and est["filled_qty"] == qty
    taker = await register(client)
    order = await place(client, taker, side=side, type="market", qty=qty)
    fee = sum((Decimal(f["fee"]) for f in order["fills"]), Decimal(0))
    assert order["filled_qty"] == est["filled_qty"]
    vwap = sum((Decimal(f["price"]) * Decimal(f["qty"]) for f in order["fills"]), Decimal(0)) / Decimal(qty)
    assert Decimal(est["avg_price"]) == vwap.quantize(Decimal("0.000001"))
    assert Decimal(order["quote_filled"]) == Decimal(est["notional"])
    assert fee == Decimal(est["fee"])
    total = Decimal(order["quote_filled"]) + (fee if side == "buy" else -fee)
    assert total == Decimal(est["total"])
    assert est["worst_price"] == order["fills"][-1]["price"]


async def test_both_sides_walk_the_book_best_first_and_report_what_it_cannot_fill(
    client: AsyncTestClient[Litestar],
) -> None:
    """Buying walks the asks from the lowest, selling the bids from the highest; a volume deeper than the book
    is filled as far as it goes with `complete` false; `seq` is the book's."""
    await ladder(client, "sell", ASKS)
    await ladder(client, "buy", BIDS)
    book = (await client.get(f"/api/markets/{SYMBOL}/book")).json()
    body = (await estimate(client, "0.5")).json()
    assert (body["symbol"], body["qty"], body["seq"]) == (SYMBOL, "0.5", book["seq"])
    assert body["buy"]["worst_price"] == "60001.37" and body["sell"]["worst_price"] == "59000"
    buy_avg, sell_avg = Decimal(body["buy"]["avg_price"]), Decimal(body["sell"]["avg_price"])
    assert Decimal("60000.01") < buy_avg < Decimal("60001.37")
    assert Decimal("59000") < sell_avg < Decimal("59950.5")
    deep = (await estimate(client, "5")).json()
    assert deep["buy"]["complete"] is False and deep["buy"]["filled_qty"] == "0.84567"
    assert deep["sell"]["complete"] is False and deep["sell"]["filled_qty"] == "1.43111"


async def test_an_empty_side_estimates_nothing(client: AsyncTestClient[Litestar]) -> None:
    """Against an empty book both sides fill nothing: prices null, amounts zero, not complete."""
    body = (await estimate(client, "1", "ETH-USDT")).json()
    for side in ("buy", "sell"):
        assert body[side] == {
            "filled_qty": "0",
            "avg_price": None,
            "worst_price": None,
            "notional": "0",
            "fee": "0",
            "total": "0",
            "complete": False,
            "capped": False,
        }


@pytest.mark.parametrize(
    ("symbol", "qty", "status", "code"),
    [
        ("XYZ-USDT", "1", 404, "UNKNOWN_MARKET"),
        (SYMBOL, "0", 400, "INVALID_QTY"),
        (SYMBOL, "-1", 422, "VALIDATION_ERROR"),
        (SYMBOL, "abc", 422, "VALIDATION_ERROR"),
        (SYMBOL, "1e2", 422, "VALIDATION_ERROR"),
        (SYMBOL, "\u0663", 422, "VALIDATION_ERROR"),
        (SYMBOL, "1\n", 422, "VALIDATION_ERROR"),
        (SYMBOL, "0.000001", 400, "QTY_NOT_ON_LOT"),
        (SYMBOL, "901", 400, "QTY_TOO_LARGE"),
    ],
)
async def test_bad_input_gets_its_code(
    client: AsyncTestClient[Litestar], symbol: str, qty: str, status: int, code: str
) -> None:
    """Unknown market, a non-positive, malformed (not a plain decimal string), off-lot or too large
    quantity: a coded error."""
    r = await estimate(client, qty, symbol)
    assert r.status_code == status, r.text
    assert error_code(r) == code


async def test_a_missing_qty_is_a_validation_error(client: AsyncTestClient[Litestar]) -> None:
    """`qty` is required."""
    r = await client.get(f"/api/markets/{SYMBOL}/estimate")
    assert r.status_code == 422 and error_code(r) == "VALIDATION_ERROR"


def test_walk_rounds_like_the_engine_per_level() -> None:
    """Per level X = price * lots * num: notional floor(X / den), a buyer pays ceil(X * (1 + fee) / den),
    a seller gets floor(X * (1 - fee) / den), each summed over the levels taken."""
    m = Market(
        symbol="T-Q", base="T", quote="Q", tick_size=Decimal("0.01"), lot_size=Decimal("0.001"),
        base_decimals=8, quote_decimals=2, lot_minor=100000, num=1, den=1000, min_lots=1, max_lots=10**6,
        max_price_ticks=10**9, min_notional_minor=1, maker_bps=10, taker_bps=25, status="trading",
    )  # fmt: skip
    levels = [[12345, 7], [12399, 100]]  # 123.45 x 0.007, 123.99 x 0.1
    buy = walk(levels, m, 50, buy=True)
    # X = 12345*7 = 86415 and 12399*43 = 533157: notional 86 + 533 = 619 minor = 6.19
    assert (buy["filled_qty"], buy["notional"], buy["worst_price"]) == ("0.05", "6.19", "123.99")
    # mean price: (12345*7 + 12399*43) / 50 = 12391.44 ticks, no rounding to minor units
    assert buy["avg_price"] == "123.9144"
    # pays ceil(86415*10025/1e7) = 87 and ceil(533157*10025/1e7) = 535: 6.22, fee 0.03
    assert (buy["total"], buy["fee"], buy["complete"]) == ("6.22", "0.03", True)
    sell = walk(levels, m, 200, buy=False)
    # X = 86415 and 12399*100 = 1239900: notional 86 + 1239 = 1325; gets floor(86.199...) + floor(1236.80...)
    assert (sell["filled_qty"], sell["notional"], sell["total"], sell["fee"]) == (
        "0.107",
        "13.25",
        "13.22",
        "0.03",
    )
    assert sell["complete"] is False


def test_walk_stops_where_a_market_order_would_at_the_price_band() -> None:
    """With a 1 % band a buy takes the levels up to 1 % above the best ask (101.00 on a 100.00 touch, the
    boundary included) and a sell those down to 1 % below the best bid; the rest is not filled."""
    m = Market(
        symbol="T-Q", base="T", quote="Q", tick_size=Decimal("0.01"), lot_size=Decimal("1"),
        base_decimals=0, quote_decimals=2, lot_minor=1, num=1, den=1, min_lots=1, max_lots=10**6,
        max_price_ticks=10**9, min_notional_minor=1, maker_bps=0, taker_bps=0, status="trading",
        price_band_bps=100,
    )  # fmt: skip
    asks = [[10000, 1], [10100, 1], [10101, 5]]  # 100.00, 101.00 (on the band), 101.01 (beyond)
    buy = walk(asks, m, 7, buy=True)
    assert (buy["filled_qty"], buy["worst_price"], buy["complete"]) == ("2", "101", False)
    bids = [[10000, 1], [9900, 1], [9899, 5]]  # 100.00, 99.00 (on the band), 98.99 (beyond)
    sell = walk(bids, m, 7, buy=False)
    assert (sell["filled_qty"], sell["worst_price"], sell["complete"]) == ("2", "99", False)
    unbanded = walk(asks, replace(m, price_band_bps=0), 7, buy=True)
    assert (unbanded["filled_qty"], unbanded["complete"]) == ("7", True)


def test_capped_says_when_one_order_would_meet_more_resting_orders_than_the_engine_lets_it() -> None:
    """The walk counts every order of each level it empties and one of a level it takes in part: more than
    MAX_MAKERS (12) and the estimate is `capped` (one order stops before, the rest expired), for a buy by
    quantity, a sell and a buy by quote alike."""
    m = Market(
        symbol="T-Q", base="T", quote="Q", tick_size=Decimal("0.01"), lot_size=Decimal("1"),
        base_decimals=0, quote_decimals=2, lot_minor=1, num=1, den=1, min_lots=1, max_lots=10**6,
        max_price_ticks=10**9, min_notional_minor=1, maker_bps=0, taker_bps=0, status="trading",
    )  # fmt: skip
    levels = [[1000, 6, 6], [1001, 6, 6], [1002, 10, 3]]  # 6 + 6 orders of one lot, then 3 orders
    assert walk(levels, m, 9, buy=True)["capped"] is False  # 6 + at least 1
    assert walk(levels, m, 12, buy=True)["capped"] is False  # exactly 12
    capped = walk(levels, m, 13, buy=True)  # 12 + at least 1 of the third level
    assert (capped["capped"], capped["complete"], capped["filled_qty"]) == (True, True, "13")
    assert walk(list(reversed(levels)), m, 20, buy=False)["capped"] is False  # 3 + 6 + 1
    assert walk(list(reversed(levels)), m, 22, buy=False)["capped"] is True  # 3 + 6 + 6 = 15
    book = {"seq": 1, "asks": levels}
    assert spend(book, m, 12 * 1000 + 6 * 6)["capped"] is False  # 10.00 x 6 + 10.01 x 6: 12 orders
    assert spend(book, m, 13 * 1002)["capped"] is True


async def estimate_buy(client: AsyncTestClient[Litestar], quote_qty: str, symbol: str = SYMBOL) -> Any:
    return await client.get(f"/api/markets/{symbol}/estimate/buy", params={"quote_qty": quote_qty})


@pytest.mark.parametrize(("quote_qty", "complete"), [("300", True), ("30000.5", True), ("60000", False)])
async def test_the_spend_estimate_is_what_a_market_buy_by_quote_then_gets(
    client: AsyncTestClient[Litestar], quote_qty: str, complete: bool
) -> None:
    """With one maker per level, a market buy with `quote_qty` placed right after the estimate fills the
    estimated base amount for the estimated notional and fee; what it spends is the estimate's `total`, and
    `complete` says whether it fills (its budget spent as far as lots go) or expires (the asks end first)."""
    await ladder(client, "sell", ASKS)
    r = await estimate_buy(client, quote_qty)
    assert r.status_code == 200, r.text
    est = r.json()
    assert (est["symbol"], est["quote_qty"], est["complete"]) == (SYMBOL, quote_qty, complete)
    taker = await register(client)
    before = await client.get("/api/balances", headers=taker.headers)
    usdt = {b["asset"]: b for b in before.json()}["USDT"]["available"]
    order = await place(client, taker, side="buy", type="market", quote_qty=quote_qty)
    fee = sum((Decimal(f["fee"]) for f in order["fills"]), Decimal(0))
    assert order["filled_qty"] == est["filled_qty"]
    assert Decimal(order["quote_filled"]) == Decimal(est["notional"])
    assert fee == Decimal(est["fee"])
    assert est["worst_price"] == order["fills"][-1]["price"]
    assert order["status"] == ("filled" if est["complete"] else "expired")
    after = await client.get("/api/balances", headers=taker.headers)
    spent = Decimal(usdt) - Decimal({b["asset"]: b for b in after.json()}["USDT"]["available"])
    assert spent == Decimal(est["total"]) <= Decimal(quote_qty)


async def estimate_sell(client: AsyncTestClient[Litestar], quote_qty: str, symbol: str = SYMBOL) -> Any:
    return await client.get(f"/api/markets/{symbol}/estimate/sell", params={"quote_qty": quote_qty})


@pytest.mark.parametrize(("quote_qty", "complete"), [("300", True), ("25000.5", True), ("90000", False)])
async def test_the_sell_estimate_is_what_a_market_sell_by_quote_then_gets(
    client: AsyncTestClient[Litestar], quote_qty: str, complete: bool
) -> None:
    """With one maker per level, a market sell with `quote_qty` placed right after the estimate sells the
    estimated base amount for the estimated notional (never above `quote_qty`) and fee; what it receives is
    the estimate's `total`, and `complete` says whether it fills or expires (the bids end first)."""
    await ladder(client, "buy", BIDS)
    r = await estimate_sell(client, quote_qty)
    assert r.status_code == 200, r.text
    est = r.json()
    assert (est["symbol"], est["quote_qty"], est["complete"]) == (SYMBOL, quote_qty, complete)
    taker = await register(client)
    before = {b["asset"]: b for b in (await client.get("/api/balances", headers=taker.headers)).json()}
    order = await place(client, taker, side="sell", type="market", quote_qty=quote_qty)
    fee = sum((Decimal(f["fee"]) for f in order["fills"]), Decimal(0))
    assert order["filled_qty"] == est["filled_qty"]
    assert Decimal(order["quote_filled"]) == Decimal(est["notional"]) <= Decimal(quote_qty)
    assert fee == Decimal(est["fee"])
    assert est["worst_price"] == order["fills"][-1]["price"]
    assert order["status"] == ("filled" if est["complete"] else "expired")
    after = {b["asset"]: b for b in (await client.get("/api/balances", headers=taker.headers)).json()}
    received = Decimal(after["USDT"]["available"]) - Decimal(before["USDT"]["available"])
    sold = Decimal(before["BTC"]["available"]) - Decimal(after["BTC"]["available"])
    assert (received, sold) == (Decimal(est["total"]), Decimal(est["filled_qty"]))
    assert after["BTC"]["held"] == before["BTC"]["held"]  # nothing left held


async def test_the_sell_estimate_refuses_what_the_order_would(client: AsyncTestClient[Litestar]) -> None:
    """Below the market's minimum order value: NOTIONAL_TOO_SMALL, as the order; no bids: nothing sold."""
    markets = {m["symbol"]: m for m in (await client.get("/api/markets")).json()}
    minimum = markets[SYMBOL]["min_notional"]
    below = str(Decimal(minimum) - Decimal("0.000001"))
    r = await estimate_sell(client, below)
    assert r.status_code == 400 and error_code(r) == "NOTIONAL_TOO_SMALL", r.text
    seller = await register(client)
    body = {"symbol": SYMBOL, "side": "sell", "type": "market", "quote_qty": below}
    refused = await client.post("/api/orders", json=body, headers=seller.headers)
    assert error_code(refused) == "NOTIONAL_TOO_SMALL"
    empty = (await estimate_sell(client, "100", "ETH-USDT")).json()
    assert (empty["filled_qty"], empty["total"], empty["complete"]) == ("0", "0", False)


def test_sell_worth_takes_what_the_amount_is_worth_per_level_and_stops_inside_a_level() -> None:
    """Per level the most lots whose notional fits what is left of the amount (the fee comes out of the
    proceeds); the amount stopping inside a level makes the estimate complete, the bids ending first not."""
    m = Market(
        symbol="T-Q", base="T", quote="Q", tick_size=Decimal("0.01"), lot_size=Decimal("1"),
        base_decimals=0, quote_decimals=2, lot_minor=1, num=1, den=1, min_lots=1, max_lots=10**6,
        max_price_ticks=10**9, min_notional_minor=1, maker_bps=0, taker_bps=100, status="trading",
    )  # fmt: skip
    book = {"seq": 7, "bids": [[1100, 2], [1000, 5]]}  # 11.00 x 2, 10.00 x 5
    est = sell_worth(book, m, 5000)  # 50.00: 2 x 11.00 = 22.00, then floor(28.00 / 10.00) = 2 lots
    assert (est["filled_qty"], est["notional"], est["fee"], est["total"]) == ("4", "42", "0.42", "41.58")
    assert (est["worst_price"], est["complete"], est["seq"]) == ("10", True, 7)
    deep = sell_worth(book, m, 100000)  # 1,000.00: the bids end first
    assert (deep["filled_qty"], deep["notional"], deep["complete"]) == ("7", "72", False)


async def test_the_spend_estimate_of_an_empty_book_and_of_a_budget_under_one_lot(
    client: AsyncTestClient[Litestar],
) -> None:
    """No asks: nothing filled, not complete. A budget below the market's minimum order value is refused
    as the order would be (NOTIONAL_TOO_SMALL), not estimated as a fill the order could never get."""
    empty = (await estimate_buy(client, "100", "ETH-USDT")).json()
    assert (empty["filled_qty"], empty["total"], empty["avg_price"], empty["complete"]) == (
        "0",
        "0",
        None,
        False,
    )
    await ladder(client, "sell", ASKS)
    markets = {m["symbol"]: m for m in (await client.get("/api/markets")).json()}
    minimum = markets[SYMBOL]["min_notional"]
    below = str(Decimal(minimum) - Decimal("0.000001"))
    r = await estimate_buy(client, below)
    assert r.status_code == 400 and error_code(r) == "NOTIONAL_TOO_SMALL", r.text
    assert r.json()["error"]["message"] == f"order value below the market minimum of {minimum} USDT"
    buyer = await register(client)
    body = {"symbol": SYMBOL, "side": "buy", "type": "market", "quote_qty": below}
    assert (
        error_code(await client.post("/api/orders", json=body, headers=buyer.headers)) == "NOTIONAL_TOO_SMALL"
    )
    assert (await estimate_buy(client, minimum)).status_code == 200


@pytest.mark.parametrize(
    ("symbol", "quote_qty", "status", "code"),
    [
        ("XYZ-USDT", "1", 404, "UNKNOWN_MARKET"),
        (SYMBOL, "0", 400, "INVALID_QTY"),
        (SYMBOL, "-1", 422, "VALIDATION_ERROR"),
        (SYMBOL, "1e2", 422, "VALIDATION_ERROR"),
        (SYMBOL, "0.0000001", 400, "TOO_MANY_DECIMALS"),
        (SYMBOL, "999999999999999", 400, "QTY_TOO_LARGE"),
    ],
)
async def test_bad_spend_input_gets_its_code(
    client: AsyncTestClient[Litestar], symbol: str, quote_qty: str, status: int, code: str
) -> None:
    """Unknown market, a non-positive, malformed, too precise or too large amount: a coded error."""
    r = await estimate_buy(client, quote_qty, symbol)
    assert r.status_code == status, r.text
    assert error_code(r) == code


def test_spend_takes_what_the_budget_pays_for_per_level_and_stops_inside_a_level() -> None:
    """Per level the most lots whose cost, fee included and rounded up, fits what is left of the budget; the
    budget stopping inside a level makes the estimate complete, the asks ending first does not."""
    m = Market(
        symbol="T-Q", base="T", quote="Q", tick_size=Decimal("0.01"), lot_size=Decimal("1"),
        base_decimals=0, quote_decimals=2, lot_minor=1, num=1, den=1, min_lots=1, max_lots=10**6,
        max_price_ticks=10**9, min_notional_minor=1, maker_bps=0, taker_bps=100, status="trading",
    )  # fmt: skip
    book = {"seq": 7, "asks": [[1000, 2], [1100, 5]]}  # 10.00 x 2, 11.00 x 5; a lot costs 10.10, 11.11
    est = spend(book, m, 5000)  # 50.00: 2 x 10.10 = 20.20, then floor(29.80 / 11.11) = 2 lots, 22.22
    assert (est["filled_qty"], est["notional"], est["fee"], est["total"]) == ("4", "42", "0.42", "42.42")
    assert (est["worst_price"], est["avg_price"], est["complete"], est["seq"]) == ("11", "10.5", True, 7)
    deep = spend(book, m, 100000)  # 1,000.00: the asks end first
    assert (deep["filled_qty"], deep["total"], deep["complete"]) == ("7", "75.75", False)
