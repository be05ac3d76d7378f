"""Exactness of the engine's integer arithmetic across the whole allowed range (Hypothesis)."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exchange.money import MarketSpec
from tests.engine.conftest import Exchange

# den = 100000 (tick 1e-8 quote of 6 decimals x lot 0.001): the widest fractions the 2^53 rules allow
FEES = [(0, 0), (10, 20), (7, 13), (1000, 1000)]
SPECS = [
    MarketSpec(f"EX{i}-USDT", "BTC", "USDT", "0.00000001", "0.001", "0.001", "90", "0", "1000", maker, taker)
    for i, (maker, taker) in enumerate(FEES)
]
accounts = itertools.count(1_000)


def _exact(price: int, qty: int, num: int, den: int, buyer_bps: int, seller_bps: int) -> tuple[int, int, int]:
    x = price * qty * num
    notional = x // den
    pays = -(-x * (10_000 + buyer_bps) // (den * 10_000))
    gets = x * (10_000 - seller_bps) // (den * 10_000)
    return notional, pays - notional, notional - gets


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    market=st.integers(0, len(SPECS) - 1),
    price=st.one_of(st.integers(1, 10**11), st.integers(10**11 - 1000, 10**11)),
    qty=st.one_of(st.integers(1, 90_000), st.integers(89_990, 90_000)),
    taker_buys=st.booleans(),
)
def test_trade_amounts_equal_exact_rational_rounding(
    ex: Exchange, market: int, price: int, qty: int, taker_buys: bool
) -> None:
    """Notional, fees and the buy per-lot hold equal Python's exact big-integer rounding up to X ~ 9e15."""
    spec = SPECS[market]
    if ex.engine.market(spec.symbol) is None:
        ex.engine.create_market(spec)
    m = ex.engine.market(spec.symbol)
    assert m is not None
    seller, buyer = next(accounts), next(accounts)
    per_lot = -(-price * m["num"] * (10_000 + m["taker_bps"]) // (m["den"] * 10_000))
    ex.fund(buyer, "USDT", per_lot * qty + 1)
    ex.fund(seller, "BTC", qty * m["lot_minor"])
    if taker_buys:
        ex.place(seller, "sell", price=price, qty=qty, symbol=spec.symbol)
        r = ex.place(buyer, "buy", price=price, qty=qty, symbol=spec.symbol)
        want = _exact(price, qty, m["num"], m["den"], m["taker_bps"], m["maker_bps"])
    else:
        hold = ex.place(buyer, "buy", price=price, qty=qty, symbol=spec.symbol)["order"]["hold"]
        assert hold == per_lot * qty
        r = ex.place(seller, "sell", price=price, qty=qty, symbol=spec.symbol)
        want = _exact(price, qty, m["num"], m["den"], m["maker_bps"], m["taker_bps"])
    trade = next(f for f in reversed(ex.events(spec.symbol)) if f["type"] == "trade")
    assert (int(trade["notional"]), int(trade["buyer_fee"]), int(trade["seller_fee"])) == want
    assert r["order"]["status"] == "filled"
    notional, buyer_fee, seller_fee = want
    assert ex.balance(buyer, "USDT") == (per_lot * qty + 1 - notional - buyer_fee, 0)
    assert ex.balance(seller, "USDT") == (notional - seller_fee, 0)
