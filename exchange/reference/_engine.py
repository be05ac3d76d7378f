"""The public surface of the reference: the same methods, arguments and result shapes as
`exchange.engine.client.Engine`, over plain Python state."""

from __future__ import annotations

import math
import re
from typing import Any

from exchange.reference._matching import Matching
from exchange.reference._model import CANCEL_BATCH, CANCEL_EXAMINE, Market, Order, fail
from exchange.reference._state import Ledger
from exchange.reference._validate import is_int
from exchange.vocab import MarketStatus
from exchange.vocab import OrderStatus as Status

REF_RE = re.compile(r"^[A-Za-z0-9._:-]{1,64}\Z")
ASSET_RE = re.compile(r"^[A-Z0-9]{1,16}\Z")
SYMBOL_RE = re.compile(r"^[A-Z0-9]+-[A-Z0-9]+\Z")

MARKET_STATUSES = {s.value for s in MarketStatus}
LOCKED_FIELDS = ("lot_minor", "num", "den", "max_lots", "max_price_ticks", "maker_bps", "taker_bps")


class Reference(Matching):
    """A pure-Python exchange engine: the executable form of docs/engine.md."""

    # ---- setup --------------------------------------------------------------------------------------
    def load(self) -> None:
        """Nothing to load (the engine loads its Lua library here)."""

    def create_asset(self, symbol: str, name: str, decimals: int) -> None:
        """Upsert an asset; its decimals never change."""
        if not ASSET_RE.match(symbol) or not 1 <= len(name) <= 64 or not 0 <= decimals <= 18:
            raise fail("INVALID_ARGUMENT", "asset symbol 1..16 of [A-Z0-9], name 1..64, decimals 0..18")
        old = self.assets_by_symbol.get(symbol)
        if old is not None and old["decimals"] != decimals:
            raise fail("INVALID_ARGUMENT", f"the decimals of {symbol} cannot change")
        self.assets_by_symbol[symbol] = {"symbol": symbol, "name": name, "decimals": decimals}

    def create_market(self, spec: Any) -> None:
        """Upsert a market from a `MarketSpec` (keeps status, seq and the book of an existing market)."""
        base = self.assets_by_symbol.get(spec.base)
        quote = self.assets_by_symbol.get(spec.quote)
        if base is None or quote is None:
            raise fail("UNKNOWN_ASSET", f"{spec.base} and {spec.quote} must be created first")
        fields = spec.engine_fields(base["decimals"], quote["decimals"])
        if not isinstance(fields, dict):
            fields = fields._asdict() if hasattr(fields, "_asdict") else vars(fields)
        self.create_market_fields(
            symbol=spec.symbol,
            base=spec.base,
            quote=spec.quote,
            tick_size=spec.tick_size,
            lot_size=spec.lot_size,
            maker_bps=spec.maker_fee_bps,
            taker_bps=spec.taker_fee_bps,
            status=getattr(spec, "status", "trading"),
            price_band_bps=getattr(spec, "price_band_bps", 0),
            **fields,
        )

    def create_market_fields(
        self,
        *,
        symbol: str,
        base: str,
        quote: str,
        lot_minor: int,
        num: int,
        den: int,
        min_lots: int,
        max_lots: int,
        max_price_ticks: int,
        min_notional_minor: int,
        maker_bps: int,
        taker_bps: int,
        tick_size: str = "1",
        lot_size: str = "1",
        status: str = "trading",
        price_band_bps: int = 0,
    ) -> None:
        """Upsert a market from its engine fields. An existing market keeps its status, seq, book_seq, book,
        base and quote; while orders rest, its units, limits and fees (LOCKED_FIELDS) cannot change (its
        limits, minimum notional and price band may change at any time)."""
        if not SYMBOL_RE.match(symbol) or len(symbol) > 33:
            raise fail("INVALID_ARGUMENT", "market symbol must look like BASE-QUOTE")
        if base not in self.assets_by_symbol or quote not in self.assets_by_symbol:
            raise fail("UNKNOWN_ASSET", "base and quote must be known assets")
        if base == quote:
            raise fail("INVALID_ARGUMENT", "base and quote must differ")
        if min(lot_minor, num, den, min_lots, max_price_ticks) < 1 or max_lots < min_lots:
            raise fail("INVALID_ARGUMENT", "units and limits must be positive, max_lots >= min_lots")
        if math.gcd(num, den) != 1:
            raise fail("INVALID_ARGUMENT", "num/den must be a reduced fraction")
        if not 0 <= maker_bps <= taker_bps <= 1000 or min_notional_minor < 0:
            raise fail("INVALID_ARGUMENT", "fees must satisfy 0 <= maker_bps <= taker_bps <= 1000")
        if (
            max_price_ticks * max_lots * num >= 2**53
            or den * 10000 * (10000 + taker_bps) >= 2**53
            or max_lots * lot_minor >= 2**53
        ):
            raise fail("INVALID_ARGUMENT", "the market breaks the 2^53 rules")
        if not is_int(price_band_bps) or not 0 <= price_band_bps <= 10000:
            raise fail("INVALID_ARGUMENT", "price_band_bps must lie in 0..10000")
        if price_band_bps and max_price_ticks * 20000 >= 2**53:  # touch * (10000 + band) < 2^53
            raise fail("INVALID_ARGUMENT", "a price band needs max_price_ticks * 20000 below 2^53")
        if status not in MARKET_STATUSES:
            raise fail("INVALID_ARGUMENT", f"unknown status {status}")
        market = Market(
            symbol=symbol, base=base, quote=quote, lot_minor=lot_minor, num=num, den=den,
            min_lots=min_lots, max_lots=max_lots, max_price_ticks=max_price_ticks,
            min_notional_minor=min_notional_minor, maker_bps=maker_bps, taker_bps=taker_bps,
            tick_size=tick_size, lot_size=lot_size, status=status, price_band_bps=price_band_bps,
        )  # fmt: skip
        old = self.markets_by_symbol.get(symbol)
        if old is not None:
            if (old.base, old.quote) != (base, quote):
                raise fail("INVALID_ARGUMENT", f"the base and quote of {symbol} cannot change")
            if old.bids or old.asks:
                for name in LOCKED_FIELDS:
                    if getattr(old, name) != getattr(market, name):
                        raise fail("INVALID_ARGUMENT", f"{name} cannot change while orders rest in {symbol}")
            market.status, market.seq, market.book_seq = old.status, old.seq, old.book_seq
            market.bids, market.asks = old.bids, old.asks
        self.markets_by_symbol[symbol] = market

    # ---- wallet -------------------------------------------------------------------------------------
    def deposit(self, account: int, asset: str, amount: int, ref: str, ts_ms: int) -> dict[str, Any]:
        return self._wallet("deposit", account, asset, amount, ref, ts_ms)

    def withdraw(self, account: int, asset: str, amount: int, ref: str, ts_ms: int) -> dict[str, Any]:
        return self._wallet("withdrawal", account, asset, amount, ref, ts_ms)

    def _wallet(
        self, kind: str, account: int, asset: str, amount: int, ref: str, ts_ms: int
    ) -> dict[str, Any]:
        self._begin_call()
        if not is_int(account) or account < 0:
            raise fail("INVALID_ARGUMENT", "account must be a non-negative integer")
        if asset not in self.assets_by_symbol:
            raise fail("UNKNOWN_ASSET", str(asset))
        if not is_int(amount) or amount <= 0 or amount >= 2**53:
            raise fail("INVALID_AMOUNT", str(amount))
        if not isinstance(ref, str) or not REF_RE.match(ref):
            raise fail("INVALID_ARGUMENT", "ref must be 1..64 of [A-Za-z0-9._:-]")
        if not is_int(ts_ms) or ts_ms < 0:
            raise fail("INVALID_ARGUMENT", "ts_ms must be a non-negative integer")
        known = self.wallet_refs.get(ref)
        if known is not None:
            if (known["kind"], known["account"], known["asset"], known["amount"]) != (
                kind,
                account,
                asset,
                amount,
            ):
                raise fail("DUPLICATE_REF", ref)
            return {**known["result"], "duplicate": True}
        balance = self._balance(account, asset)
        if kind == "withdrawal" and balance[0] < amount:
            raise fail("INSUFFICIENT_FUNDS", f"{asset} available below {amount}")
        supply = self.supply.get(asset, 0)
        if kind == "deposit" and supply + amount >= 2**53:
            raise fail("INVALID_AMOUNT", f"the supply of {asset} would reach 2^53 minor units")
        ledger: Ledger = []
        delta = amount if kind == "deposit" else -amount
        self.supply[asset] = supply + delta
        self._move(ledger, account, asset, delta, 0)
        self._emit_wallet(
            kind, ts_ms, {"account": account, "asset": asset, "amount": amount, "ref": ref, "ledger": ledger}
        )
        result = {
            "account": account,
            "asset": asset,
            "amount": amount,
            "available": balance[0],
            "held": balance[1],
        }
        self.wallet_refs[ref] = {
            "kind": kind,
            "account": account,
            "asset": asset,
            "amount": amount,
            "result": result,
        }
        return {**result, "duplicate": False}

    # ---- cancels and statuses ------------------------------------------------------------------------
    def cancel(self, account: int, order_id: int, ts_ms: int) -> dict[str, Any]:
        self._begin_call()
        order = self.orders.get(order_id) if is_int(order_id) else None
        if order is None or order.account != account:
            raise fail("UNKNOWN_ORDER", str(order_id))
        market = self.markets_by_symbol[order.symbol]
        if market.status == MarketStatus.HALTED.value:
            raise fail("MARKET_HALTED", market.symbol)
        if not order.is_open:
            raise fail("ORDER_CLOSED", str(order_id))
        self._close(market, order, Status.CANCELLED.value, "user", ts_ms)
        self._finish_call()
        return order.as_dict()

    def cancel_all(
        self, account: int, ts_ms: int, symbol: str | None = None, after_id: int = 0
    ) -> dict[str, Any]:
        """The account's open orders above `after_id`, lowest id first: looks at most at CANCEL_EXAMINE of
        them and cancels at most CANCEL_BATCH (skipping other markets' with a symbol, and halted markets').
        `next` is the last id looked at (after_id when none), `remaining` how many open ids above it."""
        self._begin_call()
        # the engine's order: its integer arguments, then the market
        if not all(is_int(v) and 0 <= v < 2**53 for v in (account, ts_ms, after_id)) or account < 1:
            raise fail(
                "INVALID_ARGUMENT", "account must be a positive integer, ts_ms and after_id non-negative ones"
            )
        if symbol is not None and symbol not in self.markets_by_symbol:
            raise fail("UNKNOWN_MARKET", symbol)
        mine = [o for o in self._open_of(account) if o.id > after_id]
        cancelled = looked = 0
        last = after_id
        for order in mine:
            if looked == CANCEL_EXAMINE or cancelled == CANCEL_BATCH:
                break
            looked, last = looked + 1, order.id
            market = self.markets_by_symbol[order.symbol]
            if (symbol is None or order.symbol == symbol) and market.status != MarketStatus.HALTED.value:
                self._close(market, order, Status.CANCELLED.value, "user", ts_ms)
                cancelled += 1
        self._finish_call()
        return {"cancelled": cancelled, "remaining": len(mine) - looked, "next": last}

    def set_market_status(
        self, symbol: str, status: str, ts_ms: int, cancel_orders: bool = False
    ) -> dict[str, Any]:
        self._begin_call()
        market = self.markets_by_symbol.get(symbol)
        if market is None:
            raise fail("UNKNOWN_MARKET", symbol)
        if status not in MARKET_STATUSES:
            raise fail("INVALID_ARGUMENT", f"unknown status {status}")
        if not is_int(ts_ms) or not 0 <= ts_ms < 2**53:
            raise fail("INVALID_ARGUMENT", "ts_ms must be a non-negative integer")
        previous = market.status
        if status != previous:
            market.status = status
            self._emit_market(market, "market_status", ts_ms, {"status": status, "previous": previous})
        cancelled = 0
        remaining = 0
        if cancel_orders:
            # book order: the bids best first (FIFO within a price), then the asks
            batch = (self._sorted(market, "bids") + self._sorted(market, "asks"))[:CANCEL_BATCH]
            for order in batch:
                self._close(market, order, Status.CANCELLED.value, "market_status", ts_ms)
            cancelled = len(batch)
            remaining = len(market.bids) + len(market.asks)
        self._finish_call()
        return {
            "status": status,
            "previous": previous,
            "cancelled": cancelled,
            "remaining": remaining,
        }

    # ---- reads --------------------------------------------------------------------------------------
    def book(self, symbol: str, depth: int = 50) -> dict[str, Any]:
        market = self.markets_by_symbol.get(symbol)
        if market is None:
            raise fail("UNKNOWN_MARKET", symbol)
        if not is_int(depth) or not 1 <= depth <= 1000:
            raise fail("INVALID_ARGUMENT", "depth must be 1..1000")
        out: dict[str, Any] = {"seq": market.book_seq}
        for half in ("bids", "asks"):
            levels: list[list[int]] = []
            for order in self._sorted(market, half):
                if levels and levels[-1][0] == order.price:
                    levels[-1][1] += order.remaining
                    levels[-1][2] += 1
                elif len(levels) < depth:
                    levels.append([order.price, order.remaining, 1])
                else:
                    break
            out[half] = levels
        return out

    def get_order(self, order_id: int) -> dict[str, Any] | None:
        order = self.orders.get(order_id)
        return None if order is None else order.as_dict()

    def _open_of(self, account: int) -> list[Order]:
        return sorted(
            (o for o in self.orders.values() if o.account == account and o.is_open), key=lambda o: o.id
        )

    def open_orders(self, account: int, symbol: str | None = None) -> list[dict[str, Any]]:
        return [o.as_dict() for o in self._open_of(account) if symbol is None or o.symbol == symbol]

    def balances(self, account: int) -> dict[str, tuple[int, int]]:
        mine = self.accounts.get(account, {})
        return {a: tuple(mine.get(a, (0, 0))) for a in sorted(self.assets_by_symbol)}  # type: ignore[misc]

    def recent_trades(self, symbol: str, limit: int = 50) -> list[dict[str, Any]]:
        return [dict(t) for t in self.trades.get(symbol, [])[:limit]]

    def events(self, stream: str) -> list[dict[str, str]]:
        """Every entry of a stream (`events:{SYM}` or `events:wallet`), oldest first."""
        return [dict(e) for e in self.streams.get(stream, [])]

    def account_ids(self) -> list[int]:
        return sorted(self.accounts)
