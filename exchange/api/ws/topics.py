"""WebSocket channels as hub topics: parse a client channel name, convert Redis messages to frames.

- `tickers` (timer, about 1/s when changed): `{"channel": "tickers", "data": [ticker, ...]}`
- `book:SYM` (Redis `book:SYM`, engine `book_seq`): `{"channel", "type": "update", "first_seq", "seq",
  "bids", "asks"}`: the engine updates `first_seq..seq` merged (levels as absolute quantities, the last
  value of each level wins); the session sends the snapshot first and drops updates with `seq <=
  snapshot.seq`
- `trades:SYM` (Redis `trades:SYM`): `{"channel", "data": [{id, price, qty, side, ts}, ...]}`
- `candles:SYM:INTERVAL` (Redis `trades:SYM`, bar state per topic): `{"channel", "data": {t, o, h, l, c, v}}`

Book, trades and candles coalesce (`exchange.api.hub`, `WsSettings.coalesce_ms`): at most one frame per
channel per window, whatever the message rate. A book window never spans a gap in the engine's seqs: a
message that does not follow the pending one flushes the pending frame first, so sessions see the gap.
- `orders` (private; topic and Redis channel `orders:{account}`): `{"channel": "orders", "data": [order]}`
- `balances` (private; `balances:{account}`): `{"channel": "balances", "data": [{asset, available, held}]}`
- `history` (private; Redis `persisted:{account}`, PUBLISHed by the persistence workers after each commit):
  `{"channel": "history", "data": {"orders": [order id, ...]}}` (at most 500 ids, then `"more": true`):
  those orders' changes (and their fills) are now in PostgreSQL, so the history routes show them

Every conversion happens once per Redis message in the hub, whatever the number of local subscribers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import msgspec

from exchange.api.convert import Market, MarketCache, balance_out, levels_out, order_out
from exchange.api.hub import Delivery, Topic
from exchange.api.marketdata import DB_ERRORS, INTERVAL_MS, Bar, MarketData, parse_trade, trade_out
from exchange.api.schemas import json_text
from exchange.engine.codec import parse_order_lines

_encode = msgspec.json.Encoder().encode


def dumps(obj: Any) -> str:
    return _encode(obj).decode()


class ChannelKind(StrEnum):
    TICKERS = "tickers"
    BOOK = "book"
    TRADES = "trades"
    CANDLES = "candles"
    ORDERS = "orders"
    BALANCES = "balances"
    HISTORY = "history"


PRIVATE_KINDS = frozenset({ChannelKind.ORDERS, ChannelKind.BALANCES, ChannelKind.HISTORY})
_SYMBOL_RE = re.compile(r"^[A-Z0-9]{1,15}-[A-Z0-9]{1,15}\Z")  # \Z: `$` would let a final newline through


@dataclass(frozen=True, slots=True)
class Channel:
    """A parsed client channel name."""

    name: str
    kind: ChannelKind
    symbol: str = ""
    interval: str = ""

    @property
    def private(self) -> bool:
        return self.kind in PRIVATE_KINDS

    def topic(self, account: int | None) -> str:
        """The hub topic: private channels are per account."""
        return f"{self.kind.value}:{account}" if self.private else self.name


class ChannelError(ValueError):
    """A channel name that does not parse (code INVALID_CHANNEL)."""


def parse_channel(name: Any) -> Channel:
    if not isinstance(name, str) or not 1 <= len(name) <= 64:
        raise ChannelError(f"channel must be a string of 1..64 characters, got {json_text(name)}")
    parts = name.split(":")
    try:
        kind = ChannelKind(parts[0])
    except ValueError:
        raise ChannelError(
            f"unknown channel {json_text(name)}: the channels are tickers, book:SYMBOL, trades:SYMBOL, "
            "candles:SYMBOL:INTERVAL, orders, balances, history"
        ) from None
    if kind in (ChannelKind.TICKERS, *PRIVATE_KINDS):
        if len(parts) != 1:
            raise ChannelError(f"channel {json_text(kind.value)} takes no market")
        return Channel(name, kind)
    if kind is ChannelKind.CANDLES:
        if len(parts) != 3 or not _SYMBOL_RE.match(parts[1]) or parts[2] not in INTERVAL_MS:
            raise ChannelError(
                f"expected candles:SYMBOL:INTERVAL (1m 5m 15m 1h 4h 1d), got {json_text(name)}"
            )
        return Channel(name, kind, parts[1], parts[2])
    if len(parts) != 2 or not _SYMBOL_RE.match(parts[1]):
        raise ChannelError(f"expected {kind.value}:SYMBOL, got {json_text(name)}")
    return Channel(name, kind, parts[1])


class BookTopic(Topic):
    """Engine `book:{SYM}` -> update frames carrying `first_seq`/`seq` (sessions add the snapshot and the
    seq filter)."""

    def __init__(self, channel: Channel, markets: MarketCache, coalesce_s: float = 0.0) -> None:
        super().__init__(channel.name)
        self.redis_channel = f"book:{channel.symbol}"
        self.channel = channel
        self.markets = markets
        self.coalesce_s = coalesce_s
        self._first = 0
        self._last = 0
        self._bids: dict[str, str] = {}
        self._asks: dict[str, str] = {}

    async def convert(self, payload: bytes) -> list[Delivery]:
        await self.absorb(payload)
        delivery = self.drain()
        return [delivery] if delivery is not None else []

    async def absorb(self, payload: bytes) -> None:
        msg = json.loads(payload)
        market = await self.markets.require(self.channel.symbol)
        seq = int(msg["seq"])
        if self._last and seq != self._last + 1:
            self.flush_now()  # never merge across a gap (or a replay): sessions must see it
        if not self._last:
            self._first = seq
        self._last = seq
        for price, qty in levels_out(msg.get("bids") or [], market):
            self._bids[price] = qty
        for price, qty in levels_out(msg.get("asks") or [], market):
            self._asks[price] = qty

    def drain(self) -> Delivery | None:
        if not self._last:
            return None
        frame = {
            "channel": self.name,
            "type": "update",
            "first_seq": self._first,
            "seq": self._last,
            "bids": [[p, q] for p, q in self._bids.items()],
            "asks": [[p, q] for p, q in self._asks.items()],
        }
        first, last = self._first, self._last
        self._first = self._last = 0
        self._bids, self._asks = {}, {}
        return Delivery(dumps(frame), last, first_seq=first, data=frame)

    async def snapshot(self, engine: Any, depth: int) -> tuple[int, str]:
        """The engine's atomic book as a snapshot frame: (seq, text)."""
        market = await self.markets.require(self.channel.symbol)
        book = await engine.book(self.channel.symbol, depth)
        seq = int(book["seq"])
        frame = {
            "channel": self.name,
            "type": "snapshot",
            "seq": seq,
            "bids": levels_out(book.get("bids") or [], market),
            "asks": levels_out(book.get("asks") or [], market),
        }
        return seq, dumps(frame)


