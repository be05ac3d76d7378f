"""Exact integer arithmetic of docs/engine.md ("Rounding" and "Holds"), written as plainly as possible.

Python integers are unbounded, so the reference forms the products directly; the Lua engine reaches the
same numbers with its `mul_div` split. Nothing here ever sees a float.
"""

from __future__ import annotations

from dataclasses import dataclass

BPS = 10000


def ceil_div(a: int, b: int) -> int:
    """The smallest integer >= a / b (b > 0)."""
    return -(-a // b)


@dataclass(frozen=True)
class TradeAmounts:
    """What one trade of `qty` lots at `price` ticks moves (docs/engine.md, Rounding)."""

    notional: int
    buyer_pays: int
    seller_gets: int
    buyer_fee: int
    seller_fee: int
    base: int


def trade_amounts(
    price: int, qty: int, *, num: int, den: int, lot_minor: int, buyer_bps: int, seller_bps: int
) -> TradeAmounts:
    """The exact amounts of one trade, rounded against whoever pays."""
    x = price * qty * num
    notional = x // den
    buyer_pays = ceil_div(x * (BPS + buyer_bps), den * BPS)
    seller_gets = x * (BPS - seller_bps) // (den * BPS)
    return TradeAmounts(
        notional=notional,
        buyer_pays=buyer_pays,
        seller_gets=seller_gets,
        buyer_fee=buyer_pays - notional,
        seller_fee=notional - seller_gets,
        base=qty * lot_minor,
    )


def buy_cost(price: int, qty: int, *, num: int, den: int, bps: int) -> int:
    """`buyer_pays` alone: what a buyer pays for `qty` lots at `price` with a fee of `bps`."""
    return ceil_div(price * qty * num * (BPS + bps), den * BPS)


def per_lot_hold(price: int, *, num: int, den: int, taker_bps: int) -> int:
    """`h`: the per-lot quote hold of a buy limit at `price`, rounded up, worst-case taker fee included."""
    return ceil_div(price * num * (BPS + taker_bps), den * BPS)


def affordable_lots(budget: int, price: int, *, num: int, den: int, bps: int) -> int:
    """The most lots whose `buyer_pays` at `price` fits in `budget` (ceil(x) <= B iff x <= B)."""
    return budget * den * BPS // (price * num * (BPS + bps))


def sellable_lots(budget: int, price: int, *, num: int, den: int) -> int:
    """The most lots whose notional `floor(price * q * num / den)` at `price` fits in `budget`: what a market
    sell by quote amount takes at that price (floor(x) <= B iff x < B + 1)."""
    return ((budget + 1) * den - 1) // (price * num)


def limit_notional(price: int, qty: int, *, num: int, den: int) -> int:
    """floor(price * qty * num / den): the notional a limit order is checked against."""
    return price * qty * num // den


def beyond_band(side: str, price: int, touch: int, band_bps: int) -> bool:
    """Whether `price` lies beyond the price band of `band_bps` around `touch` for a taker of `side`: above
    touch * (1 + band) for a buy, below touch * (1 - band) for a sell (equal is inside). Never with band 0."""
    if band_bps == 0:
        return False
    if side == "buy":
        return price * BPS > touch * (BPS + band_bps)
    return price * BPS < touch * (BPS - band_bps)
