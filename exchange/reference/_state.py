"""The reference's state and the primitive moves every command is built from.

Balances are plain dicts, books are plain lists of order ids sorted on every read, events are lists of
string dicts exactly as a Redis Stream would hold them. Every balance move goes through `_move`, which also
writes the ledger entry, so the ledger reproduces the balances by construction.
"""

from __future__ import annotations

from typing import Any

from exchange.reference._model import (
    Market,
    Order,
    event_value,
    ledger_text,
)
from exchange.vocab import OrderStatus as Status
from exchange.vocab import Side

Ledger = list[tuple[int, str, int, int]]


class State:
    """Every piece of engine state, as plain Python containers."""

    def __init__(self) -> None:
        self.assets_by_symbol: dict[str, dict[str, Any]] = {}
        self.markets_by_symbol: dict[str, Market] = {}
        self.orders: dict[int, Order] = {}
        self.accounts: dict[int, dict[str, list[int]]] = {}  # account -> asset -> [available, held]
        self.supply: dict[str, int] = {}  # asset -> deposits - withdrawals (every balance is part of it)
        self.coids: dict[int, dict[str, int]] = {}
        self.wallet_refs: dict[str, dict[str, Any]] = {}
        self.trades: dict[str, list[dict[str, Any]]] = {}  # symbol -> newest first
        self.streams: dict[str, list[dict[str, str]]] = {}
        self.order_seq = 0
        self.trade_seq = 0
        self.wallet_seq = 0
        self.call_seq = 0  # seq:call: the engine's calls that wrote events, numbered in order
        self._call: int | None = None  # this command's number, taken by its first event
        self._book_changed: set[str] = set()

    # ---- balances -----------------------------------------------------------------------------------
    def _balance(self, account: int, asset: str) -> list[int]:
        return self.accounts.setdefault(account, {}).setdefault(asset, [0, 0])

    def _move(self, ledger: Ledger, account: int, asset: str, d_available: int, d_held: int) -> None:
        bal = self._balance(account, asset)
        bal[0] += d_available
        bal[1] += d_held
        assert bal[0] >= 0 and bal[1] >= 0, (account, asset, bal)
        ledger.append((account, asset, d_available, d_held))

    # ---- events -------------------------------------------------------------------------------------
    def _emit_market(self, market: Market, type_: str, ts: int, fields: dict[str, object]) -> None:
        market.seq += 1
        self._append(f"events:{market.symbol}", market.seq, type_, ts, fields)

    def _emit_wallet(self, type_: str, ts: int, fields: dict[str, object]) -> None:
        self.wallet_seq += 1
        self._append("events:wallet", self.wallet_seq, type_, ts, fields)

    def _begin_call(self) -> None:
        """At the start of every command: its events take the next call number (lua/lib/02_ctx.lua)."""
        self._call = None

    def _append(self, stream: str, seq: int, type_: str, ts: int, fields: dict[str, object]) -> None:
        if self._call is None:
            self.call_seq += 1
            self._call = self.call_seq
        entry = {"seq": str(seq), "type": type_, "ts": str(ts), "call": str(self._call)}
        for key, value in fields.items():
            entry[key] = ledger_text(value) if key == "ledger" else event_value(value)  # type: ignore[arg-type]
        self.streams.setdefault(stream, []).append(entry)

    # ---- book ---------------------------------------------------------------------------------------
    def _book_side(self, market: Market, side: str) -> list[int]:
        """The list of resting order ids of the book half an order of `side` rests on."""
        return market.bids if side == Side.BUY.value else market.asks

    def _sorted(self, market: Market, half: str) -> list[Order]:
        """A book half best-first: asks by (price, id), bids by (-price, id)."""
        if half == "bids":
            return sorted((self.orders[i] for i in market.bids), key=lambda o: (-o.price, o.id))
        return sorted((self.orders[i] for i in market.asks), key=lambda o: (o.price, o.id))

    def _rest(self, market: Market, order: Order) -> None:
        self._book_side(market, order.side).append(order.id)
        self._book_changed.add(market.symbol)

    def _unrest(self, market: Market, order: Order) -> None:
        side = self._book_side(market, order.side)
        if order.id in side:
            side.remove(order.id)
            self._book_changed.add(market.symbol)

    def _finish_call(self) -> None:
        """Once per command: every market whose book changed gets exactly one more book_seq."""
        for symbol in sorted(self._book_changed):
            self.markets_by_symbol[symbol].book_seq += 1
        self._book_changed.clear()

    # ---- closing orders -----------------------------------------------------------------------------
    def _release(self, order: Order, ledger: Ledger) -> int:
        released = order.hold
        if released:
            self._move(ledger, order.account, order.hold_asset, released, -released)
        order.hold = 0
        return released

    def _close(self, market: Market, order: Order, status: str, reason: str, ts: int) -> None:
        """Take an open order off the book with `status` (cancelled/expired), release its hold, emit."""
        self._unrest(market, order)
        ledger: Ledger = []
        released = self._release(order, ledger)
        order.status = status
        order.reason = reason
        order.updated_ms = ts
        event = "order_cancelled" if status == Status.CANCELLED.value else "order_expired"
        self._emit_market(
            market,
            event,
            ts,
            {
                "order_id": order.id,
                "account": order.account,
                "reason": reason,
                "status": status,
                "filled": order.filled,
                "released": released,
                "ledger": ledger,
            },
        )

    def _done(self, market: Market, order: Order, ts: int, always: bool = False) -> None:
        """An order just became filled: release what is left of its hold (`order_done`, emitted when something
        is released, or `always`: a buy by quote amount, whose trades reported it partially filled)."""
        ledger: Ledger = []
        released = self._release(order, ledger)
        if released or always:
            self._emit_market(
                market,
                "order_done",
                ts,
                {
                    "order_id": order.id,
                    "account": order.account,
                    "status": order.status,
                    "filled": order.filled,
                    "released": released,
                    "ledger": ledger,
                },
            )
