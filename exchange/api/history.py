"""Order history, fills and positions: `GET /api/orders`, `/api/orders/export.csv`, `/api/fills`,
`/api/positions` (persistence helper; registered by `exchange.api.app._optional_parts`).

Where the data comes from:
- `status=open`: the engine's live open orders in Redis (always current).
- `status=closed|all`: PostgreSQL `orders` (written by the persistence workers, normally < 1 s behind; the
  lag is in `/metrics`), with each row PostgreSQL still shows open refreshed from Redis, so a fill or
  cancel that is not persisted yet still shows. An order placed in the last moment may appear in the
  `all` listing only once persisted (it is in `status=open` at once).
- fills and positions: PostgreSQL `fills`; the last price for unrealized PnL from the engine's recent
  trades in Redis.

Pagination is keyset: `next_cursor` is an opaque string (base64 JSON of the last row's sort key and id)
valid for the same `sort`/`order`; `null` on the last page. Every amount is a decimal string. Walking
every page of `status=open` costs each order record once with `sort=id` (see "open orders" below).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import bisect
import csv
import heapq
import io
import json
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext
from enum import StrEnum
from fractions import Fraction
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get
from litestar.di import NamedDependency, Provide
from litestar.params import QueryParameter
from litestar.response import Stream

from exchange.api.auth import provide_account_id
from exchange.api.context import limit_read, services
from exchange.api.convert import OPEN_STATUSES, Market, decimal_str, order_out
from exchange.api.errors import ApiError, ErrorCode
from exchange.api.openapi import errors
from exchange.api.schemas import SIDE_PATTERN, SYMBOL_PATTERN, Order
from exchange.engine import codec

MAX_LIMIT = 500
EXPORT_PAGE = 1000


class StatusFilter(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    ALL = "all"


class SortKey(StrEnum):
    ID = "id"
    CREATED_AT = "created_at"
    UPDATED_AT = "updated_at"
    PRICE = "price"
    QTY = "qty"
    STATUS = "status"


class SortOrder(StrEnum):
    ASC = "asc"
    DESC = "desc"


# sort key -> (PostgreSQL column, engine order-object field)
_SORT_COLUMNS: dict[SortKey, tuple[str, str]] = {
    SortKey.ID: ("order_id", "id"),
    SortKey.CREATED_AT: ("created_ms", "created_ms"),
    SortKey.UPDATED_AT: ("updated_ms", "updated_ms"),
    SortKey.PRICE: ("price_ticks", "price"),
    SortKey.QTY: ("qty_lots", "qty"),
    SortKey.STATUS: ("status", "status"),
}

ORDER_SELECT = (
    "order_id, account, symbol, side, type, tif, price_ticks, qty_lots, quote_qty_minor, filled_lots, "
    "quote_filled_minor, status, reason, post_only, stp, client_order_id, created_ms, updated_ms"
)

SymbolQuery = Annotated[
    str | None,
    QueryParameter(pattern=SYMBOL_PATTERN, max_length=31, required=False),
]
SideQuery = Annotated[str | None, QueryParameter(pattern=SIDE_PATTERN, required=False)]
LimitQuery = Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT, description="page size")]
CursorQuery = Annotated[
    str | None, QueryParameter(max_length=512, required=False, description="next_cursor of a page")
]


StatusQuery = Annotated[StatusFilter, QueryParameter(description="open (live), closed or all")]
SortQuery = Annotated[
    SortKey, QueryParameter(description="sort key (id: the cheapest walk through every open order)")
]
OrderQuery = Annotated[SortOrder, QueryParameter(description="asc or desc")]


class OrderPage(msgspec.Struct):
    items: list[Order]
    next_cursor: str | None


class HistoryFill(msgspec.Struct):
    """One fill of one of your orders (`ts` in epoch milliseconds)."""

    trade_id: int
    order_id: int
    symbol: str
    side: str
    price: str
    qty: str
    quote_qty: str
    fee: str
    fee_asset: str
    liquidity: str
    ts: int


class FillPage(msgspec.Struct):
    items: list[HistoryFill]
    next_cursor: str | None


class Position(msgspec.Struct):
    """Net position of one market from your fills (average-cost method; PnL in the quote asset)."""

    symbol: str
    base: str
    quote: str
    position: str
    avg_entry_price: str | None
    last_price: str | None
    realized_pnl: str
    unrealized_pnl: str
    fees: str
    buy_qty: str
    sell_qty: str


# --- cursors ----------------------------------------------------------------------------------------------
def encode_cursor(payload: Mapping[str, Any]) -> str:
    raw = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _bigint(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and -(2**63) <= value < 2**63


def decode_cursor(cursor: str, expect: Mapping[str, Any], value_type: type) -> dict[str, Any]:
    """The cursor's payload; `VALIDATION_ERROR` when malformed, made for another sort/order or other filters,
    or holding values of the wrong type or range for it (a cursor is client input: it goes into a query)."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        raise ApiError(ErrorCode.VALIDATION_ERROR, "cursor is not a next_cursor value") from None
    if not isinstance(payload, dict) or any(payload.get(k) != v for k, v in expect.items()):
        raise ApiError(
            ErrorCode.VALIDATION_ERROR, "cursor does not belong to this query (sort, order and filters)"
        )
    value = payload.get("v")
    fits = (
        _bigint(value)
        if value_type is int
        else isinstance(value, str) and len(value) <= 32 and value.isascii() and value.isprintable()
    )
    if not _bigint(payload.get("id")) or not fits:
        raise ApiError(ErrorCode.VALIDATION_ERROR, "cursor is not a next_cursor value")
    return payload


