"""Every rejection code: the call raises its named error and the engine state is byte-for-byte unchanged."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from exchange.engine import Engine, errors
from exchange.engine.state import state_hash
from exchange.money import MarketSpec
from tests.engine.conftest import Exchange

# MB-XQ: min 5 lots, max 100 lots, min notional 50
LIMITED = MarketSpec("MB-XQ", "MB", "XQ", "1", "1", "5", "100", "50", "1000", 10, 20)


def _setup(ex: Exchange) -> dict[str, int]:
    e = ex.engine
    e.create_asset("MB", "Limited base", 0)
    e.create_asset("HB", "Halted base", 0)
    e.create_market(LIMITED)
    e.create_market(MarketSpec("HB-XQ", "HB", "XQ", "1", "1", "1", "1000", "0", "1000", 10, 20))
    ex.fund(1, "XQ", 10_000)
    ex.fund(1, "XB", 100)
    ex.fund(2, "XQ", 1_000)
    ex.fund(2, "MB", 10)
    # the touch of MB-XQ: a market buy meets 9, a market sell 8, so 5 lots are worth 45 and 40 (< 50)
    ex.place(2, "sell", price=9, qty=10, symbol="MB-XQ")
    ex.place(2, "buy", price=8, qty=10, symbol="MB-XQ")
    ids = {
        "open": ex.place(1, "buy", price=10, qty=1, client_order_id="c1")["order"]["id"],
        "halted": ex.place(1, "buy", price=10, qty=1, symbol="HB-XQ")["order"]["id"],
    }
    closed = ex.place(1, "buy", price=10, qty=1)["order"]["id"]
    e.cancel(1, closed, ex.ts())
    ids["closed"] = closed
    e.set_market_status("YB-XQ", "cancel_only", ex.ts())
    e.set_market_status("HB-XQ", "halted", ex.ts())
    return ids


def _place(**kw: Any) -> Callable[[Engine, dict[str, int]], Any]:
    args = {
        "account": 1,
        "symbol": "XB-XQ",
        "side": "buy",
        "type": "limit",
        "price": 10,
        "qty": 1,
        "ts_ms": 5,
    }
    args.update(kw)

    def call(e: Engine, _ids: dict[str, int]) -> Any:
        rest = {k: v for k, v in args.items() if k not in ("account", "symbol", "side", "type")}
        return e.place(args["account"], args["symbol"], args["side"], args["type"], **rest)

    return call


CASES: list[tuple[str, Callable[[Engine, dict[str, int]], Any], type[errors.EngineError]]] = [
    ("unknown market", _place(symbol="NOPE-XQ"), errors.UnknownMarket),
    ("cancel_only market", _place(symbol="YB-XQ"), errors.MarketNotTrading),
    ("halted market", _place(symbol="HB-XQ"), errors.MarketNotTrading),
    ("bad side", _place(side="hold"), errors.InvalidSide),
    ("bad type", _place(type="stop"), errors.InvalidType),
    ("bad tif", _place(tif="gtd"), errors.InvalidTif),
    ("bad stp", _place(stp="none"), errors.InvalidStp),
    ("zero price", _place(price=0), errors.InvalidPrice),
    ("negative price", _place(price=-1), errors.InvalidPrice),
    ("fractional price", _place(price=1.5), errors.InvalidPrice),
    ("market with price", _place(type="market", price=5, qty=1), errors.InvalidPrice),
    ("price above max", _place(price=1_000_001), errors.PriceTooHigh),
    ("price of 2^53 ticks", _place(price=2**53), errors.PriceTooHigh),  # too high, not malformed
    ("price of 17 digits", _place(price=10**17), errors.PriceTooHigh),
    ("qty of 2^53 lots", _place(qty=2**53), errors.QtyTooLarge),
    ("quote_qty of 2^53", _place(type="market", price=0, qty=0, quote_qty=2**53), errors.QtyTooLarge),
    ("ts_ms of 2^53", _place(ts_ms=2**53), errors.InvalidArgument),
    ("zero qty", _place(qty=0), errors.InvalidQty),
    ("negative qty", _place(qty=-3), errors.InvalidQty),
    ("fractional qty", _place(qty=0.5), errors.InvalidQty),
    ("limit with quote_qty", _place(quote_qty=100), errors.InvalidQty),
    ("market with both", _place(type="market", price=0, qty=1, quote_qty=100), errors.InvalidQty),
    ("market with neither", _place(type="market", price=0, qty=0), errors.InvalidQty),
    ("qty below min", _place(symbol="MB-XQ", qty=4, price=100), errors.QtyTooSmall),
    ("qty above max", _place(symbol="MB-XQ", qty=101, price=100), errors.QtyTooLarge),
    ("market qty above max", _place(symbol="MB-XQ", type="market", price=0, qty=101), errors.QtyTooLarge),
    ("notional too small", _place(symbol="MB-XQ", qty=5, price=9), errors.NotionalTooSmall),
    (
        "quote_qty too small",
        _place(symbol="MB-XQ", type="market", price=0, qty=0, quote_qty=49),
        errors.NotionalTooSmall,
    ),
    (
        "market buy too small at the best ask",
        _place(symbol="MB-XQ", type="market", price=0, qty=5),
        errors.NotionalTooSmall,
    ),
    (
        "market sell too small at the best bid",
        _place(symbol="MB-XQ", side="sell", type="market", price=0, qty=5),
        errors.NotionalTooSmall,
    ),
    ("post_only ioc", _place(post_only=True, tif="ioc"), errors.InvalidPostOnly),
    ("post_only market", _place(type="market", price=0, post_only=True), errors.InvalidPostOnly),
    ("client_order_id conflict", _place(client_order_id="c1", price=11), errors.DuplicateClientOrderId),
    ("insufficient funds", _place(qty=1_000), errors.InsufficientFunds),
    ("insufficient base", _place(side="sell", qty=101), errors.InsufficientFunds),
    ("account zero", _place(account=0), errors.InvalidArgument),
    ("bad client_order_id", _place(client_order_id="bad id!"), errors.InvalidArgument),
    ("long client_order_id", _place(client_order_id="x" * 37), errors.InvalidArgument),
    ("negative ts", _place(ts_ms=-1), errors.InvalidArgument),
    ("cancel unknown order", lambda e, ids: e.cancel(1, 10**9, 5), errors.UnknownOrder),
    ("cancel other's order", lambda e, ids: e.cancel(2, ids["open"], 5), errors.UnknownOrder),
    ("cancel closed order", lambda e, ids: e.cancel(1, ids["closed"], 5), errors.OrderClosed),
    ("cancel in halted market", lambda e, ids: e.cancel(1, ids["halted"], 5), errors.MarketHalted),
    ("cancel_all unknown market", lambda e, ids: e.cancel_all(1, 5, symbol="NOPE-XQ"), errors.UnknownMarket),
    (
        "status unknown market",
        lambda e, ids: e.set_market_status("NOPE-XQ", "halted", 5),
        errors.UnknownMarket,
    ),
    ("withdraw too much", lambda e, ids: e.withdraw(1, "XB", 101, "w", 5), errors.InsufficientFunds),
    ("deposit unknown asset", lambda e, ids: e.deposit(1, "NOPE", 1, "d", 5), errors.UnknownAsset),
    ("book unknown market", lambda e, ids: e.book("NOPE-XQ"), errors.UnknownMarket),
    ("book bad depth", lambda e, ids: e.book("XB-XQ", 0), errors.InvalidArgument),
    (
        "market base changed",  # the orders resting on XB-XQ hold XB: a new base would mint it
        lambda e, ids: e.create_market(
            MarketSpec("XB-XQ", "YB", "XQ", "1", "1", "1", "1000000", "0", "1000000", 10, 20)
        ),
        errors.InvalidArgument,
    ),
    (
        "market quote changed on an empty book",
        lambda e, ids: e.create_market(
            MarketSpec("YB-XQ", "YB", "XB", "0.1", "1", "1", "1000000", "0", "1000000", 10, 20)
        ),
        errors.InvalidArgument,
    ),
]


@pytest.mark.parametrize(("name", "call", "error"), CASES, ids=[c[0] for c in CASES])
def test_rejection_raises_its_code_and_changes_nothing(
    ex: Exchange, name: str, call: Callable[[Engine, dict[str, int]], Any], error: type[errors.EngineError]
) -> None:
    """Each malformed or refused command raises its named error and leaves every key unchanged."""
    ids = _setup(ex)
    before = state_hash(ex.redis)
    with pytest.raises(error) as info:
        call(ex.engine, ids)
    assert info.value.code == error.code
    assert state_hash(ex.redis) == before, name
