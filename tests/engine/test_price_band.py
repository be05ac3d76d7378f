"""The price band of a market (docs/engine.md, "Price band"): a limit order priced beyond `price_band_bps`
of the touch (the best opposite price on arrival) is refused with PRICE_OUT_OF_BAND, a market order stops
before the first maker beyond it (expired, reason price_band), and `ex_create_market` keeps the band's
arithmetic below 2^53."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import redis

from exchange.engine import codec, errors
from exchange.engine.state import state_hash
from exchange.money import MarketSpec
from tests.engine.conftest import Exchange

# BB-XQ: tick 1, lot 1, both assets 0 decimals, fees 10/20 bps, band 1000 bps (10 %): at a touch of 100
# ticks a buy may pay up to 110, a sell go down to 90.
BANDED = MarketSpec(
    "BB-XQ", "BB", "XQ", "1", "1", "1", "1000000", "0", "1000000", 10, 20, price_band_bps=1000
)
BB = "BB-XQ"
# ex_create_market's ARGV, by name (lua/create_market.lua)
CREATE_MARKET_ARGV = (
    "symbol", "base", "quote", "lot_minor", "num", "den", "min_lots", "max_lots", "max_price_ticks",
    "min_notional_minor", "maker_bps", "taker_bps", "status", "tick_size", "lot_size", "price_band_bps",
)  # fmt: skip
# the largest max_price_ticks a band allows: max_price_ticks * 20000 < 2^53
MAX_BANDED_PRICE = (2**53 - 1) // 20000


@pytest.fixture
def bb(ex: Exchange) -> Exchange:
    """The BB-XQ market; account 1 makes, account 2 takes, both funded in BB and XQ."""
    ex.engine.create_asset("BB", "Banded base", 0)
    ex.engine.create_market(BANDED)
    for account in (1, 2):
        ex.fund(account, "BB", 1_000)
        ex.fund(account, "XQ", 1_000_000)
    return ex


def _makers(ex: Exchange, side: str, *levels: tuple[int, int], account: int = 1) -> list[int]:
    """Resting orders of `side` (price, qty) on BB-XQ; their ids."""
    return [ex.place(account, side, price=p, qty=q, symbol=BB)["order"]["id"] for p, q in levels]


def _create_market_args(**changes: str) -> list[str]:
    """The ARGV of ex_create_market for a ZB-XQ market like BANDED, with some values replaced by name."""
    call = codec.create_market(MarketSpec("ZB-XQ", "YB", "XQ", "1", "1", "1", "1", "0", "1000", 10, 20), 0, 0)
    args = dict(zip(CREATE_MARKET_ARGV, call.args, strict=True))
    args.update(changes)
    return list(args.values())


# ---- limit orders ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("side", "touch", "inside", "beyond"),
    [
        ("buy", 100, 110, 111),  # 110 * 10000 == 100 * 11000: equal is inside
        ("sell", 100, 90, 89),  # 90 * 10000 == 100 * 9000
        ("buy", 101, 111, 112),  # the bound 111.1 is not a tick: compared in integers, never rounded
        ("sell", 101, 91, 90),  # the bound 90.9
    ],
)
def test_limit_order_at_the_band_edge_goes_and_one_tick_beyond_is_refused(
    bb: Exchange, side: str, touch: int, inside: int, beyond: int
) -> None:
    """A limit order one tick beyond the band around the touch is PRICE_OUT_OF_BAND and changes nothing;
    at the last price inside the band (the exact bound included) it is accepted and trades at the touch."""
    maker_side = "sell" if side == "buy" else "buy"
    _makers(bb, maker_side, (touch, 5))
    before = state_hash(bb.redis)
    with pytest.raises(errors.PriceOutOfBand) as info:
        bb.place(2, side, price=beyond, qty=2, symbol=BB)
    assert info.value.code == errors.ErrorCode.PRICE_OUT_OF_BAND
    assert state_hash(bb.redis) == before
    r = bb.place(2, side, price=inside, qty=2, symbol=BB)
    assert r["order"]["status"] == "filled"
    assert [(f["price"], f["qty"]) for f in r["fills"]] == [(touch, 2)]


@pytest.mark.parametrize(
    "extra", [{"post_only": True}, {"tif": "ioc"}, {"tif": "fok"}], ids=["post_only", "ioc", "fok"]
)
@pytest.mark.parametrize("side", ["buy", "sell"])
def test_post_only_ioc_and_fok_beyond_the_band_are_refused(bb: Exchange, side: str, extra: Any) -> None:
    """Every limit order beyond the band is refused before any write: a post-only one too (it is not
    `rejected` as a would-be taker: the refusal comes first), and ioc and fok orders."""
    maker_side = "sell" if side == "buy" else "buy"
    _makers(bb, maker_side, (100, 5))
    before = state_hash(bb.redis)
    with pytest.raises(errors.PriceOutOfBand):
        bb.place(2, side, price=111 if side == "buy" else 89, qty=1, symbol=BB, **extra)
    assert state_hash(bb.redis) == before


@pytest.mark.parametrize("side", ["buy", "sell"])
def test_limit_order_not_crossing_the_touch_is_never_affected(bb: Exchange, side: str) -> None:
    """The band bounds how far an order may cross the touch: orders on their own side of it rest whatever
    their distance from it (a buy at 1 tick under an ask of 100, a sell at 100x the best bid)."""
    maker_side = "sell" if side == "buy" else "buy"
    _makers(bb, maker_side, (100, 5))
    o = bb.place(2, side, price=1 if side == "buy" else 10_000, qty=1, symbol=BB)["order"]
    assert (o["status"], o["filled"]) == ("open", 0)


@pytest.mark.parametrize("side", ["buy", "sell"])
def test_empty_opposite_side_is_not_checked(bb: Exchange, side: str) -> None:
    """With nothing on the opposite side there is no touch: any limit price goes (orders on the order's own
    side do not count), and a market order expires unfilled with reason market, as without a band."""
    _makers(bb, side, (100, 5))
    o = bb.place(2, side, price=100_000 if side == "buy" else 1, qty=1, symbol=BB)["order"]
    assert o["status"] == "open"
    m = bb.place(2, side, qty=1, symbol=BB)["order"]
    assert (m["status"], m["reason"], m["filled"], m["hold"]) == ("expired", "market", 0, 0)


def test_band_zero_means_no_check(ex: Exchange) -> None:
    """On a market without a band (0, the default) a limit buy at 10x the touch goes and a market buy sweeps
    every level, however far."""
    assert ex.engine.market("XB-XQ")["price_band_bps"] == 0  # type: ignore[index]
    ex.fund(1, "XB", 100)
    ex.fund(2, "XQ", 100_000)
    for price in (100, 1_000, 5_000):
        ex.place(1, "sell", price=price, qty=1)
    assert ex.place(2, "buy", price=1_000, qty=1)["fills"][0]["price"] == 100
    r = ex.place(2, "buy", qty=5)
    assert [(f["price"], f["qty"]) for f in r["fills"]] == [(1_000, 1), (5_000, 1)]
    assert (r["order"]["status"], r["order"]["reason"]) == ("expired", "market")


def test_validation_order_arguments_then_retry_then_band_then_funds(bb: Exchange) -> None:
    """PRICE_OUT_OF_BAND comes after the argument checks (a bad qty wins), after a client_order_id retry
    (which returns its original order, even when the book has moved so that the band would refuse it now)
    and before the funds check (an unfunded out-of-band order is PRICE_OUT_OF_BAND)."""
    _makers(bb, "sell", (100, 5))
    with pytest.raises(errors.InvalidQty):
        bb.place(2, "buy", price=1_000, qty=0, symbol=BB)
    first = bb.place(2, "buy", price=110, qty=2, symbol=BB, client_order_id="edge")  # fills at 100
    _makers(bb, "sell", (90, 5))  # the touch is 90 now: the band ends at 99
    with pytest.raises(errors.PriceOutOfBand):
        bb.place(2, "buy", price=110, qty=2, symbol=BB)
    retry = bb.place(2, "buy", price=110, qty=2, symbol=BB, client_order_id="edge")
    assert retry["duplicate"] is True and retry["order"]["id"] == first["order"]["id"]
    bb.fund(3, "XQ", 1)
    with pytest.raises(errors.PriceOutOfBand):
        bb.place(3, "buy", price=110, qty=5, symbol=BB)


# ---- market orders --------------------------------------------------------------------------------------


def _expired_event(ex: Exchange, order_id: int) -> dict[str, str]:
    [event] = [e for e in ex.events(BB) if e["type"] == "order_expired" and e["order_id"] == str(order_id)]
    return event


def test_market_buy_by_qty_stops_at_the_band_and_expires_the_rest(bb: Exchange) -> None:
    """Asks at 100 (the touch), 110 (the band's edge) and 111 (beyond): a market buy of 10 fills the 4 lots
    within the band, expires the rest (reason price_band) and holds exactly what those fills cost, so a
    buyer with exactly that much can place it; the ask beyond the band still rests."""
    _makers(bb, "sell", (100, 2), (110, 2), (111, 5))
    cost = 201 + 221  # ceil(200 * 1.002) + ceil(220 * 1.002)
    bb.fund(3, "XQ", cost)
    r = bb.place(3, "buy", qty=10, symbol=BB)
    o = r["order"]
    assert [(f["price"], f["qty"]) for f in r["fills"]] == [(100, 2), (110, 2)]
    assert (o["status"], o["reason"], o["filled"], o["hold"]) == ("expired", "price_band", 4, 0)
    assert bb.balance(3, "XQ") == (0, 0) and bb.balance(3, "BB") == (4, 0)
    accepted = [e for e in bb.events(BB) if e["type"] == "order_accepted"][-1]
    assert accepted["hold"] == str(cost)
    assert _expired_event(bb, o["id"])["released"] == "0"
    assert bb.engine.book(BB)["asks"] == [[111, 5, 1]]


def test_market_sell_by_qty_stops_at_the_band_and_releases_the_rest(bb: Exchange) -> None:
    """Bids at 100 (the touch), 90 (the band's edge) and 89 (beyond): a market sell of 10 fills the 5 lots
    within the band and releases the 5 it held for the rest; the seller gets exactly the fills' proceeds."""
    _makers(bb, "buy", (100, 2), (90, 3), (89, 5))
    bb.fund(3, "BB", 10)
    r = bb.place(3, "sell", qty=10, symbol=BB)
    o = r["order"]
    assert [(f["price"], f["qty"]) for f in r["fills"]] == [(100, 2), (90, 3)]
    assert (o["status"], o["reason"], o["filled"], o["hold"]) == ("expired", "price_band", 5, 0)
    assert _expired_event(bb, o["id"])["released"] == "5"
    assert bb.balance(3, "BB") == (5, 0)
    assert bb.balance(3, "XQ") == (199 + 269, 0)  # floor(200 * 0.998) + floor(270 * 0.998)
    assert bb.engine.book(BB)["bids"] == [[89, 5, 1]]


def test_market_buy_by_quote_stops_at_the_band_and_returns_the_unspent_quote(bb: Exchange) -> None:
    """A by-quote buy whose budget would reach the ask beyond the band buys the 2 lots within it (201 XQ),
    ends expired (reason price_band: the band, not the budget, stopped it) and gets the other 799 back."""
    _makers(bb, "sell", (100, 2), (111, 5))
    bb.fund(3, "XQ", 1_000)
    r = bb.place(3, "buy", quote_qty=1_000, symbol=BB)
    o = r["order"]
    assert [(f["price"], f["qty"]) for f in r["fills"]] == [(100, 2)]
    assert (o["status"], o["reason"], o["filled"], o["hold"], o["quote_qty"]) == (
        "expired",
        "price_band",
        2,
        0,
        1_000,
    )
    assert _expired_event(bb, o["id"])["released"] == "799"
    assert bb.balance(3, "XQ") == (799, 0) and bb.balance(3, "BB") == (2, 0)


def test_market_order_band_is_measured_from_the_touch_whoever_owns_it(bb: Exchange) -> None:
    """The touch is the best opposite price on arrival, the taker's own order included: its STP-cancelled
    ask at 100 sets the band (up to 110), so the buy fills the ask at 110 and stops before 111."""
    bb.fund(3, "BB", 1)
    bb.fund(3, "XQ", 1_000)
    own = _makers(bb, "sell", (100, 1), account=3)
    _makers(bb, "sell", (110, 1), (111, 1))
    r = bb.place(3, "buy", qty=5, symbol=BB)
    assert r["stp"] == own
    assert [(f["price"], f["qty"]) for f in r["fills"]] == [(110, 1)]
    assert (r["order"]["status"], r["order"]["reason"]) == ("expired", "price_band")


# ---- the market parameter -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"price_band_bps": "10001"},
        {"price_band_bps": "-1"},
        {"price_band_bps": "1.5"},
        {"price_band_bps": ""},
        {"price_band_bps": "5", "max_price_ticks": str(MAX_BANDED_PRICE + 1)},
    ],
    ids=["above-10000", "negative", "fraction", "empty", "max-price-too-large"],
)
def test_create_market_refuses_a_bad_band(ex: Exchange, changes: dict[str, str]) -> None:
    """ex_create_market refuses (INVALID_ARGUMENT, nothing written) a band outside 0..10000 and any band on
    a market whose max_price_ticks * 20000 reaches 2^53 (the band's products would not be exact)."""
    before = state_hash(ex.redis)
    with pytest.raises(redis.ResponseError, match=r"^INVALID_ARGUMENT"):
        ex.redis.fcall("ex_create_market", 2, "market:ZB-XQ", "markets", *_create_market_args(**changes))
    assert state_hash(ex.redis) == before


