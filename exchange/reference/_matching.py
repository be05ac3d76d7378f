"""`place`: validation, holds, the matching loop and the taker's outcome (docs/engine.md, Orders).

The loop is planned first (a pure walk over the sorted opposite half) and then applied, so the dry runs
the contract asks for (FOK, market buy by quantity, market sell by quote amount) are literally the same
loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from exchange.reference._math import (
    affordable_lots,
    beyond_band,
    buy_cost,
    limit_notional,
    per_lot_hold,
    sellable_lots,
    trade_amounts,
)
from exchange.reference._model import (
    MAX_MAKERS,
    MAX_OPEN_ORDERS,
    Market,
    Order,
    fail,
)
from exchange.reference._state import Ledger, State
from exchange.reference._validate import check_price_band, check_touch_notional, validate_place
from exchange.vocab import OrderStatus as Status
from exchange.vocab import OrderType, Side, Stp
from exchange.vocab import TimeInForce as Tif


@dataclass
class Step:
    """One maker the taker touches: `trade` (qty lots), `stp_maker`, `stp_taker` or `stp_both`."""

    kind: str
    maker: Order
    qty: int = 0


@dataclass
class Plan:
    """The walk of one taker over the book; `end` says why it stopped."""

    steps: list[Step] = field(default_factory=list)
    end: str = ""  # done | no_cross | band | budget | cap | stp
    filled: int = 0
    cost: int = 0  # sum of buyer_pays at the taker fee (buys)
    sold: int = 0  # base minor units the taker gives (sells)


class Matching(State):
    """Order placement on top of the plain state."""

    def _plan(self, market: Market, taker: Order) -> Plan:
        half = "asks" if taker.side == Side.BUY.value else "bids"
        makers = self._sorted(market, half)
        plan = Plan()
        # a market order stops before the first maker beyond the price band around the touch: the best
        # opposite price before it matched anything (a limit order within the band never reaches one)
        touch = makers[0].price if makers else 0
        band = market.price_band_bps if taker.type == OrderType.MARKET.value else 0
        by_quote = taker.quote_qty > 0
        remaining = taker.remaining
        budget = taker.quote_qty
        touched = 0
        index = 0
        used = 0  # lots already taken from makers[index] in this walk
        while True:
            if not by_quote and remaining == 0:
                plan.end = "done"
                break
            maker = makers[index] if index < len(makers) else None
            if maker is None or not self._crosses(taker, maker):
                plan.end = "no_cross"
                break
            if beyond_band(taker.side, maker.price, touch, band):
                plan.end = "band"
                break
            afford = 0
            if by_quote:  # a buy spends its budget fees included; a sell sells base worth its budget
                if taker.side == Side.BUY.value:
                    afford = affordable_lots(
                        budget, maker.price, num=market.num, den=market.den, bps=market.taker_bps
                    )
                else:
                    afford = sellable_lots(budget, maker.price, num=market.num, den=market.den)
                if afford == 0:
                    plan.end = "budget"
                    break
            if used == 0:  # a new maker: it counts against the cap
                if touched >= MAX_MAKERS:
                    plan.end = "cap"
                    break
                touched += 1
            if maker.account == taker.account:
                index += 1
                if taker.stp == Stp.CANCEL_MAKER.value:
                    plan.steps.append(Step("stp_maker", maker))
                    continue
                kind = "stp_taker" if taker.stp == Stp.CANCEL_TAKER.value else "stp_both"
                plan.steps.append(Step(kind, maker))
                plan.end = "stp"
                break
            qty = min(maker.remaining - used, afford if by_quote else remaining)
            plan.steps.append(Step("trade", maker, qty))
            used += qty
            if used == maker.remaining:
                index, used = index + 1, 0
            plan.filled += qty
            remaining -= qty
            if taker.side == Side.BUY.value:
                pays = buy_cost(maker.price, qty, num=market.num, den=market.den, bps=market.taker_bps)
                plan.cost += pays
                budget -= pays
            else:
                plan.sold += qty * market.lot_minor
                budget -= limit_notional(maker.price, qty, num=market.num, den=market.den)
        return plan

    def _best(self, market: Market, side: str) -> int | None:
        """The best price a taker of `side` meets (the best ask for a buy, the best bid for a sell), or None
        when that half is empty."""
        half = "asks" if side == Side.BUY.value else "bids"
        makers = self._sorted(market, half)
        return makers[0].price if makers else None

    @staticmethod
    def _crosses(taker: Order, maker: Order) -> bool:
        if taker.type == OrderType.MARKET.value:
            return True
        if taker.side == Side.BUY.value:
            return maker.price <= taker.price
        return maker.price >= taker.price

    # ---- place ----------------------------------------------------------------------------------------
    def place(
        self,
        account: int,
        symbol: str,
        side: str,
        type: str,
        *,
        price: int = 0,
        qty: int = 0,
        quote_qty: int = 0,
        tif: str = "gtc",
        post_only: bool = False,
        stp: str = "cancel_maker",
        client_order_id: str = "",
        ts_ms: int,
    ) -> dict[str, Any]:
        """Place an order; returns `{order, fills, stp, duplicate}` or raises the engine's error. An empty
        `tif` or `stp` is the default (gtc, cancel_maker), as the engine's ARGV take it."""
        self._begin_call()
        tif, stp = tif or Tif.GTC.value, stp or Stp.CANCEL_MAKER.value
        market = validate_place(
            self.markets_by_symbol,
            account,
            symbol,
            side,
            type,
            price,
            qty,
            quote_qty,
            tif,
            post_only,
            stp,
            client_order_id,
            ts_ms,
        )
        is_limit = type == OrderType.LIMIT.value
        tif = tif if is_limit else Tif.IOC.value
        post = 1 if post_only else 0
        if client_order_id:
            known = self.coids.get(account, {}).get(client_order_id)
            if known is not None:
                old = self.orders[known]
                same = (
                    old.symbol,
                    old.side,
                    old.type,
                    old.tif,
                    old.price,
                    old.qty,
                    old.quote_qty,
                    old.post_only,
                    old.stp,
                ) == (symbol, side, type, tif, price, qty, quote_qty, post, stp)
                if not same:
                    raise fail("DUPLICATE_CLIENT_ORDER_ID", client_order_id)
                return {"order": old.as_dict(), "fills": [], "stp": [], "duplicate": True}
        if is_limit and tif == Tif.GTC.value and self._open_count(account) >= MAX_OPEN_ORDERS:
            raise fail("TOO_MANY_OPEN_ORDERS", f"the account already has {MAX_OPEN_ORDERS} open orders")
        # the checks against the touch (the best opposite price) read the book, so they come after every
        # argument check and after a retry has returned its original order
        if is_limit:
            check_price_band(market, side, price, self._best(market, side))
        elif qty > 0:
            check_touch_notional(market, qty, self._best(market, side))

        taker = Order(
            id=self.order_seq + 1,
            account=account,
            symbol=symbol,
            side=side,
            type=type,
            tif=tif,
            price=price,
            qty=qty,
            quote_qty=quote_qty,
            post_only=post,
            stp=stp,
            client_order_id=client_order_id,
            created_ms=ts_ms,
            updated_ms=ts_ms,
        )
        if side == Side.SELL.value:
            taker.hold_asset = market.base
            if quote_qty >= 2**53:
                raise fail("QTY_TOO_LARGE", "quote_qty must stay below 2^53 minor units")
            # a sell by quote holds exactly the base its walk sells (the same walk, run first as a plan)
            hold = self._plan(market, taker).sold if quote_qty else qty * market.lot_minor
        else:
            taker.hold_asset = market.quote
            if is_limit:
                h = per_lot_hold(price, num=market.num, den=market.den, taker_bps=market.taker_bps)
                hold = qty * h
            elif quote_qty:
                hold = quote_qty
            else:
                hold = self._plan(market, taker).cost
        if hold >= 2**53:
            raise fail("QTY_TOO_LARGE", "the hold of this order would exceed 2^53 minor units")
        if self._balance(account, taker.hold_asset)[0] < hold:
            raise fail("INSUFFICIENT_FUNDS", f"{taker.hold_asset} available below {hold}")

        # every check passed: from here on the command writes
        self.order_seq += 1
        self.orders[taker.id] = taker
        if client_order_id:
            self.coids.setdefault(account, {})[client_order_id] = taker.id
        result: dict[str, Any] = {"order": None, "fills": [], "stp": [], "duplicate": False}
        try:
            self._execute(market, taker, hold, result)
        finally:
            self._finish_call()
        result["order"] = taker.as_dict()
        return result

    def _execute(self, market: Market, taker: Order, hold: int, result: dict[str, Any]) -> None:
        ts = taker.created_ms
        plan = self._plan(market, taker)
        if taker.post_only and plan.steps:
            taker.status, taker.reason = Status.REJECTED.value, "post_only_would_take"
            self._emit_market(
                market,
                "order_rejected",
                ts,
                {
                    "order_id": taker.id,
                    "account": taker.account,
                    "reason": taker.reason,
                    "status": taker.status,
                },
            )
            return
        ledger: Ledger = []
        if hold:
            self._move(ledger, taker.account, taker.hold_asset, -hold, hold)
        taker.hold = hold
        self._emit_market(
            market,
            "order_accepted",
            ts,
            {
                "order_id": taker.id,
                "account": taker.account,
                "side": taker.side,
                "order_type": taker.type,
                "tif": taker.tif,
                "price": taker.price,
                "qty": taker.qty,
                "quote_qty": taker.quote_qty,
                "post_only": taker.post_only,
                "stp": taker.stp,
                "client_order_id": taker.client_order_id,
                "hold_asset": taker.hold_asset,
                "hold": hold,
                "status": taker.status,
                "ledger": ledger,
            },
        )
        if taker.tif == Tif.FOK.value and plan.filled < taker.qty:
            self._close(market, taker, Status.EXPIRED.value, "fok_unfilled", ts)
            return

        for step in plan.steps:
            maker = step.maker
            if step.kind == "trade":
                self._trade(market, taker, maker, step.qty, result)
            elif step.kind in ("stp_maker", "stp_both"):
                self._close(market, maker, Status.CANCELLED.value, "stp", ts)
                result["stp"].append(maker.id)
        if plan.end == "stp":
            result["stp"].append(taker.id)
            self._close(market, taker, Status.CANCELLED.value, "stp", ts)
            return
        self._finish_taker(market, taker, plan)

    def _finish_taker(self, market: Market, taker: Order, plan: Plan) -> None:
        ts = taker.created_ms
        by_quote = taker.quote_qty > 0
        if (not by_quote and taker.remaining == 0) or (
            by_quote and plan.end == "budget" and taker.filled > 0
        ):
            taker.status = Status.FILLED.value
            self._done(market, taker, ts, always=by_quote)
        elif plan.end == "cap":
            self._close(market, taker, Status.EXPIRED.value, "max_makers", ts)
        elif plan.end == "band":  # a market order that met a maker beyond the price band
            self._close(market, taker, Status.EXPIRED.value, "price_band", ts)
        elif taker.tif == Tif.GTC.value:
            taker.status = Status.PARTIALLY_FILLED.value if taker.filled else Status.OPEN.value
            self._rest(market, taker)
        elif taker.type == OrderType.MARKET.value:
            reason = "budget" if by_quote and plan.end == "budget" else "market"
            self._close(market, taker, Status.EXPIRED.value, reason, ts)
        else:
            self._close(market, taker, Status.EXPIRED.value, "ioc", ts)

    def _trade(self, market: Market, taker: Order, maker: Order, qty: int, result: dict[str, Any]) -> None:
        ts = taker.created_ms
        buyer, seller = (taker, maker) if taker.side == Side.BUY.value else (maker, taker)
        amounts = trade_amounts(
            maker.price,
            qty,
            num=market.num,
            den=market.den,
            lot_minor=market.lot_minor,
            buyer_bps=market.taker_bps if buyer is taker else market.maker_bps,
            seller_bps=market.taker_bps if seller is taker else market.maker_bps,
        )
        ledger: Ledger = []
        self._move(ledger, buyer.account, market.quote, 0, -amounts.buyer_pays)
        self._move(ledger, buyer.account, market.base, amounts.base, 0)
        self._move(ledger, seller.account, market.base, 0, -amounts.base)
        self._move(ledger, seller.account, market.quote, amounts.seller_gets, 0)
        fee = amounts.buyer_fee + amounts.seller_fee
        if fee:
            self._move(ledger, 0, market.quote, fee, 0)
        buyer.hold -= amounts.buyer_pays
        seller.hold -= amounts.base
        assert buyer.hold >= 0 and seller.hold >= 0
        for order in (maker, taker):
            order.filled += qty
            order.quote_filled += amounts.notional
            order.updated_ms = ts
        maker.status = Status.FILLED.value if maker.remaining == 0 else Status.PARTIALLY_FILLED.value
        if taker.quote_qty == 0 and taker.remaining == 0:
            taker.status = Status.FILLED.value
        else:
            taker.status = Status.PARTIALLY_FILLED.value
        self.trade_seq += 1
        trade_id = self.trade_seq
        self._emit_market(
            market,
            "trade",
            ts,
            {
                "trade_id": trade_id,
                "price": maker.price,
                "qty": qty,
                "taker_side": taker.side,
                "maker_order_id": maker.id,
                "taker_order_id": taker.id,
                "maker_account": maker.account,
                "taker_account": taker.account,
                "notional": amounts.notional,
                "buyer_fee": amounts.buyer_fee,
                "seller_fee": amounts.seller_fee,
                "maker_status": maker.status,
                "maker_filled": maker.filled,
                "maker_hold": maker.hold,
                "taker_status": taker.status,
                "taker_filled": taker.filled,
                "taker_hold": taker.hold,
                "ledger": ledger,
            },
        )
        if maker.remaining == 0:
            self._unrest(market, maker)
            self._done(market, maker, ts)
        else:
            self._book_changed.add(market.symbol)
        taker_fee = amounts.buyer_fee if buyer is taker else amounts.seller_fee
        result["fills"].append(
            {
                "trade_id": trade_id,
                "price": maker.price,
                "qty": qty,
                "notional": amounts.notional,
                "fee": taker_fee,
                "maker_order_id": maker.id,
                "liquidity": "taker",
                "ts": ts,
            }
        )
        self.trades.setdefault(market.symbol, []).insert(
            0, {"id": trade_id, "price": maker.price, "qty": qty, "side": taker.side, "ts": ts}
        )
        del self.trades[market.symbol][200:]

    def _open_count(self, account: int) -> int:
        return sum(1 for o in self.orders.values() if o.account == account and o.is_open)
