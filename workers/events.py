"""Turn engine stream entries into PostgreSQL rows (pure: no I/O).

One `Batch` is the projection of a contiguous run of entries of one stream. The engine's events are
specified in docs/engine.md ("Events"); every field is a string in the stream and an integer in engine
units here. `apply_entries` needs the state of orders created before the batch (`known_orders`) and asks
for the ones it lacks through `Batch.missing_orders` (the I/O layer loads them from PostgreSQL, or from the
engine's `order:{id}` record, and calls again).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any

WALLET_STREAM = "events:wallet"
STREAM_PREFIX = "events:"


class EventType(StrEnum):
    ORDER_ACCEPTED = "order_accepted"
    TRADE = "trade"
    ORDER_CANCELLED = "order_cancelled"
    ORDER_EXPIRED = "order_expired"
    ORDER_REJECTED = "order_rejected"
    ORDER_DONE = "order_done"
    MARKET_STATUS = "market_status"
    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"


class LedgerKind(StrEnum):
    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"
    HOLD = "hold"
    TRADE = "trade"
    FEE = "fee"
    RELEASE = "release"


OPEN_STATUSES = frozenset({"open", "partially_filled"})
_CLOSING = {EventType.ORDER_CANCELLED, EventType.ORDER_EXPIRED, EventType.ORDER_DONE}


class EventError(ValueError):
    """A stream entry that does not follow docs/engine.md (persisting it would corrupt the history)."""


def stream_of(symbol: str) -> str:
    return f"{STREAM_PREFIX}{symbol}"


def symbol_of(stream: str) -> str | None:
    """`events:BTC-USDT` -> `BTC-USDT`; the wallet stream -> None."""
    return None if stream == WALLET_STREAM else stream[len(STREAM_PREFIX) :]


def seq_of(entry_id: str) -> int:
    return int(entry_id.split("-", 1)[0])


@dataclass
class OrderRow:
    """The `orders` table row (column order = `ORDER_COLUMNS`)."""

    order_id: int
    account: int
    symbol: str
    side: str
    type: str
    tif: str
    price_ticks: int
    qty_lots: int
    quote_qty_minor: int
    filled_lots: int
    quote_filled_minor: int
    status: str
    reason: str
    post_only: bool
    stp: str
    client_order_id: str
    created_ms: int
    updated_ms: int
    hold_minor: int
    hold_asset: str
    created_seq: int
    last_seq: int

    def row(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in ORDER_COLUMNS)


ORDER_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(OrderRow))


def order_from_object(h: Mapping[str, Any], seq: int) -> OrderRow:
    """An `OrderRow` from the engine's order object (`get_order`, `codec.parse_order_record`)."""
    return OrderRow(
        order_id=int(h["id"]),
        account=int(h["account"]),
        symbol=h.get("symbol", ""),
        side=h.get("side", ""),
        type=h.get("type") or "limit",
        tif=h.get("tif", "gtc"),
        price_ticks=int(h.get("price") or 0),
        qty_lots=int(h.get("qty") or 0),
        quote_qty_minor=int(h.get("quote_qty") or 0),
        filled_lots=int(h.get("filled") or 0),
        quote_filled_minor=int(h.get("quote_filled") or 0),
        status=h.get("status", ""),
        reason=h.get("reason", ""),
        post_only=str(h.get("post_only", "0")) in ("1", "true", "True"),
        stp=h.get("stp") or "cancel_maker",
        client_order_id=h.get("client_order_id", ""),
        created_ms=int(h.get("created_ms") or 0),
        updated_ms=int(h.get("updated_ms") or 0),
        hold_minor=int(h.get("hold") or 0),
        hold_asset=h.get("hold_asset", ""),
        created_seq=seq,
        last_seq=seq,
    )


@dataclass
class Batch:
    stream: str
    first_seq: int = 0
    last_seq: int = 0
    last_ts_ms: int = 0
    events: int = 0
    trades: list[tuple[object, ...]] = field(default_factory=list)
    fills: list[tuple[object, ...]] = field(default_factory=list)
    ledger: list[tuple[object, ...]] = field(default_factory=list)
    order_events: list[tuple[object, ...]] = field(default_factory=list)
    orders: dict[int, OrderRow] = field(default_factory=dict)
    wallet_ops: list[tuple[object, ...]] = field(default_factory=list)
    wallet_refs: list[str] = field(default_factory=list)
    status_changes: list[tuple[object, ...]] = field(default_factory=list)
    market_status: str | None = None
    missing_orders: set[int] = field(default_factory=set)


