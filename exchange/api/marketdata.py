"""Public market data: tickers, recent trades and candles (REST), shared with the WebSocket channels.

Sources:
- last price and the newest trades: Redis `trades:{SYM}` (the engine's list of the last 200 trades,
  newest first), live even before persistence has caught up;
- 24h statistics and candles: PostgreSQL `trades` (filled by the persistence workers), plus the Redis
  trades that are not persisted yet (id above the newest persisted one) for the 24h statistics;
- best bid / ask: the engine's atomic `book(symbol, 1)`.

24h statistics are computed over whole minutes: the window starts at the minute boundary 24h before the
current minute. Per-minute aggregates are cached per process; each refresh re-reads only the last
`RECENT_MINUTES` minutes and the minutes of newly persisted trades (persistence may lag), never the whole
day.

Units: every price / quantity / amount leaves as a decimal string (`exchange.api.convert.Market`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get
from litestar.datastructures import State
from litestar.params import Parameter
from psycopg import Error as PsycopgError
from psycopg_pool import PoolTimeout

from exchange.api.context import limit_read
from exchange.api.convert import Market, MarketCache, decimal_str
from exchange.api.errors import ApiError, ErrorCode
from exchange.api.openapi import errors
from exchange.api.schemas import SYMBOL_PATTERN, json_text

log = logging.getLogger(__name__)

MINUTE_MS = 60_000
DAY_MS = 86_400_000
RECENT_MINUTES = 3
LATE_ID_MARGIN = 10_000
REDIS_TRADES_MAX = 200
TICKER_TTL_S = 1.0
DB_ERRORS = (PsycopgError, PoolTimeout, OSError)


class Interval(StrEnum):
    """Candle intervals (value = query string), bucket length in ms via `INTERVAL_MS`."""

    M1 = "1m"
    M5 = "5m"
    M15 = "15m"
    H1 = "1h"
    H4 = "4h"
    D1 = "1d"


INTERVAL_MS: dict[str, int] = {
    "1m": MINUTE_MS,
    "5m": 5 * MINUTE_MS,
    "15m": 15 * MINUTE_MS,
    "1h": 60 * MINUTE_MS,
    "4h": 240 * MINUTE_MS,
    "1d": DAY_MS,
}


def now_ms() -> int:
    return int(time.time() * 1000)


def parse_trade(raw: str | bytes | Mapping[str, Any]) -> dict[str, int | str]:
    """One engine trade (`{"id","price","qty","side","ts"}` JSON or dict) with integer fields."""
    item = json.loads(raw) if isinstance(raw, str | bytes) else raw
    return {
        "id": int(item["id"]),
        "price": int(item["price"]),
        "qty": int(item["qty"]),
        "side": str(item["side"]),
        "ts": int(item["ts"]),
    }


def trade_out(trade: Mapping[str, Any], market: Market) -> dict[str, Any]:
    """Engine trade (ticks/lots) -> API trade `{id, price, qty, side, ts}` (side = taker side)."""
    return {
        "id": int(trade["id"]),
        "price": market.price_out(trade["price"]),
        "qty": market.qty_out(trade["qty"]),
        "side": str(trade["side"]),
        "ts": int(trade["ts"]),
    }


@dataclass(slots=True)
class Bar:
    """OHLCV in engine units plus the trade id range it covers (`v` in lots, `qv` in quote minor units)."""

    t: int
    o: int
    h: int
    low: int
    c: int
    v: int
    qv: int = 0
    first_id: int = 0
    last_id: int = 0

    def add(self, trade_id: int, price: int, qty: int, notional: int = 0) -> None:
        """Fold in one trade (trades may arrive in any order; o/c follow trade ids)."""
        if trade_id < self.first_id:
            self.o, self.first_id = price, trade_id
        if trade_id > self.last_id:
            self.c, self.last_id = price, trade_id
        self.h = max(self.h, price)
        self.low = min(self.low, price)
        self.v += qty
        self.qv += notional

    def merge(self, other: Bar) -> None:
        """Fold in another bar (of the same or an adjacent bucket)."""
        if other.first_id < self.first_id:
            self.o, self.first_id = other.o, other.first_id
        if other.last_id > self.last_id:
            self.c, self.last_id = other.c, other.last_id
        self.h = max(self.h, other.h)
        self.low = min(self.low, other.low)
        self.v += other.v
        self.qv += other.qv

    @classmethod
    def first(cls, t: int, trade_id: int, price: int, qty: int, notional: int = 0) -> Bar:
        return cls(t, price, price, price, price, qty, notional, trade_id, trade_id)

    def out(self, market: Market) -> dict[str, Any]:
        return {
            "t": self.t,
            "o": market.price_out(self.o),
            "h": market.price_out(self.h),
            "l": market.price_out(self.low),
            "c": market.price_out(self.c),
            "v": market.qty_out(self.v),
        }


_BAR_SQL = """
SELECT {group} AS t, min(trade_id), max(trade_id),
       (array_agg(price_ticks ORDER BY trade_id))[1], max(price_ticks), min(price_ticks),
       (array_agg(price_ticks ORDER BY trade_id DESC))[1], sum(qty_lots), sum(notional_minor)
  FROM trades WHERE {where} GROUP BY {groupby}