def export_name(symbol: str | None, side: str | None, status: StatusFilter) -> str:
    """The CSV export's file name, naming what it holds: orders.csv, orders-BTC-USDT.csv,
    orders-BTC-USDT-buy-open.csv (a symbol is [A-Z0-9-] by its pattern, so the name needs no quoting)."""
    parts = ["orders", symbol or "", side or "", "" if status == StatusFilter.ALL else status.value]
    return "-".join(p for p in parts if p) + ".csv"


# --- orders -----------------------------------------------------------------------------------------------
def row_to_order(row: Mapping[str, Any]) -> dict[str, Any]:
    """A PostgreSQL `orders` row -> the engine order object (what `order_out` takes)."""
    return {
        "id": int(row["order_id"]),
        "account": int(row["account"]),
        "symbol": row["symbol"],
        "side": row["side"],
        "type": row["type"],
        "tif": row["tif"],
        "price": int(row["price_ticks"]),
        "qty": int(row["qty_lots"]),
        "quote_qty": int(row["quote_qty_minor"]),
        "filled": int(row["filled_lots"]),
        "quote_filled": int(row["quote_filled_minor"]),
        "status": row["status"],
        "reason": row["reason"] or "",
        "post_only": 1 if row["post_only"] else 0,
        "stp": row["stp"],
        "client_order_id": row["client_order_id"] or "",
        "created_ms": int(row["created_ms"]),
        "updated_ms": int(row["updated_ms"]),
    }


def _sort_value(order: Mapping[str, Any], sort: SortKey) -> int | str:
    value = order[_SORT_COLUMNS[sort][1]]
    return str(value) if sort == SortKey.STATUS else int(value)


async def _pg_orders(
    pool: Any,
    account: int,
    *,
    symbol: str | None,
    side: str | None,
    status: StatusFilter,
    sort: SortKey,
    order: SortOrder,
    limit: int,
    after: dict[str, Any] | None,
) -> list[dict[str, Any]]:
    column = _SORT_COLUMNS[sort][0]
    where = ["account = %s"]
    params: list[Any] = [account]
    if symbol:
        where.append("symbol = %s")
        params.append(symbol)
    if side:
        where.append("side = %s")
        params.append(side)
    if status == StatusFilter.CLOSED:
        where.append("status NOT IN ('open', 'partially_filled')")
    elif status == StatusFilter.OPEN:
        where.append("status IN ('open', 'partially_filled')")
    direction = "DESC" if order == SortOrder.DESC else "ASC"
    if after is not None:
        where.append(f"({column}, order_id) {'<' if order == SortOrder.DESC else '>'} (%s, %s)")
        params += [after["v"], after["id"]]
    query = (
        f"SELECT {ORDER_SELECT} FROM orders WHERE {' AND '.join(where)}"
        f" ORDER BY {column} {direction}, order_id {direction} LIMIT %s"
    )
    params.append(limit)
    async with pool.connection() as conn, conn.cursor() as cur:
        await cur.execute(query.encode(), params)
        names = [d.name for d in cur.description]
        return [row_to_order(dict(zip(names, r, strict=True))) for r in await cur.fetchall()]