def referenced_orders(entries: list[tuple[str, dict[str, str]]]) -> set[int]:
    """Order ids the entries touch but do not create (their prior state is needed)."""
    created: set[int] = set()
    wanted: set[int] = set()
    for _id, f in entries:
        t = f.get("type")
        if t == EventType.ORDER_ACCEPTED:
            created.add(int(f["order_id"]))
        elif t == EventType.TRADE:
            for key in ("maker_order_id", "taker_order_id"):
                oid = int(f[key])
                if oid not in created:
                    wanted.add(oid)
        elif t in (*_CLOSING, EventType.ORDER_REJECTED):
            oid = int(f["order_id"])
            if oid not in created:
                wanted.add(oid)
    return wanted


def _int(f: dict[str, str], key: str) -> int:
    try:
        return int(f[key])
    except (KeyError, ValueError) as exc:
        raise EventError(f"field {key!r} missing or not an integer in {f!r}") from exc


def _ledger_lines(
    batch: Batch, seq: int, ts: int, text: str, kind_of: LedgerKind, fee_kind: bool = False
) -> None:
    if not text:
        return
    for idx, line in enumerate(text.split(";")):
        parts = line.split(",")
        if len(parts) != 4:
            raise EventError(f"bad ledger line {line!r} in {batch.stream} seq {seq}")
        account = int(parts[0])
        kind = LedgerKind.FEE if fee_kind and account == 0 else kind_of
        batch.ledger.append(
            (batch.stream, seq, idx, account, parts[1], int(parts[2]), int(parts[3]), kind.value, ts)
        )


