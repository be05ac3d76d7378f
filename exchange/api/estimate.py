"""What buying and what selling a quantity would cost right now: the book walked best-first.

`GET /api/markets/{symbol}/estimate?qty=` answers, for each side, what a market order of `qty` would get
against the current book (one `ex_book` read, up to `ESTIMATE_DEPTH` levels a side): the quantity the
book can fill (within the market's price band from the best price, where a market order stops matching),
the average price (volume-weighted over the levels taken, exact) and the worst price, the
notional, the taker fee and the total (what a buyer pays, or what a seller receives). Everything is integer
engine units until the last conversion, and each level's money amounts are those of one trade there, by the
reference matcher's `trade_amounts` (docs/engine.md, Rounding; the engine's `M.amounts`): notional
`floor(X / den)` with `X = price * lots * num`, a buyer pays `ceil(X * (10000 + taker_bps) / (den * 10000))`
and a seller gets `floor(X * (10000 - taker_bps) / (den * 10000))`.

It is an estimate: the engine rounds per maker order, not per level, so with several orders on a level the
real fill can differ by a minor unit per order; and the book moves. Self-trade prevention and the cap on
makers per call (`MAX_MAKERS`, docs/engine.md) are not applied: this is the book's price for the volume,
not a promise about one order. `capped` says when the cap is certain to stop one order before it: the walk
takes every order of each level it empties and at least one of a level it takes in part (the levels carry
their order counts), and that is more than `MAX_MAKERS`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from exchange.api.convert import Market
from exchange.reference import MAX_MAKERS, affordable_lots, beyond_band, sellable_lots, trade_amounts

ESTIMATE_DEPTH = 500  # levels read per side (the engine's book read allows up to 500)


@dataclass
class _Taken:
    """What a market order has taken so far, level by level, each level's money as one trade there."""

    market: Market
    buy: bool
    filled: int = 0
    ticks_lots: int = 0  # sum of price x lots: the exact mean price's numerator
    notional: int = 0
    with_fee: int = 0  # what a buyer pays, or what a seller gets
    worst: int | None = None
    makers: int = 0  # resting orders one order would meet at least (see `capped` in the module docstring)

    def take(self, price: int, lots: int, level: Sequence[Any]) -> int:
        """Take `lots` at `price`; returns what they cost a buyer (or give a seller), taker fee included."""
        m = self.market
        amounts = trade_amounts(
            price,
            lots,
            num=m.num,
            den=m.den,
            lot_minor=m.lot_minor,
            buyer_bps=m.taker_bps,
            seller_bps=m.taker_bps,
        )  # the taker's side is all that is read
        moved = amounts.buyer_pays if self.buy else amounts.seller_gets
        self.ticks_lots += price * lots
        self.notional += amounts.notional
        self.with_fee += moved
        self.filled += lots
        self.worst = price
        # all of a level's orders when it is emptied (an engine level is [price, qty, count]), else one
        self.makers += int(level[2]) if lots >= int(level[1]) and len(level) > 2 else 1
        return moved

    def figures(self) -> dict[str, Any]:
        m = self.market
        fee = self.with_fee - self.notional if self.buy else self.notional - self.with_fee
        return {
            "filled_qty": m.qty_out(self.filled),
            "avg_price": m.mean_price(self.ticks_lots, self.filled),
            "worst_price": m.price_out(self.worst) if self.worst is not None else None,
            "notional": m.quote_out(self.notional),
            "fee": m.quote_out(fee),
            "total": m.quote_out(self.with_fee),
            "capped": self.makers > MAX_MAKERS,
        }


def walk(levels: Sequence[Sequence[Any]], market: Market, lots: int, buy: bool) -> dict[str, Any]:
    """One side's estimate for `lots` against `levels` ([[price_ticks, qty_lots, ...], ...], best first:
    the asks for a buy, the bids for a sell)."""
    taken = _Taken(market, buy)
    touch = int(levels[0][0]) if levels else 0
    for level in levels:
        left = lots - taken.filled
        if left <= 0:
            break
        price, available = int(level[0]), int(level[1])
        if beyond_band("buy" if buy else "sell", price, touch, market.price_band_bps):
            break  # a market order stops matching here (the market's price band, docs/engine.md)
        if available > 0:
            taken.take(price, min(left, available), level)
    return taken.figures() | {"complete": taken.filled == lots}


def _by_quote(book: dict[str, Any], market: Market, amount: int, *, buy: bool) -> dict[str, Any]:
    """The walk of a market order by quote amount (`spend`, `sell_worth`): at each price of the other side
    the most lots what is left of `amount` counts for (a buy: their cost with the taker fee; a sell: their
    notional), `complete` when the amount stops inside a level."""
    levels = book["asks" if buy else "bids"]
    side = "buy" if buy else "sell"
    taken = _Taken(market, buy=buy)
    left = amount
    stopped_inside = False
    touch = int(levels[0][0]) if levels else 0
    for level in levels:
        price, available = int(level[0]), int(level[1])
        if beyond_band(side, price, touch, market.price_band_bps):
            break
        if available <= 0:
            continue
        if buy:
            fits = affordable_lots(left, price, num=market.num, den=market.den, bps=market.taker_bps)
        else:
            fits = sellable_lots(left, price, num=market.num, den=market.den)
        take = min(available, fits)
        if take > 0:
            notional_before = taken.notional
            moved = taken.take(price, take, level)
            left -= moved if buy else taken.notional - notional_before
        if take < available:
            stopped_inside = True  # the amount cannot count one more lot at this price
            break
    return {
        "symbol": market.symbol,
        "seq": int(book["seq"]),
        "quote_qty": market.quote_out(amount),
        **taken.figures(),
        "complete": stopped_inside and taken.filled > 0,
    }


def spend(book: dict[str, Any], market: Market, budget: int) -> dict[str, Any]:
    """What a market buy spending `budget` quote minor units (`quote_qty`) would get from the asks of an
    engine book read, by the engine's rule for a buy by quote (docs/engine.md): at each price it takes as
    many lots as what is left of the budget pays for, taker fee included, and stops where the budget cannot
    pay for one more lot (`complete`: the order would be filled, the unspent rest returned) or where the
    asks end or leave the price band (`complete` false: the order would expire, the rest returned)."""
    return _by_quote(book, market, budget, buy=True)


def estimate(book: dict[str, Any], market: Market, lots: int) -> dict[str, Any]:
    """Both sides' estimates from an engine book read (`{"seq", "bids", "asks"}`)."""
    return {
        "symbol": market.symbol,
        "seq": int(book["seq"]),
        "qty": market.qty_out(lots),
        "buy": walk(book["asks"], market, lots, buy=True),
        "sell": walk(book["bids"], market, lots, buy=False),
    }


def sell_worth(book: dict[str, Any], market: Market, amount: int) -> dict[str, Any]:
    """What a market sell by quote amount (`quote_qty` = `amount` quote minor units) would sell into the bids
    of an engine book read, by the engine's rule for a sell by quote (docs/engine.md): at each price as many
    lots as what is left of the amount is worth (notional, before the taker fee), stopping where it is worth
    less than one more lot (`complete`: the order would be filled) or where the bids end or leave the price
    band (`complete` false: the order would expire). `total` is what the seller would receive."""
    return _by_quote(book, market, amount, buy=False)
