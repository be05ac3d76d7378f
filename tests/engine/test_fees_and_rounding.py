"""Fees and rounding: against the paying user, exact conservation, per-lot holds, 2^53 boundaries."""

from __future__ import annotations

import pytest
import redis

from exchange.engine import errors
from exchange.money import MarketSpec, MoneyError
from tests.engine.conftest import Exchange


def test_fees_round_in_the_exchange_favour_on_a_fractional_market(ex: Exchange) -> None:
    """3 lots at 0.7: notional floor(2.1)=2, buyer pays ceil(2.1042)=3, seller gets floor(2.0979)=2."""
    ex.fund(1, "YB", 3)
    ex.fund(2, "XQ", 3)
    ex.place(1, "sell", price=7, qty=3, symbol="YB-XQ")
    r = ex.place(2, "buy", price=7, qty=3, symbol="YB-XQ")
    assert r["order"]["hold"] == 0
    assert r["fills"][0]["notional"] == 2 and r["fills"][0]["fee"] == 1
    trade = next(e for e in ex.events("YB-XQ") if e["type"] == "trade")
    assert (trade["notional"], trade["buyer_fee"], trade["seller_fee"]) == ("2", "1", "0")
    assert ex.balance(2, "XQ") == (0, 0)
    assert ex.balance(1, "XQ") == (2, 0)
    assert ex.balance(0, "XQ") == (1, 0)


def test_buy_limit_holds_qty_times_the_rounded_up_per_lot_hold(ex: Exchange) -> None:
    """A buy limit at 0.7 holds ceil(0.7 * 1.002) = 1 per lot, so 3 lots hold 3 (not ceil(2.1042))."""
    ex.fund(2, "XQ", 10)
    o = ex.place(2, "buy", price=7, qty=3, symbol="YB-XQ")["order"]
    assert o["hold"] == 3
    assert ex.balance(2, "XQ") == (7, 3)


def test_maker_and_taker_pay_their_own_rates(ex: Exchange) -> None:
    """On a 1000 notional trade the taker buyer pays 20 bps (1002) and the maker seller 10 bps (999)."""
    ex.fund(1, "XB", 10)
    ex.fund(2, "XQ", 2_000)
    ex.place(1, "sell", price=100, qty=10)
    ex.place(2, "buy", price=100, qty=10)
    assert ex.balance(2, "XQ") == (2_000 - 1002, 0)
    assert ex.balance(1, "XQ") == (999, 0)
    assert ex.balance(0, "XQ") == (3, 0)


def test_smallest_lot_at_the_smallest_price_still_charges_the_rounding(ex: Exchange) -> None:
    """One lot at one tick: buyer pays ceil(1.002)=2, seller gets floor(0.999)=0, fee account gets 2."""
    ex.fund(1, "XB", 1)
    ex.fund(2, "XQ", 2)
    ex.place(1, "sell", price=1, qty=1)
    ex.place(2, "buy", price=1, qty=1)
    assert ex.balance(2, "XQ") == (0, 0) and ex.balance(2, "XB") == (1, 0)
    assert ex.balance(1, "XQ") == (0, 0)
    assert ex.balance(0, "XQ") == (2, 0)


def test_largest_allowed_notional_settles_exactly(ex: Exchange) -> None:
    """BTC-USDT at max price and max qty (X = 9e15 < 2^53) trades with exact integer amounts."""
    m = ex.engine.market("BTC-USDT")
    assert m is not None
    price, qty = m["max_price_ticks"], m["max_lots"]
    x = price * qty * m["num"]
    assert x < 2**53
    notional = x // m["den"]
    pays = -(-x * 10020 // (m["den"] * 10000))
    gets = x * 9990 // (m["den"] * 10000)
    per_lot = -(-price * m["num"] * 10020 // (m["den"] * 10000))
    ex.fund(1, "BTC", qty * m["lot_minor"])
    ex.fund(2, "USDT", per_lot * qty)
    ex.place(1, "sell", price=price, qty=qty, symbol="BTC-USDT")
    r = ex.place(2, "buy", price=price, qty=qty, symbol="BTC-USDT")
    assert r["fills"][0]["notional"] == notional
    assert ex.balance(2, "USDT") == (per_lot * qty - pays, 0)
    assert ex.balance(1, "USDT") == (gets, 0)
    assert ex.balance(0, "USDT") == (pays - gets, 0)


def test_market_spec_reaching_2_pow_53_is_refused(ex: Exchange) -> None:
    """A spec with max_price_ticks * max_lots * num == 2^53 is refused (Python and Lua); one less passes."""
    spec = MarketSpec("ZB-XQ", "YB", "XQ", "1", "1", "1", str(2**27), "0", str(2**26), 10, 20)
    with pytest.raises(MoneyError):
        spec.engine_fields(0, 0)
    args = [
        "ZB-XQ",
        "YB",
        "XQ",
        "1",
        "1",
        "1",
        "1",
        str(2**27),
        str(2**26),
        "0",
        "10",
        "20",
        "trading",
        "1",
        "1",
    ]
    with pytest.raises(redis.ResponseError, match=r"^INVALID_ARGUMENT"):
        ex.redis.fcall("ex_create_market", 2, "market:ZB-XQ", "markets", *args)
    ok = MarketSpec("ZB-XQ", "YB", "XQ", "1", "1", "1", str(2**27 - 1), "0", str(2**26), 10, 20)
    ex.engine.create_market(ok)
    assert ex.engine.market("ZB-XQ")["max_lots"] == 2**27 - 1


def test_order_whose_hold_would_reach_2_pow_53_is_refused(ex: Exchange) -> None:
    """On a 2^53-tight market, max price x max qty needs a hold above 2^53: QTY_TOO_LARGE."""
    ex.engine.create_market(
        MarketSpec("ZB-XQ", "YB", "XQ", "1", "1", "1", str(2**27 - 1), "0", str(2**26), 10, 20)
    )
    with pytest.raises(errors.QtyTooLarge):
        ex.place(2, "buy", price=2**26, qty=2**27 - 1, symbol="ZB-XQ")