async def _refresh_open(engine: Any, orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Replace rows PostgreSQL still shows open with the engine's current state (fresher)."""
    stale = [i for i, o in enumerate(orders) if o["status"] in OPEN_STATUSES]
    lives = await asyncio.gather(*(engine.get_order(int(orders[i]["id"])) for i in stale))
    out = list(orders)
    for i, live in zip(stale, lives, strict=True):
        if live is not None and int(live.get("account", -1)) == int(orders[i]["account"]):
            out[i] = dict(live)
    return out


# --- open orders (engine) ---------------------------------------------------------------------------------
# A page of `status=open` reads the account's order ids (`open:{account}`), then records:
# - sort=id: only the records of the ids that can be on the page (`_open_page_by_id`), so walking every
#   page costs each record once (what the terminal does: frontend/src/components/Account.tsx);
# - any other sort: every record once per page (its value is not known from the id: created_ms is the
#   caller's clock, updated_ms, status and the rest change), splitting the text for the sort value and
#   parsing only the page's orders (`_open_page_all`).
_RECORD_AT = {name: i for i, name in enumerate(codec.RECORD_FIELDS)}
_CREATED_AT, _SYMBOL_AT, _SIDE_AT = (_RECORD_AT[n] for n in ("created_ms", "symbol", "side"))


def _record_sort_value(values: list[str], order_id: int, sort: SortKey) -> int | str:
    """`_sort_value` of an order from its split `order:{id}` record, without making the order object."""
    if sort == SortKey.ID:
        return order_id
    name = _SORT_COLUMNS[sort][1]
    text = values[_RECORD_AT[name]]
    if sort == SortKey.STATUS:
        return text
    if text == "":  # the field's default (codec.ORDER_DEFAULTS); updated_ms: unchanged since created
        return int(values[_CREATED_AT]) if name == "updated_ms" else int(codec.ORDER_DEFAULTS[name])
    return int(text)


def _wanted(order: Mapping[str, Any], symbol: str | None, side: str | None) -> bool:
    return (symbol is None or order["symbol"] == symbol) and (side is None or order["side"] == side)


def _beyond(key: tuple[Any, int], mark: tuple[Any, int] | None, desc: bool) -> bool:
    """Whether a row with (sort value, id) `key` comes after the cursor's `mark` (always without one)."""
    return mark is None or (key < mark if desc else key > mark)


async def _open_page_all(
    engine: Any,
    ids: list[int],
    *,
    symbol: str | None,
    side: str | None,
    sort: SortKey,
    desc: bool,
    count: int,
    after: dict[str, Any] | None,
) -> list[dict[str, Any]]:
    """Up to `count` open orders after the cursor, in (sort value, id) order, from every record."""
    mark = (after["v"], after["id"]) if after is not None else None
    rows: list[tuple[tuple[Any, int], str]] = []
    for order_id, text in zip(ids, await engine.order_records(ids), strict=True):
        values = codec.record_values(order_id, text)
        if values is None:
            continue
        if (symbol is not None and values[_SYMBOL_AT] != symbol) or (
            side is not None and values[_SIDE_AT] != side
        ):
            continue
        key = (_record_sort_value(values, order_id, sort), order_id)
        if _beyond(key, mark, desc):
            rows.append((key, text))
    pick = heapq.nlargest if desc else heapq.nsmallest
    page = [codec.parse_order_record(key[1], text) for key, text in pick(count, rows, key=lambda r: r[0])]
    return [o for o in page if o is not None]


async def _open_page_by_id(
    engine: Any,
    ids: list[int],
    *,
    symbol: str | None,
    side: str | None,
    desc: bool,
    count: int,
    after: dict[str, Any] | None,
) -> list[dict[str, Any]]:
    """Up to `count` open orders after the cursor in id order, reading the records of the next ids in
    chunks until the page is full (one chunk without a symbol or side filter)."""
    if after is not None:
        cut = bisect.bisect_left(ids, after["id"]) if desc else bisect.bisect_right(ids, after["id"])
        ids = ids[:cut] if desc else ids[cut:]
    if desc:
        ids = ids[::-1]
    page: list[dict[str, Any]] = []
    done, size = 0, count
    while done < len(ids) and len(page) < count:
        chunk = ids[done : done + size]
        for order_id, text in zip(chunk, await engine.order_records(chunk), strict=True):
            o = codec.parse_order_record(order_id, text)
            if o is not None and _wanted(o, symbol, side):
                page.append(o)
        done, size = done + len(chunk), 2 * size
    return page[:count]


async def _open_page(
    engine: Any,
    account: int,
    *,
    symbol: str | None,
    side: str | None,
    sort: SortKey,
    order: SortOrder,
    count: int,
    after: dict[str, Any] | None,
) -> list[dict[str, Any]]:
    """Up to `count` of the engine's open orders after the cursor."""
    ids = await engine.open_order_ids(account)
    desc = order == SortOrder.DESC
    if sort == SortKey.ID:
        return await _open_page_by_id(
            engine, ids, symbol=symbol, side=side, desc=desc, count=count, after=after
        )
    return await _open_page_all(
        engine, ids, symbol=symbol, side=side, sort=sort, desc=desc, count=count, after=after
    )


async def list_orders(
    request: Request[Any, Any, Any],
    account: int,
    *,
    symbol: str | None,
    side: str | None,
    status: StatusFilter,
    sort: SortKey,
    order: SortOrder,
    limit: int,
    cursor: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    """(engine order objects, next cursor) for one page."""
    svc = services(request)
    # a cursor pages the query it came from: another sort, order or filter is refused, not reinterpreted
    expect = {
        "s": sort.value,
        "o": order.value,
        "k": "orders",
        "f": f"{symbol or ''}|{side or ''}|{status.value}",
    }
    after = decode_cursor(cursor, expect, str if sort == SortKey.STATUS else int) if cursor else None
    if symbol is not None:
        await svc.markets.require(symbol)
    if status == StatusFilter.OPEN:
        page = await _open_page(
            svc.engine, account, symbol=symbol, side=side, sort=sort, order=order, count=limit + 1,
            after=after,
        )  # fmt: skip
    else:
        pool = svc.require_pool()
        page = await _pg_orders(
            pool, account, symbol=symbol, side=side, status=status, sort=sort, order=order,
            limit=limit + 1, after=after,
        )  # fmt: skip
    next_cursor = None
    if len(page) > limit:
        page = page[:limit]
        # the position PostgreSQL paged by: taken before the refresh below, which may change the sort value
        # (updated_at, status) of an order the worker has not persisted yet
        last = page[-1]
        next_cursor = encode_cursor({**expect, "v": _sort_value(last, sort), "id": int(last["id"])})
    if status != StatusFilter.OPEN:
        page = await _refresh_open(svc.engine, page)
    return page, next_cursor


async def _convert(request: Request[Any, Any, Any], orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
    markets = services(request).markets
    out = []
    for o in orders:
        market = await markets.get(str(o["symbol"]))
        if market is not None:
            out.append(order_out(o, market))
    return out


CSV_COLUMNS = (
    "id", "client_order_id", "symbol", "side", "type", "price", "qty", "quote_qty", "filled_qty",
    "remaining_qty", "quote_filled", "avg_price", "status", "reason", "time_in_force", "post_only", "stp",
    "created_at", "updated_at", "created_time", "updated_time",
)  # fmt: skip
# the two ms timestamps again as ISO 8601 UTC text, which a spreadsheet reads as a date
_CSV_TIMES = {"created_time": "created_at", "updated_time": "updated_at"}


def _iso_utc(ms: int) -> str:
    """`1795685994010` -> `"2026-11-26T09:39:54.010Z"`."""
    t = datetime.fromtimestamp(ms // 1000, tz=UTC)
    return f"{t:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"


def _csv_values(item: dict[str, Any]) -> list[Any]:
    return [_iso_utc(int(item[_CSV_TIMES[c]])) if c in _CSV_TIMES else item[c] for c in CSV_COLUMNS]


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: Any) -> Any:
    """None as empty, booleans as in the JSON API, and text a spreadsheet would run as a formula (OWASP
    "CSV injection": a cell starting with = + - @ tab or CR) behind a leading apostrophe. Only a
    client_order_id can start so: every number exported is non-negative."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _csv_line(values: list[Any]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow([_csv_cell(v) for v in values])
    return buf.getvalue()


# --- fills and positions ----------------------------------------------------------------------------------
async def load_order_fills(
    pool: Any, account_id: NamedDependency[int], order_id: int
) -> list[dict[str, Any]]:
    """The persisted fills of one of the account's orders (PostgreSQL `fills` rows, oldest first)."""
    async with pool.connection() as conn, conn.cursor() as cur:
        await cur.execute(
            "SELECT trade_id, order_id, symbol, side, price_ticks, qty_lots, notional_minor, fee_minor,"
            " fee_asset, liquidity, ts_ms FROM fills WHERE account = %s AND order_id = %s ORDER BY trade_id",
            (account_id, order_id),
        )
        names = [d.name for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in await cur.fetchall()]


def fill_row_out(row: Mapping[str, Any], market: Market) -> HistoryFill:
    return HistoryFill(
        trade_id=int(row["trade_id"]),
        order_id=int(row["order_id"]),
        symbol=str(row["symbol"]),
        side=str(row["side"]),
        price=market.price_out(int(row["price_ticks"])),
        qty=market.qty_out(int(row["qty_lots"])),
        quote_qty=market.quote_out(int(row["notional_minor"])),
        fee=market.quote_out(int(row["fee_minor"])),
        fee_asset=str(row["fee_asset"]),
        liquidity=str(row["liquidity"]),
        ts=int(row["ts_ms"]),
    )


class PositionCalc:
    """Average-cost position of one market, exact (Fractions of quote minor units per lot).

    A fill in the position's direction (or from flat) moves the average entry price; a fill against it
    realizes `closed_lots * (fill price - average)` (sign of the position) and, when it flips the position,
    opens the rest at the fill price. Fees (always quote) are subtracted from realized PnL.
    """

    def __init__(self, num: int, den: int) -> None:
        self.lot_value = Fraction(num, den)  # quote minor per (tick x lot)
        self.position = 0  # lots, signed
        self.avg = Fraction(0)  # quote minor per lot
        self.realized = Fraction(0)
        self.fees = 0
        self.bought = 0
        self.sold = 0

    def add(self, side: str, price_ticks: int, qty_lots: int, fee_minor: int) -> None:
        per_lot = price_ticks * self.lot_value
        q = qty_lots if side == "buy" else -qty_lots
        if side == "buy":
            self.bought += qty_lots
        else:
            self.sold += qty_lots
        self.fees += fee_minor
        self.realized -= fee_minor
        pos = self.position
        if pos == 0 or (pos > 0) == (q > 0):
            total = self.avg * abs(pos) + per_lot * abs(q)
            self.position = pos + q
            self.avg = total / abs(self.position)
            return
        closing = min(abs(q), abs(pos))
        self.realized += closing * (per_lot - self.avg) * (1 if pos > 0 else -1)
        self.position = pos + q
        if self.position == 0:
            self.avg = Fraction(0)
        elif (self.position > 0) != (pos > 0):
            self.avg = per_lot

    def unrealized(self, last_price_ticks: int | None) -> Fraction:
        if last_price_ticks is None or self.position == 0:
            return Fraction(0)
        return (last_price_ticks * self.lot_value - self.avg) * self.position


def _quote_str(value: Fraction, market: Market) -> str:
    with localcontext(Context(prec=60)):
        amount = (Decimal(value.numerator) / Decimal(value.denominator)).scaleb(-market.quote_decimals)
        return decimal_str(amount.quantize(Decimal(1).scaleb(-market.quote_decimals), ROUND_HALF_EVEN))


def _price_str(per_lot: Fraction, market: Market) -> str:
    ticks = per_lot * Fraction(market.den, market.num)
    with localcontext(Context(prec=60)):
        price = Decimal(ticks.numerator) / Decimal(ticks.denominator) * market.tick_size
        exponent = min(int(market.tick_size.normalize().as_tuple().exponent), 0)
        return decimal_str(price.quantize(Decimal(1).scaleb(exponent - 4), ROUND_HALF_EVEN))


def position_out(calc: PositionCalc, market: Market, last_price_ticks: int | None) -> Position:
    return Position(
        symbol=market.symbol,
        base=market.base,
        quote=market.quote,
        position=("-" if calc.position < 0 else "") + market.qty_out(abs(calc.position)),
        avg_entry_price=_price_str(calc.avg, market) if calc.position else None,
        last_price=market.price_out(last_price_ticks) if last_price_ticks is not None else None,
        realized_pnl=_quote_str(calc.realized, market),
        unrealized_pnl=_quote_str(calc.unrealized(last_price_ticks), market),
        fees=market.quote_out(calc.fees),
        buy_qty=market.qty_out(calc.bought),
        sell_qty=market.qty_out(calc.sold),
    )


async def _last_price(request: Request[Any, Any, Any], symbol: str) -> int | None:
    svc = services(request)
    trades = await svc.engine.recent_trades(symbol, 1)
    if trades:
        return int(trades[0]["price"])
    pool = svc.pool
    if pool is None:
        return None
    async with pool.connection() as conn, conn.cursor() as cur:
        await cur.execute("SELECT price_ticks FROM trades WHERE symbol = %s ORDER BY trade_id DESC LIMIT 1",
                          (symbol,))  # fmt: skip
        row = await cur.fetchone()
    return int(row[0]) if row else None


class HistoryController(Controller):
    path = "/api"
    tags = ["history"]
    dependencies = {"account_id": Provide(provide_account_id)}
    security = [{"bearer": []}]

    @get("/orders", operation_id="listOrders", responses=errors(401, 404, 429, 503))
    async def orders(
        self,
        request: Request[Any, Any, Any],
        account_id: NamedDependency[int],
        symbol: SymbolQuery = None,
        side: SideQuery = None,
        status: StatusQuery = StatusFilter.ALL,
        sort: SortQuery = SortKey.CREATED_AT,
        order: OrderQuery = SortOrder.DESC,
        limit: LimitQuery = 100,
        cursor: CursorQuery = None,
    ) -> OrderPage:
        """Your orders, filterable, sortable and paginated (`status=open` is live from the engine;
        `closed`/`all` come from the history database)."""
        await limit_read(request, account_id)
        page, next_cursor = await list_orders(
            request, account_id, symbol=symbol, side=side, status=status, sort=sort, order=order,
            limit=limit, cursor=cursor,
        )  # fmt: skip
        items = msgspec.convert(await _convert(request, page), list[Order])
        return OrderPage(items=items, next_cursor=next_cursor)

    @get(
        "/orders/export.csv",
        operation_id="exportOrdersCsv",
        responses=errors(401, 404, 429, 503),
        media_type="text/csv",
    )
    async def export_csv(
        self,
        request: Request[Any, Any, Any],
        account_id: NamedDependency[int],
        symbol: SymbolQuery = None,
        side: SideQuery = None,
        status: StatusQuery = StatusFilter.ALL,
        sort: SortQuery = SortKey.CREATED_AT,
        order: OrderQuery = SortOrder.DESC,
    ) -> Stream:
        """Every order matching the filters as CSV (streamed page by page; decimal strings, ms timestamps)."""
        await limit_read(request, account_id)
        if symbol is not None:
            await services(request).markets.require(symbol)
        if status != StatusFilter.OPEN:
            services(request).require_pool()

        async def rows() -> AsyncIterator[str]:
            yield _csv_line(list(CSV_COLUMNS))
            cursor: str | None = None
            while True:
                page, cursor = await list_orders(
                    request, account_id, symbol=symbol, side=side, status=status, sort=sort, order=order,
                    limit=EXPORT_PAGE, cursor=cursor,
                )  # fmt: skip
                for item in await _convert(request, page):
                    yield _csv_line(_csv_values(item))
                if cursor is None:
                    return

        return Stream(
            rows(),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{export_name(symbol, side, status)}"'},
        )

    @get("/fills", operation_id="listFills", responses=errors(401, 404, 429, 503))
    async def fills(
        self,
        request: Request[Any, Any, Any],
        account_id: NamedDependency[int],
        symbol: SymbolQuery = None,
        limit: LimitQuery = 100,
        cursor: CursorQuery = None,
    ) -> FillPage:
        """Your fills, newest first, with fee and liquidity (maker/taker)."""
        await limit_read(request, account_id)
        svc = services(request)
        pool = svc.require_pool()
        if symbol is not None:
            await svc.markets.require(symbol)
        expect = {"k": "fills", "f": symbol or ""}
        after = decode_cursor(cursor, expect, str) if cursor else None
        where: list[str] = ["account = %s"]
        params: list[Any] = [account_id]
        if symbol:
            where.append("symbol = %s")
            params.append(symbol)
        if after is not None:
            where.append("(trade_id, liquidity) < (%s, %s)")
            params += [after["id"], str(after["v"])]
        params.append(limit + 1)
        async with pool.connection() as conn, conn.cursor() as cur:
            await cur.execute(
                (
                    "SELECT trade_id, order_id, symbol, side, price_ticks, qty_lots, notional_minor,"
                    f" fee_minor, fee_asset, liquidity, ts_ms FROM fills WHERE {' AND '.join(where)}"
                    " ORDER BY trade_id DESC, liquidity DESC LIMIT %s"
                ).encode(),
                params,
            )
            names = [d.name for d in cur.description]
            rows = [dict(zip(names, r, strict=True)) for r in await cur.fetchall()]
        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            next_cursor = encode_cursor(
                {**expect, "id": int(rows[-1]["trade_id"]), "v": rows[-1]["liquidity"]}
            )
        items = []
        for r in rows:
            market = await svc.markets.get(str(r["symbol"]))
            if market is not None:
                items.append(fill_row_out(r, market))
        return FillPage(items=items, next_cursor=next_cursor)

    @get("/positions", operation_id="listPositions", responses=errors(401, 429, 503))
    async def positions(
        self, request: Request[Any, Any, Any], account_id: NamedDependency[int]
    ) -> list[Position]:
        """Per market: net position from your fills, average entry price, realized and unrealized PnL
        (at the last trade price), in the market's quote asset."""
        await limit_read(request, account_id)
        svc = services(request)
        pool = svc.require_pool()
        calcs: dict[str, PositionCalc] = {}
        markets: dict[str, Market] = {}
        async with pool.connection() as conn, conn.cursor() as cur:
            await cur.execute(
                "SELECT symbol, side, price_ticks, qty_lots, fee_minor FROM fills WHERE account = %s"
                " ORDER BY symbol, trade_id",
                (account_id,),
            )
            async for symbol, side, price, qty, fee in cur:
                calc = calcs.get(symbol)
                if calc is None:
                    market = await svc.markets.get(symbol)
                    if market is None:
                        continue
                    markets[symbol] = market
                    calc = calcs[symbol] = PositionCalc(market.num, market.den)
                calc.add(side, int(price), int(qty), int(fee))
        return [position_out(calcs[s], markets[s], await _last_price(request, s)) for s in sorted(calcs)]