class TradesTopic(Topic):
    def __init__(self, channel: Channel, markets: MarketCache, coalesce_s: float = 0.0) -> None:
        super().__init__(channel.name)
        self.redis_channel = f"trades:{channel.symbol}"
        self.channel = channel
        self.markets = markets
        self.coalesce_s = coalesce_s
        self._trades: list[dict[str, Any]] = []

    async def convert(self, payload: bytes) -> list[Delivery]:
        await self.absorb(payload)
        delivery = self.drain()
        return [delivery] if delivery is not None else []

    async def absorb(self, payload: bytes) -> None:
        market = await self.markets.require(self.channel.symbol)
        self._trades.extend(trade_out(parse_trade(t), market) for t in json.loads(payload))

    def drain(self) -> Delivery | None:
        if not self._trades:
            return None
        trades, self._trades = self._trades, []
        return Delivery(dumps({"channel": self.name, "data": trades}))


PERSISTED_BAR_TIMEOUT_S = 2.0  # the candles topic's wait for its bar from PostgreSQL


class CandlesTopic(Topic):
    """The live bar of one market and interval, built from the engine's trade messages.

    `prepare` loads the current bucket from PostgreSQL plus the not yet persisted Redis trades; trade
    messages that arrive meanwhile are buffered and folded in afterwards (deduplicated by trade id).
    """

    def __init__(
        self, channel: Channel, markets: MarketCache, data: MarketData, coalesce_s: float = 0.0
    ) -> None:
        super().__init__(channel.name)
        self.redis_channel = f"trades:{channel.symbol}"
        self.channel = channel
        self.markets = markets
        self.data = data
        self.coalesce_s = coalesce_s
        self.bucket_ms = INTERVAL_MS[channel.interval]
        self.bar: Bar | None = None
        self.last_id = 0
        self._pending: list[dict[str, Any]] | None = []
        self._changed = False
        self._market: Market | None = None

    async def prepare(self) -> None:
        now = self.data.clock()
        t = (now // self.bucket_ms) * self.bucket_ms
        bar: Bar | None = None
        # PostgreSQL away, or too slow to answer: the bar starts from the Redis trades. Bounded, because every
        # subscriber of this topic (the hub creates a topic once per name) waits for this read
        with contextlib.suppress(*DB_ERRORS, TimeoutError):
            bar = await asyncio.wait_for(self._persisted_bar(t), PERSISTED_BAR_TIMEOUT_S)
        self.bar = bar
        self.last_id = bar.last_id if bar else 0
        recent = (await self.data.redis_trades([self.channel.symbol]))[self.channel.symbol]
        pending, self._pending = self._pending or [], None
        for trade in sorted([*recent, *pending], key=lambda x: int(x["id"])):
            self._apply(trade, current_bucket=t)

    async def _persisted_bar(self, t: int) -> Bar | None:
        bar = None
        if self.data.pool is not None:
            async with self.data.pool.connection() as conn:
                cur = await conn.execute(
                    "SELECT min(trade_id), max(trade_id), "
                    "(array_agg(price_ticks ORDER BY trade_id))[1], max(price_ticks), min(price_ticks), "
                    "(array_agg(price_ticks ORDER BY trade_id DESC))[1], sum(qty_lots) "
                    "FROM trades WHERE symbol = %s AND ts_ms >= %s AND ts_ms < %s",
                    (self.channel.symbol, t, t + self.bucket_ms),
                )
                row = await cur.fetchone()
            if row is not None and row[0] is not None:
                first_id, last_id, o, h, low, c, v = (int(x) for x in row)
                bar = Bar(t, o, h, low, c, v, 0, first_id, last_id)
        return bar

    def _apply(self, trade: dict[str, Any], current_bucket: int | None = None) -> bool:
        tid, ts = int(trade["id"]), int(trade["ts"])
        if tid <= self.last_id:
            return False
        t = (ts // self.bucket_ms) * self.bucket_ms
        if current_bucket is not None and t < current_bucket:
            return False  # older history comes from REST
        price, qty = int(trade["price"]), int(trade["qty"])
        if self.bar is None or t > self.bar.t:
            self.bar = Bar.first(t, tid, price, qty)
        elif t == self.bar.t:
            self.bar.add(tid, price, qty)
        else:
            return False  # a late trade of a closed bar: the chart's history comes from REST
        self.last_id = tid
        return True

    async def convert(self, payload: bytes) -> list[Delivery]:
        await self.absorb(payload)
        delivery = self.drain()
        return [delivery] if delivery is not None else []

    async def absorb(self, payload: bytes) -> None:
        trades = [parse_trade(t) for t in json.loads(payload)]
        if self._pending is not None:
            self._pending.extend(trades)
            return
        self._market = await self.markets.require(self.channel.symbol)
        for trade in sorted(trades, key=lambda x: int(x["id"])):
            self._changed = self._apply(trade) or self._changed

    def drain(self) -> Delivery | None:
        if not self._changed or self.bar is None or self._market is None:
            return None
        self._changed = False
        return Delivery(dumps({"channel": self.name, "data": self.bar.out(self._market)}))

    async def frame(self) -> str | None:
        if self.bar is None:
            return None
        market = await self.markets.require(self.channel.symbol)
        return dumps({"channel": self.name, "data": self.bar.out(market)})

    async def initial(self) -> Delivery | None:
        frame = await self.frame()
        return Delivery(frame) if frame else None


class OrdersTopic(Topic):
    """Engine `orders:{account}` -> the account's `orders` channel (API order objects)."""

    def __init__(self, account: int, markets: MarketCache) -> None:
        super().__init__(f"orders:{account}")
        self.redis_channel = f"orders:{account}"
        self.markets = markets

    async def convert(self, payload: bytes) -> list[Delivery]:
        out = []
        for order in parse_order_lines(payload):  # "{id} {record}" lines (lua/lib/03_order.lua)
            market = await self.markets.require(str(order["symbol"]))
            out.append(order_out(order, market))
        return [Delivery(dumps({"channel": "orders", "data": out}))]


class BalancesTopic(Topic):
    """Engine `balances:{account}` -> the account's `balances` channel (decimal strings)."""

    def __init__(self, account: int, markets: MarketCache) -> None:
        super().__init__(f"balances:{account}")
        self.redis_channel = f"balances:{account}"
        self.markets = markets

    async def convert(self, payload: bytes) -> list[Delivery]:
        out = []
        for item in json.loads(payload):
            asset = str(item["asset"])
            decimals = await self.markets.asset_decimals(asset)
            if decimals is None:
                continue
            out.append(balance_out(asset, int(item["available"]), int(item["held"]), decimals))
        return [Delivery(dumps({"channel": "balances", "data": out}))]


class HistoryTopic(Topic):
    """Workers' `persisted:{account}` -> the account's `history` channel: which orders' changes PostgreSQL
    now holds (a view of the order history, fills or positions reloads on it instead of polling)."""

    def __init__(self, account: int) -> None:
        super().__init__(f"history:{account}")
        self.redis_channel = f"persisted:{account}"

    async def convert(self, payload: bytes) -> list[Delivery]:
        notice = json.loads(payload)
        data: dict[str, Any] = {"orders": [int(i) for i in notice["orders"]]}
        if notice.get("more"):
            data["more"] = True  # more orders than the notice names (a catch-up): reload
        return [Delivery(dumps({"channel": "history", "data": data}))]


class TickersTopic(Topic):
    """Every market's ticker, pushed about once a second when something changed (no Redis channel)."""

    def __init__(self, data: MarketData, interval_s: float = 1.0) -> None:
        super().__init__("tickers")
        self.data = data
        self.interval_s = interval_s
        self.last_text: str | None = None

    async def current(self) -> str:
        return dumps({"channel": "tickers", "data": await self.data.tickers()})

    async def initial(self) -> Delivery | None:
        text = await self.current()
        self.last_text = self.last_text or text
        return Delivery(text)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                text = await self.current()
            except Exception:  # PostgreSQL or Redis hiccup: keep the last state, try again next tick
                continue
            if text != self.last_text:
                self.last_text = text
                self.publish(Delivery(text))