def apply_entries(
    stream: str,
    entries: list[tuple[str, dict[str, str]]],
    known_orders: dict[int, OrderRow],
    quote_asset: str,
    after_seq: int,
) -> Batch:
    """Project `entries` (XRANGE output, contiguous from `after_seq + 1`) into rows.

    `known_orders` holds the prior state of every order in `referenced_orders(entries)`; orders missing
    from it are listed in `Batch.missing_orders` (the caller must fetch them and call again).
    """
    batch = Batch(stream=stream)
    symbol = symbol_of(stream)
    expected = after_seq + 1
    orders = batch.orders
    current_seq = 0

    def order(oid: int) -> OrderRow | None:
        row = orders.get(oid)
        if row is None:
            prior = known_orders.get(oid)
            if prior is None:
                batch.missing_orders.add(oid)
                return None
            row = OrderRow(**{name: getattr(prior, name) for name in ORDER_COLUMNS})
            if row.created_seq == 0:  # read from the engine's hash: it starts in this batch
                row.created_seq = current_seq
            orders[oid] = row
        return row

    for entry_id, f in entries:
        seq = current_seq = seq_of(entry_id)
        if seq != expected:
            raise EventError(f"{stream}: expected seq {expected}, got entry {entry_id} (gap or trim)")
        expected += 1
        if batch.first_seq == 0:
            batch.first_seq = seq
        ts = _int(f, "ts")
        batch.last_seq, batch.last_ts_ms = seq, ts
        batch.events += 1
        t = f.get("type", "")
        if symbol is None:
            if t not in (EventType.DEPOSIT, EventType.WITHDRAWAL):
                raise EventError(f"{stream} seq {seq}: unexpected type {t!r}")
            batch.wallet_ops.append(
                (seq, t, _int(f, "account"), f["asset"], _int(f, "amount"), f.get("ref", ""), ts)
            )
            batch.wallet_refs.append(f.get("ref", ""))
            kind = LedgerKind.DEPOSIT if t == EventType.DEPOSIT else LedgerKind.WITHDRAWAL
            _ledger_lines(batch, seq, ts, f.get("ledger", ""), kind)
            continue

        if t == EventType.ORDER_ACCEPTED:
            oid = _int(f, "order_id")
            orders[oid] = OrderRow(
                order_id=oid,
                account=_int(f, "account"),
                symbol=symbol,
                side=f["side"],
                type=f["order_type"],
                tif=f.get("tif", "gtc"),
                price_ticks=int(f.get("price") or 0),
                qty_lots=int(f.get("qty") or 0),
                quote_qty_minor=int(f.get("quote_qty") or 0),
                filled_lots=0,
                quote_filled_minor=0,
                status=f.get("status", "open"),
                reason="",
                post_only=f.get("post_only", "0") in ("1", "true"),
                stp=f.get("stp") or "cancel_maker",
                client_order_id=f.get("client_order_id", ""),
                created_ms=ts,
                updated_ms=ts,
                hold_minor=int(f.get("hold") or 0),
                hold_asset=f.get("hold_asset", ""),
                created_seq=seq,
                last_seq=seq,
            )
            row = orders[oid]
            batch.order_events.append((stream, seq, oid, t, row.status, 0, row.hold_minor, "", None, ts))
            _ledger_lines(batch, seq, ts, f.get("ledger", ""), LedgerKind.HOLD)
        elif t == EventType.TRADE:
            trade_id = _int(f, "trade_id")
            price, qty, notional = _int(f, "price"), _int(f, "qty"), _int(f, "notional")
            taker_side = f["taker_side"]
            maker_side = "sell" if taker_side == "buy" else "buy"
            maker_oid, taker_oid = _int(f, "maker_order_id"), _int(f, "taker_order_id")
            maker_acct, taker_acct = _int(f, "maker_account"), _int(f, "taker_account")
            buyer_fee, seller_fee = _int(f, "buyer_fee"), _int(f, "seller_fee")
            batch.trades.append(
                (trade_id, symbol, seq, price, qty, notional, taker_side, maker_oid, taker_oid,
                 maker_acct, taker_acct, buyer_fee, seller_fee, ts)
            )  # fmt: skip
            for liquidity, oid, acct, side in (
                ("maker", maker_oid, maker_acct, maker_side),
                ("taker", taker_oid, taker_acct, taker_side),
            ):
                fee = buyer_fee if side == "buy" else seller_fee
                batch.fills.append(
                    (trade_id, liquidity, oid, acct, symbol, side, price, qty, notional, fee, quote_asset, ts)
                )
                touched = order(oid)
                status, filled, hold = (
                    f[f"{liquidity}_status"],
                    f[f"{liquidity}_filled"],
                    f[f"{liquidity}_hold"],
                )
                if touched is not None:
                    touched.status, touched.filled_lots, touched.hold_minor = status, int(filled), int(hold)
                    touched.quote_filled_minor += notional
                    touched.updated_ms, touched.last_seq = ts, seq
                batch.order_events.append(
                    (stream, seq, oid, t, status, int(filled), int(hold), "", trade_id, ts)
                )
            _ledger_lines(batch, seq, ts, f.get("ledger", ""), LedgerKind.TRADE, fee_kind=True)
        elif t in _CLOSING or t == EventType.ORDER_REJECTED:
            oid = _int(f, "order_id")
            closed = order(oid)
            if closed is None and t == EventType.ORDER_REJECTED:
                # rejected on arrival and its hash is gone: keep what the event says
                batch.missing_orders.discard(oid)
                closed = orders[oid] = OrderRow(
                    oid, _int(f, "account"), symbol, "", "limit", "gtc", 0, 0, 0, 0, 0, f["status"],
                    f.get("reason", ""), True, "cancel_maker", "", ts, ts, 0, "", seq, seq,
                )  # fmt: skip
            released = int(f.get("released") or 0)
            reason = f.get("reason", "")
            status = f["status"]
            if closed is not None:
                closed.status, closed.reason = status, reason
                if "filled" in f:
                    closed.filled_lots = int(f["filled"])
                if t == EventType.ORDER_REJECTED:
                    closed.hold_minor = 0
                else:
                    closed.hold_minor = max(0, closed.hold_minor - released)
                closed.updated_ms, closed.last_seq = ts, seq
            hold_after = closed.hold_minor if closed is not None else 0
            filled_after = int(f.get("filled") or (closed.filled_lots if closed is not None else 0))
            batch.order_events.append(
                (stream, seq, oid, t, status, filled_after, hold_after, reason, None, ts)
            )
            _ledger_lines(batch, seq, ts, f.get("ledger", ""), LedgerKind.RELEASE)
        elif t == EventType.MARKET_STATUS:
            batch.status_changes.append((symbol, seq, f["status"], f.get("previous", ""), ts))
            batch.market_status = f["status"]
        else:
            raise EventError(f"{stream} seq {seq}: unknown event type {t!r}")
    return batch
