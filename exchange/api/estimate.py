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
not a promise about one order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from exchange.api.convert import Market
from exchange.reference import affordable_lots, beyond_band, trade_amounts

ESTIMATE_DEPTH = 500  # levels read per side (the engine's book read allows up to 500)


def walk(levels: Sequence[Sequence[Any]], market: Market, lots: int, buy: bool) -> dict[str, Any]:
    """One side's estimate for `lots` against `levels` ([[price_ticks, qty_lots, ...], ...], best first:
    the asks for a buy, the bids for a sell)."""
    left = lots
    filled = ticks_lots = notional = with_fee = 0
    worst: int | None = None
    bps, band = market.taker_bps, market.price_band_bps
    touch = int(levels[0][0]) if levels else 0
    for level in levels:
        if left <= 0:
            break
        price, available = int(level[0]), int(level[1])
        if beyond_band("buy" if buy else "sell", price, touch, band):
            break  # a market order stops matching here (the market's price band, docs/engine.md)
        take = min(left, available)
        if take <= 0:
            continue
        amounts = trade_amounts(
            price,
            take,
            num=market.num,
            den=market.den,
            lot_minor=market.lot_minor,
            buyer_bps=bps,
            seller_bps=bps,
        )  # the taker's side is all that is read
        ticks_lots += price * take
        notional += amounts.notional
        with_fee += amounts.buyer_pays if buy else amounts.seller_gets
        worst = price
        filled += take
        left -= take
    fee = with_fee - notional if buy else notional - with_fee
    return {
        "filled_qty": market.qty_out(filled),
        "avg_price": market.mean_price(ticks_lots, filled),
        "worst_price": market.price_out(worst) if worst is not None else None,
        "notional": market.quote_out(notional),
        "fee": market.quote_out(fee),
        "total": market.quote_out(with_fee),
        "complete": filled == lots,
    }


def spend(book: dict[str, Any], market: Market, budget: int) -> dict[str, Any]:
    """What a market buy spending `budget` quote minor units (`quote_qty`) would get from the asks of an
    engine book read, by the engine's rule for a buy by quote (docs/engine.md): at each price it takes as
    many lots as what is left of the budget pays for, taker fee included, and stops where the budget cannot
    pay for one more lot (`complete`: the order would be filled, the unspent rest returned) or where the
    asks end or leave the price band (`complete` false: the order would expire, the rest returned)."""
    asks = book["asks"]
    left = budget
    filled = ticks_lots = notional = paid = 0
    worst: int | None = None
    spent_all = False
    touch = int(asks[0][0]) if asks else 0
    for level in asks:
        price, available = int(level[0]), int(level[1])
        if beyond_band("buy", price, touch, market.price_band_bps):
            break
        if available <= 0:
            continue
        take = min(
            available, affordable_lots(left, price, num=market.num, den=market.den, bps=market.taker_bps)
        )
        if take > 0:
            amounts = trade_amounts(
                price,
                take,
                num=market.num,
                den=market.den,
                lot_minor=market.lot_minor,
                buyer_bps=market.taker_bps,
                seller_bps=market.taker_bps,
            )
            ticks_lots += price * take
            notional += amounts.notional
            paid += amounts.buyer_pays
            left -= amounts.buyer_pays
            filled += take
            worst = price
        if take < available:
            spent_all = True  # the budget stops inside this level: it cannot pay for one more lot here
            break
    return {
        "symbol": market.symbol,
        "seq": int(book["seq"]),
        "quote_qty": market.quote_out(budget),
        "filled_qty": market.qty_out(filled),
        "avg_price": market.mean_price(ticks_lots, filled),
        "worst_price": market.price_out(worst) if worst is not None else None,
        "notional": market.quote_out(notional),
        "fee": market.quote_out(paid - notional),
        "total": market.quote_out(paid),
        "complete": spent_all and filled > 0,
    }


def estimate(book: dict[str, Any], market: Market, lots: int) -> dict[str, Any]:
    """Both sides' estimates from an engine book read (`{"seq", "bids", "asks"}`)."""
    return {
        "symbol": market.symbol,
        "seq": int(book["seq"]),
        "qty": market.qty_out(lots),
        "buy": walk(book["asks"], market, lots, buy=True),
        "sell": walk(book["bids"], market, lots, buy=False),
    }