"""


def _row_bar(row: tuple[Any, ...]) -> Bar:
    t, first_id, last_id, o, h, low, c, v, qv = row[-9:]
    return Bar(int(t), int(o), int(h), int(low), int(c), int(v), int(qv), int(first_id), int(last_id))


async def candles_from_db(pool: Any, symbol: str, bucket_ms: int, limit: int, end_ms: int) -> list[Bar]:
    """The last `limit` non-empty buckets strictly before `end_ms` (bucket open time < end), ascending.

    Looks at `limit` buckets back first; when gaps leave fewer bars it jumps to the newest older trade
    and continues (a few index lookups, never a scan of the whole history).
    """
    sql = _BAR_SQL.format(
        group="(ts_ms / %(b)s) * %(b)s",
        where="symbol = %(s)s AND ts_ms >= %(lo)s AND ts_ms < %(hi)s",
        groupby="1",
    )
    bars: dict[int, Bar] = {}
    hi = -(-end_ms // bucket_ms) * bucket_ms  # buckets whose open time t < end_ms, each one whole
    async with pool.connection() as conn:
        for _ in range(8):
            want = limit - len(bars)
            if want <= 0:
                break
            lo = hi - want * bucket_ms
            cur = await conn.execute(sql, {"b": bucket_ms, "s": symbol, "lo": lo, "hi": hi})
            for row in await cur.fetchall():
                bar = _row_bar(row)
                bars.setdefault(bar.t, bar)
            cur = await conn.execute(
                "SELECT max(ts_ms) FROM trades WHERE symbol = %s AND ts_ms < %s", (symbol, lo)
            )
            older = (await cur.fetchone() or (None,))[0]
            if older is None:
                break
            hi = (int(older) // bucket_ms + 1) * bucket_ms
    ordered = sorted(bars.values(), key=lambda b: b.t)
    return ordered[-limit:]


async def trades_from_db(pool: Any, symbol: str, before_id: int | None, limit: int) -> list[dict[str, Any]]:
    """Trades of `symbol` with id < before_id (all when None), newest first, engine units."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT trade_id, price_ticks, qty_lots, taker_side, ts_ms FROM trades "
            "WHERE symbol = %s AND trade_id < %s ORDER BY seq DESC LIMIT %s",  # (symbol, seq) index
            (symbol, before_id if before_id is not None else 2**62, limit),
        )
        rows = await cur.fetchall()
    return [{"id": r[0], "price": r[1], "qty": r[2], "side": r[3], "ts": r[4]} for r in rows]


@dataclass(slots=True)
class _MinuteCache:
    """Per-minute bars of every market for the last 24h (+ the current minute)."""

    bars: dict[str, dict[int, Bar]] = field(default_factory=dict)
    loaded_from: int | None = None
    max_id: int = 0  # highest persisted trade id seen at the last refresh


