"""Plain data of the reference matcher: orders, markets, events, errors, vocabularies."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from exchange.engine.errors import EngineError, error_for
from exchange.vocab import MarketStatus
from exchange.vocab import OrderStatus as Status

MAX_MAKERS = 12  # lua/lib/01_util.lua
CANCEL_BATCH = MAX_MAKERS  # cancel_all / set_market_status cancel at most this many orders per call
CANCEL_EXAMINE = 100  # cancel_all looks at most at this many open orders per call
MAX_OPEN_ORDERS = 2000  # open orders per account: a gtc limit order beyond it is TOO_MANY_OPEN_ORDERS
CLIENT_ORDER_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,36}\Z")


OPEN_STATUSES = (Status.OPEN.value, Status.PARTIALLY_FILLED.value)


def fail(code: str, message: str = "") -> EngineError:
    """The engine's own exception for `code`, so callers cannot tell the two implementations apart."""
    return error_for(code, message)


@dataclass
class Order:
    """One order, with exactly the fields of the contract's order object."""

    id: int
    account: int
    symbol: str
    side: str
    type: str
    tif: str
    price: int
    qty: int
    quote_qty: int
    post_only: int
    stp: str
    client_order_id: str
    created_ms: int
    updated_ms: int
    filled: int = 0
    quote_filled: int = 0
    hold: int = 0
    hold_asset: str = ""
    status: str = Status.OPEN.value
    reason: str = ""

    @property
    def remaining(self) -> int:
        return self.qty - self.filled

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "account": self.account,
            "symbol": self.symbol,
            "side": self.side,
            "type": self.type,
            "tif": self.tif,
            "price": self.price,
            "qty": self.qty,
            "quote_qty": self.quote_qty,
            "filled": self.filled,
            "quote_filled": self.quote_filled,
            "hold": self.hold,
            "hold_asset": self.hold_asset,
            "status": self.status,
            "reason": self.reason,
            "post_only": self.post_only,
            "stp": self.stp,
            "client_order_id": self.client_order_id,
            "created_ms": self.created_ms,
            "updated_ms": self.updated_ms,
        }


@dataclass
class Market:
    """A market's engine fields plus its live state (book as plain lists of order ids)."""

    symbol: str
    base: str
    quote: str
    lot_minor: int
    num: int
    den: int
    min_lots: int
    max_lots: int
    max_price_ticks: int
    min_notional_minor: int
    maker_bps: int
    taker_bps: int
    tick_size: str
    lot_size: str
    price_band_bps: int = 0  # 0: no band (docs/engine.md, "Price band")
    status: str = MarketStatus.TRADING.value
    seq: int = 0
    book_seq: int = 0
    bids: list[int] = field(default_factory=list)
    asks: list[int] = field(default_factory=list)


def event_value(value: object) -> str:
    """Stream field text: integers as decimal, booleans as 0/1, strings unchanged."""
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def ledger_text(entries: list[tuple[int, str, int, int]]) -> str:
    """`account,asset,delta_available,delta_held` entries joined by `;`."""
    return ";".join(f"{a},{asset},{da},{dh}" for a, asset, da, dh in entries)
