"""Limit orders: resting, partial fills, price-time priority, time in force, post-only."""

from __future__ import annotations

from tests.engine.conftest import Exchange


def _fund(ex: Exchange) -> None:
    for account in (1, 2, 3):
        ex.fund(account, "XQ", 1_000_000)
        ex.fund(account, "XB", 10_000)


def test_partial_fill_leaves_the_maker_resting_with_its_remainder(ex: Exchange) -> None:
    """A taker smaller than the maker fills completely; the maker stays partially_filled with the rest."""
    _fund(ex)
    maker = ex.place(1, "sell", price=50, qty=10)["order"]
    taker = ex.place(2, "buy", price=50, qty=4)
    assert taker["order"]["status"] == "filled"
    m = ex.engine.get_order(maker["id"])
    assert (m["status"], m["filled"], m["hold"], m["quote_filled"]) == ("partially_filled", 4, 6, 200)
    assert ex.engine.book("XB-XQ")["asks"] == [[50, 6, 1]]


def test_partially_filled_taker_rests_its_remainder(ex: Exchange) -> None:
    """A gtc taker larger than the book fills what it can and rests the remainder at its limit."""
    _fund(ex)
    ex.place(1, "sell", price=50, qty=3)
    r = ex.place(2, "buy", price=55, qty=10)
    o = r["order"]
    assert (o["status"], o["filled"]) == ("partially_filled", 3)
    assert o["hold"] >= 7 * 56  # remaining lots x per-lot hold at the limit (ceil(55 * 1.002) = 56)
    assert ex.engine.book("XB-XQ") == {"seq": 2, "bids": [[55, 7, 1]], "asks": []}


def test_best_price_first_then_fifo_within_a_level(ex: Exchange) -> None:
    """Makers fill best price first, and within one price in arrival (id) order."""
    _fund(ex)
    a = ex.place(1, "sell", price=52, qty=1)["order"]["id"]
    b = ex.place(2, "sell", price=51, qty=1)["order"]["id"]
    c = ex.place(3, "sell", price=51, qty=1)["order"]["id"]
    d = ex.place(1, "sell", price=51, qty=1)["order"]["id"]
    fills = ex.place(2, "buy", price=52, qty=4, stp="cancel_taker")["fills"]
    # account 2 owns maker b: with cancel_taker it stops at b without trading
    assert fills == []
    ex.fund(9, "XQ", 1_000_000)
    fills = ex.place(9, "buy", price=52, qty=4)["fills"]
    assert [f["maker_order_id"] for f in fills] == [b, c, d, a]
    assert [f["price"] for f in fills] == [51, 51, 51, 52]


def test_trade_happens_at_the_maker_price(ex: Exchange) -> None:
    """A buy limit at 60 against an ask at 50 trades at 50 and releases the unused hold."""
    _fund(ex)
    ex.place(1, "sell", price=50, qty=2)
    r = ex.place(2, "buy", price=60, qty=2)
    assert [f["price"] for f in r["fills"]] == [50]
    assert r["order"]["hold"] == 0
    # 100 notional + ceil(100 * 20 / 10000) = 1 fee
    assert ex.balance(2, "XQ") == (1_000_000 - 101, 0)


def test_sell_taker_matches_bids_at_or_above_its_limit(ex: Exchange) -> None:
    """A sell limit takes bids priced at or above its limit, best (highest) first."""
    _fund(ex)
    ex.place(1, "buy", price=48, qty=1)
    ex.place(1, "buy", price=50, qty=1)
    ex.place(1, "buy", price=49, qty=1)
    r = ex.place(2, "sell", price=49, qty=5)
    assert [f["price"] for f in r["fills"]] == [50, 49]
    assert ex.engine.book("XB-XQ") == {"seq": 4, "bids": [[48, 1, 1]], "asks": [[49, 3, 1]]}


def test_ioc_remainder_expires(ex: Exchange) -> None:
    """An ioc order fills what crosses and expires the rest (reason ioc), releasing its hold."""
    _fund(ex)
    ex.place(1, "sell", price=50, qty=2)
    r = ex.place(2, "buy", price=50, qty=5, tif="ioc")
    o = r["order"]
    assert (o["status"], o["reason"], o["filled"], o["hold"]) == ("expired", "ioc", 2, 0)
    assert ex.balance(2, "XQ")[1] == 0
    assert ex.engine.book("XB-XQ")["bids"] == []


def test_ioc_that_fills_completely_is_filled(ex: Exchange) -> None:
    """An ioc order that fills entirely ends filled, not expired."""
    _fund(ex)
    ex.place(1, "sell", price=50, qty=5)
    o = ex.place(2, "buy", price=50, qty=5, tif="ioc")["order"]
    assert (o["status"], o["reason"]) == ("filled", "")


def test_fok_that_cannot_fill_fully_expires_without_trading(ex: Exchange) -> None:
    """A fok order larger than the crossing liquidity expires (fok_unfilled) with no trade at all."""
    _fund(ex)
    ex.place(1, "sell", price=50, qty=2)
    before = ex.balance(2, "XQ")
    r = ex.place(2, "buy", price=50, qty=3, tif="fok")
    assert r["fills"] == []
    assert (r["order"]["status"], r["order"]["reason"], r["order"]["filled"]) == (
        "expired",
        "fok_unfilled",
        0,
    )
    assert ex.balance(2, "XQ") == before
    assert ex.engine.book("XB-XQ")["asks"] == [[50, 2, 1]]


def test_fok_that_can_fill_fully_fills(ex: Exchange) -> None:
    """A fok order with enough crossing liquidity fills completely across levels."""
    _fund(ex)
    ex.place(1, "sell", price=50, qty=2)
    ex.place(1, "sell", price=51, qty=2)
    r = ex.place(2, "buy", price=51, qty=3, tif="fok")
    assert r["order"]["status"] == "filled"
    assert [(f["price"], f["qty"]) for f in r["fills"]] == [(50, 2), (51, 1)]


def test_post_only_that_would_take_is_rejected_and_holds_nothing(ex: Exchange) -> None:
    """A post-only order crossing the book is rejected (post_only_would_take) with nothing held."""
    _fund(ex)
    ex.place(1, "sell", price=50, qty=2)
    r = ex.place(2, "buy", price=50, qty=1, post_only=True)
    o = r["order"]
    assert (o["status"], o["reason"], o["hold"]) == ("rejected", "post_only_would_take", 0)
    assert ex.balance(2, "XQ") == (1_000_000, 0)
    assert ex.events()[-1]["type"] == "order_rejected"


def test_post_only_that_does_not_cross_rests(ex: Exchange) -> None:
    """A post-only order below the best ask rests like a gtc order."""
    _fund(ex)
    ex.place(1, "sell", price=50, qty=2)
    o = ex.place(2, "buy", price=49, qty=1, post_only=True)["order"]
    assert (o["status"], o["post_only"]) == ("open", 1)
    assert ex.engine.book("XB-XQ")["bids"] == [[49, 1, 1]]