class MarketData:
    """Market data service of one API process (REST controller and WebSocket channels share it)."""

    def __init__(
        self,
        *,
        engine: Any,
        redis: Any,
        pool: Any,
        markets: MarketCache,
        clock: Callable[[], int] = now_ms,
        ticker_ttl_s: float = TICKER_TTL_S,
    ) -> None:
        self.engine = engine
        self.redis = redis  # decoding client (decode_responses=True)
        self.pool = pool
        self.markets = markets
        self.clock = clock
        self.ticker_ttl_s = ticker_ttl_s
        self._minutes = _MinuteCache()
        self._tickers: list[dict[str, Any]] | None = None
        self._tickers_at = 0.0
        self._lock = asyncio.Lock()

    # recent trades -------------------------------------------------------------------------------------
    async def redis_trades_raw(self, symbols: list[str], limit: int = REDIS_TRADES_MAX) -> list[list[str]]:
        """The newest `limit` trades (JSON text) of each symbol from Redis in one round trip, newest first."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for symbol in symbols:
                pipe.lrange(f"trades:{symbol}", 0, limit - 1)
            return list(await pipe.execute())

    async def redis_trades(self, symbols: list[str], limit: int = REDIS_TRADES_MAX) -> dict[str, list[dict]]:
        """The newest `limit` trades of each symbol from Redis (one pipelined round trip), newest first."""
        results = await self.redis_trades_raw(symbols, limit)
        return {sym: [parse_trade(raw) for raw in items] for sym, items in zip(symbols, results, strict=True)}

    async def recent_trades(self, symbol: str, limit: int) -> list[dict[str, Any]]:
        market = await self.markets.require(symbol)
        trades = (await self.redis_trades([symbol], min(limit, REDIS_TRADES_MAX)))[symbol]
        if len(trades) < limit and self.pool is not None:
            before = int(trades[-1]["id"]) if trades else None
            try:
                trades += await trades_from_db(self.pool, symbol, before, limit - len(trades))
            except DB_ERRORS:  # history unavailable: the live trades from Redis are still right
                log.warning("older trades of %s unavailable from PostgreSQL", symbol, exc_info=True)
        return [trade_out(t, market) for t in trades[:limit]]

    # candles ---------------------------------------------------------------------------------------
    async def candles(
        self, symbol: str, interval: str, limit: int, end_ms: int | None
    ) -> list[dict[str, Any]]:
        market = await self.markets.require(symbol)
        bucket = INTERVAL_MS[interval]
        end = end_ms if end_ms is not None else self.clock() + bucket
        if self.pool is None:
            return []
        bars = await candles_from_db(self.pool, symbol, bucket, limit, end)
        return [bar.out(market) for bar in bars]

    # tickers ---------------------------------------------------------------------------------------
    async def tickers(self) -> list[dict[str, Any]]:
        """Every market's ticker; cached for `ticker_ttl_s` (one computation per process per second)."""
        if self._tickers is not None and time.monotonic() - self._tickers_at < self.ticker_ttl_s:
            return self._tickers
        async with self._lock:
            if self._tickers is not None and time.monotonic() - self._tickers_at < self.ticker_ttl_s:
                return self._tickers
            self._tickers = await self._compute_tickers()
            self._tickers_at = time.monotonic()
            return self._tickers

    async def _refresh_minutes(self, now: int) -> None:
        """Update the per-minute bars: the last `RECENT_MINUTES` minutes, plus every minute that received
        trades persisted since the last refresh (persistence may lag; trade ids are global and increase,
        `LATE_ID_MARGIN` covers workers committing out of id order)."""
        if self.pool is None:
            return
        cache = self._minutes
        window_start = (now // MINUTE_MS) * MINUTE_MS - DAY_MS
        sql = _BAR_SQL.format(
            group="symbol, (ts_ms / 60000) * 60000", where="ts_ms >= %(lo)s", groupby="1, 2"
        )
        async with self.pool.connection() as conn:
            cur = await conn.execute("SELECT coalesce(max(trade_id), 0) FROM trades")
            max_id = int((await cur.fetchone() or (0,))[0])
            if cache.loaded_from is None:
                start = window_start
            else:
                start = (now // MINUTE_MS - RECENT_MINUTES) * MINUTE_MS
                cur = await conn.execute(
                    "SELECT min(ts_ms) FROM trades WHERE trade_id > %s",
                    (max(cache.max_id - LATE_ID_MARGIN, 0),),
                )
                late = (await cur.fetchone() or (None,))[0]
                if late is not None:
                    start = min(start, (int(late) // MINUTE_MS) * MINUTE_MS)
                start = max(start, window_start)
            cur = await conn.execute(sql, {"lo": start})
            rows = await cur.fetchall()
        fresh: dict[str, dict[int, Bar]] = {}
        for row in rows:
            fresh.setdefault(str(row[0]), {})[int(row[1])] = _row_bar(row)
        for symbol, minutes in cache.bars.items():  # keep older complete minutes, drop beyond the window
            kept = {t: b for t, b in minutes.items() if window_start <= t < start}
            kept.update(fresh.pop(symbol, {}))
            cache.bars[symbol] = kept
        for symbol, minutes in fresh.items():
            cache.bars[symbol] = minutes
        cache.loaded_from = window_start
        cache.max_id = max_id

    async def _compute_tickers(self) -> list[dict[str, Any]]:
        markets = await self.markets.all()
        symbols = [m.symbol for m in markets]
        now = self.clock()
        try:
            await self._refresh_minutes(now)
        except DB_ERRORS:  # keep serving live prices (and the cached minutes) while PostgreSQL is away
            log.warning("24h statistics: PostgreSQL unavailable, using cached minutes", exc_info=True)
        window_start = (now // MINUTE_MS) * MINUTE_MS - DAY_MS
        recent = await self.redis_trades_raw(symbols)
        books = await asyncio.gather(*(self.engine.book(sym, 1) for sym in symbols), return_exceptions=True)
        out = []
        for market, book, raw_trades in zip(markets, books, recent, strict=True):
            minutes = self._minutes.bars.get(market.symbol, {})
            bars = sorted((b for t, b in minutes.items() if t >= window_start), key=lambda b: b.t)
            day: Bar | None = None
            for bar in bars:
                if day is None:
                    day = Bar(bar.t, bar.o, bar.h, bar.low, bar.c, bar.v, bar.qv, bar.first_id, bar.last_id)
                else:
                    day.merge(bar)
            persisted_max = max((b.last_id for b in minutes.values()), default=0)
            last: int | None = day.c if day else None
            for i, raw in enumerate(raw_trades):  # newest first: stop at the first persisted trade
                trade = parse_trade(raw)
                if i == 0:
                    last = int(trade["price"])
                tid, ts = int(trade["id"]), int(trade["ts"])
                if tid <= persisted_max:
                    break
                if ts < window_start:
                    continue
                notional = int(trade["price"]) * int(trade["qty"]) * market.num // market.den
                if day is None:
                    day = Bar.first(ts, tid, int(trade["price"]), int(trade["qty"]), notional)
                else:
                    day.add(tid, int(trade["price"]), int(trade["qty"]), notional)
            out.append(self._ticker(market, day, last, book))
        return out

    @staticmethod
    def _ticker(market: Market, day: Bar | None, last: int | None, book: Any) -> dict[str, Any]:
        best_bid = best_ask = None
        if isinstance(book, Mapping):
            if book.get("bids"):
                best_bid = market.price_out(book["bids"][0][0])
            if book.get("asks"):
                best_ask = market.price_out(book["asks"][0][0])
        change = None
        if day is not None and last is not None and day.o > 0:
            pct = (Decimal(last - day.o) * 100 / Decimal(day.o)).quantize(Decimal("0.01"), ROUND_HALF_EVEN)
            change = decimal_str(pct) if pct != 0 else "0"
        return {
            "symbol": market.symbol,
            "last": market.price_out(last) if last is not None else None,
            "open_24h": market.price_out(day.o) if day else None,
            "high_24h": market.price_out(day.h) if day else None,
            "low_24h": market.price_out(day.low) if day else None,
            "volume_24h": market.qty_out(day.v) if day else "0",
            "quote_volume_24h": market.quote_out(day.qv) if day else "0",
            "change_24h_pct": change,
            "best_bid": best_bid,
            "best_ask": best_ask,
        }


# --- wiring ------------------------------------------------------------------------------------------


def market_data(state: State) -> MarketData:
    """The process's `MarketData`, created on first use from `app.state.services`
    (`exchange.api.context.Services`: engine, redis, pool, markets, clock)."""
    service = getattr(state, "marketdata", None)
    if isinstance(service, MarketData):
        return service
    svc = getattr(state, "services", None)
    if svc is None or getattr(svc, "engine", None) is None:
        raise ApiError(ErrorCode.NOT_READY, "the engine is not connected yet")
    markets = svc.markets if isinstance(svc.markets, MarketCache) else MarketCache(svc.engine)
    service = MarketData(engine=svc.engine, redis=svc.redis, pool=svc.pool, markets=markets, clock=svc.clock)
    state.marketdata = service
    return service


class Ticker(msgspec.Struct):
    """24h statistics of one market (decimal strings; null where there was no trade)."""

    symbol: str
    last: str | None
    open_24h: str | None
    high_24h: str | None
    low_24h: str | None
    volume_24h: str
    quote_volume_24h: str
    change_24h_pct: str | None
    best_bid: str | None
    best_ask: str | None


class Trade(msgspec.Struct):
    """A public trade; `side` is the taker's side, `ts` integer ms since the epoch."""

    id: int
    price: str
    qty: str
    side: str
    ts: int


class Candle(msgspec.Struct):
    """One OHLCV bar: `t` bucket open time (ms), prices in quote, `v` base volume."""

    t: int
    o: str
    h: str
    l: str  # noqa: E741 - the field name is the API contract
    c: str
    v: str


SymbolPath = Annotated[str, Parameter(max_length=32, description="market symbol, e.g. BTC-USDT")]


class MarketDataController(Controller):
    """`GET /api/tickers`, `/api/markets/{symbol}/trades`, `/api/markets/{symbol}/candles`."""

    path = "/api"
    tags = ["market data"]

    @get("/tickers", operation_id="listTickers", summary="Every market's 24h ticker", responses=errors(404))
    async def tickers(
        self,
        request: Request[Any, Any, State],
        symbol: Annotated[
            str | None,
            Parameter(
                pattern=SYMBOL_PATTERN, max_length=31, description="only this market's (a list of one)"
            ),
        ] = None,
    ) -> list[Ticker]:
        """Every market (or `symbol`'s only): last price, rolling 24h open/high/low/volume/change, best bid
        and ask."""
        rows = await market_data(request.app.state).tickers()
        if symbol is not None:
            rows = [t for t in rows if t["symbol"] == symbol]
            if not rows:
                raise ApiError(ErrorCode.UNKNOWN_MARKET, f"no market {json_text(symbol)}")
        return msgspec.convert(rows, list[Ticker])

    @get(
        "/markets/{symbol:str}/trades",
        operation_id="listMarketTrades",
        summary="Recent trades, newest first",
        responses=errors(404, 429),
    )
    async def trades(
        self,
        request: Request[Any, Any, State],
        symbol: SymbolPath,
        limit: Annotated[int, Parameter(ge=1, le=500, description="how many trades (1..500)")] = 50,
    ) -> list[Trade]:
        """The newest trades of a market (Redis first, older ones from the history database)."""
        await limit_read(request)
        return msgspec.convert(await market_data(request.app.state).recent_trades(symbol, limit), list[Trade])

    @get(
        "/markets/{symbol:str}/candles",
        operation_id="listCandles",
        summary="OHLCV candles, ascending",
        responses=errors(404, 429),
    )
    async def candles(
        self,
        request: Request[Any, Any, State],
        symbol: SymbolPath,
        interval: Annotated[Interval, Parameter(description="bucket length")] = Interval.M1,
        limit: Annotated[int, Parameter(ge=1, le=1000, description="how many candles (1..1000)")] = 500,
        end: Annotated[
            int | None, Parameter(ge=0, le=2**53, description="exclusive upper bound (ms) for scrolling back")
        ] = None,
    ) -> list[Candle]:
        """Candles built from our own trades; `t` is the bucket open time (ms). Empty buckets are omitted;
        pass the first `t` as `end` to scroll back."""
        await limit_read(request)
        rows = await market_data(request.app.state).candles(symbol, interval.value, limit, end)
        return msgspec.convert(rows, list[Candle])
