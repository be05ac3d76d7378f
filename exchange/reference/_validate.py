"""Validation of `place` in the contract's order (docs/engine.md, "Validation"): the first failing check
wins and nothing changes. Arguments the table does not name (account, ts_ms, client_order_id) are checked
after INVALID_POST_ONLY, where the engine checks them. `validate_place` checks the arguments alone; the
checks against the book's touch, `check_price_band` (a limit order) and `check_touch_notional` (a market
order by qty), run later, after the client_order_id retry and TOO_MANY_OPEN_ORDERS checks, as the
engine's do."""

from __future__ import annotations

from exchange.reference._math import beyond_band, limit_notional
from exchange.reference._model import (
    CLIENT_ORDER_ID_RE,
    Market,
    fail,
)
from exchange.vocab import MarketStatus, OrderType, Side, Stp
from exchange.vocab import TimeInForce as Tif

SIDES = {s.value for s in Side}
TYPES = {t.value for t in OrderType}
TIFS = {t.value for t in Tif}
STPS = {s.value for s in Stp}


def is_int(value: object) -> bool:
    """A real integer (not a bool, not a float)."""
    return isinstance(value, int) and not isinstance(value, bool)


def validate_place(
    markets: dict[str, Market],
    account: int,
    symbol: str,
    side: str,
    type_: str,
    price: int,
    qty: int,
    quote_qty: int,
    tif: str,
    post_only: bool,
    stp: str,
    client_order_id: str,
    ts_ms: int,
) -> Market:
    """The market of a valid order; raises the engine's error for the first failing check."""
    market = markets.get(symbol)
    if market is None:
        raise fail("UNKNOWN_MARKET", symbol)
    if market.status != MarketStatus.TRADING.value:
        raise fail("MARKET_NOT_TRADING", market.status)
    if side not in SIDES:
        raise fail("INVALID_SIDE", str(side))
    if type_ not in TYPES:
        raise fail("INVALID_TYPE", str(type_))
    if tif not in TIFS:
        raise fail("INVALID_TIF", str(tif))
    if stp not in STPS:
        raise fail("INVALID_STP", str(stp))
    is_limit = type_ == OrderType.LIMIT.value
    if not is_int(price) or (is_limit and price <= 0) or (not is_limit and price != 0):
        raise fail("INVALID_PRICE", str(price))
    if price > market.max_price_ticks:
        raise fail("PRICE_TOO_HIGH", str(price))
    if not is_int(qty) or not is_int(quote_qty) or qty < 0 or quote_qty < 0:
        raise fail("INVALID_QTY", "quantities must be non-negative integers")
    if is_limit and (qty == 0 or quote_qty != 0):
        raise fail("INVALID_QTY", "a limit order needs qty and no quote_qty")
    if not is_limit and (qty > 0) == (quote_qty > 0):
        raise fail("INVALID_QTY", "a market order needs exactly one of qty and quote_qty")
    if qty > 0 and qty < market.min_lots:
        raise fail("QTY_TOO_SMALL", str(qty))
    if qty > market.max_lots:
        raise fail("QTY_TOO_LARGE", str(qty))
    if is_limit:
        if limit_notional(price, qty, num=market.num, den=market.den) < market.min_notional_minor:
            raise fail("NOTIONAL_TOO_SMALL", "")
    elif quote_qty > 0 and quote_qty < market.min_notional_minor:
        raise fail("NOTIONAL_TOO_SMALL", "")
    if post_only and (not is_limit or tif != Tif.GTC.value):
        raise fail("INVALID_POST_ONLY", "")
    # the engine checks the remaining arguments here, after the table's codes it can check first
    if not is_int(account) or not 0 < account < 2**53:
        raise fail("INVALID_ARGUMENT", "account must be a positive integer")
    if not is_int(ts_ms) or not 0 <= ts_ms < 2**53:
        raise fail("INVALID_ARGUMENT", "ts_ms must be a non-negative integer")
    if not isinstance(client_order_id, str) or (
        client_order_id and not CLIENT_ORDER_ID_RE.match(client_order_id)
    ):
        raise fail("INVALID_ARGUMENT", "client_order_id must be 1..36 of [A-Za-z0-9_-]")
    return market


def check_touch_notional(market: Market, qty: int, best: int | None) -> None:
    """A market order by `qty`: its notional at the touch, `best` (the best opposite price, ticks: the most
    favourable it can get), must reach `min_notional_minor`. No check when that side is empty (`None`)."""
    if best is None:
        return
    if limit_notional(best, qty, num=market.num, den=market.den) < market.min_notional_minor:
        raise fail(
            "NOTIONAL_TOO_SMALL", f"notional at the best price {best} below {market.min_notional_minor}"
        )


def check_price_band(market: Market, side: str, price: int, best: int | None) -> None:
    """A limit order priced beyond the market's band around the touch, `best` (the best opposite price,
    ticks), is PRICE_OUT_OF_BAND. No check without a band or when that side is empty (`None`)."""
    if best is None or not beyond_band(side, price, best, market.price_band_bps):
        return
    raise fail(
        "PRICE_OUT_OF_BAND",
        f"price_ticks {price} beyond {market.price_band_bps} bps of the best opposite price {best}",
    )