def test_create_market_accepts_the_band_limits(ex: Exchange) -> None:
    """A band of 10000 bps and the largest max_price_ticks a band allows are accepted; without a band the
    max price may go beyond that bound, and a missing band argument (an older caller) is refused."""
    args = _create_market_args(price_band_bps="10000", max_price_ticks=str(MAX_BANDED_PRICE))
    ex.redis.fcall("ex_create_market", 2, "market:ZB-XQ", "markets", *args)
    m = ex.engine.market("ZB-XQ")
    assert m is not None and (m["price_band_bps"], m["max_price_ticks"]) == (10_000, MAX_BANDED_PRICE)
    args = _create_market_args(price_band_bps="0", max_price_ticks=str(MAX_BANDED_PRICE + 1))
    ex.redis.fcall("ex_create_market", 2, "market:ZB-XQ", "markets", *args)
    with pytest.raises(redis.ResponseError, match=r"^INVALID_ARGUMENT"):
        ex.redis.fcall("ex_create_market", 2, "market:ZB-XQ", "markets", *_create_market_args()[:-1])


def test_band_of_a_live_market_changes_while_orders_rest(bb: Exchange) -> None:
    """The band is not locked: with orders resting it can narrow, widen or go (0), the book stays, and the
    next order is checked against the new band."""
    _makers(bb, "sell", (100, 5))
    bb.engine.create_market(dataclasses.replace(BANDED, price_band_bps=500))
    assert bb.engine.market(BB)["price_band_bps"] == 500  # type: ignore[index]
    assert bb.redis.hget(f"market:{BB}", "matching").endswith(" 500")  # type: ignore[union-attr]
    with pytest.raises(errors.PriceOutOfBand):
        bb.place(2, "buy", price=106, qty=1, symbol=BB)
    assert bb.place(2, "buy", price=105, qty=1, symbol=BB)["order"]["status"] == "filled"
    bb.engine.create_market(dataclasses.replace(BANDED, price_band_bps=0))
    assert bb.place(2, "buy", price=1_000, qty=1, symbol=BB)["fills"][0]["price"] == 100
    assert bb.engine.book(BB)["asks"] == [[100, 3, 1]]


def test_market_written_before_the_band_existed_has_no_band(bb: Exchange) -> None:
    """A market hash written before price_band_bps existed (a `matching` field of 11 fields, no
    price_band_bps field) still reads, with no band, until its next ex_create_market."""
    key = f"market:{BB}"
    bb.redis.hset(key, "matching", "BB XQ 1 1 1 1 1000000 1000000 0 10 20")
    bb.redis.hdel(key, "price_band_bps")
    assert bb.engine.market(BB)["price_band_bps"] == 0  # type: ignore[index]
    _makers(bb, "sell", (100, 1), (10_000, 1))
    r = bb.place(2, "buy", qty=2, symbol=BB)
    assert [(f["price"], f["qty"]) for f in r["fills"]] == [(100, 1), (10_000, 1)]
    bb.engine.create_market(BANDED)
    assert bb.engine.market(BB)["price_band_bps"] == 1000  # type: ignore[index]
