"""Order entry shared by REST (`exchange.api.orders`) and the WebSocket (`exchange.api.ws`).

Every function takes the engine (`exchange.engine.client.AsyncEngine`), the process's `MarketCache`, the
authenticated account id and the request time in ms, converts decimal strings to engine units, calls the
engine once and converts the result back (`exchange.api.convert.order_out`). Every failure is an `ApiError`
with a stable code (engine codes pass through; `UNKNOWN_ORDER` becomes `ORDER_NOT_FOUND`), so REST turns it
into an error envelope and the WebSocket into an error frame. Rate limiting is the caller's job
(`exchange.api.ratelimit`).
"""

from __future__ import annotations

import importlib
import logging
import re
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from psycopg.errors import UndefinedTable
from redis.exceptions import ResponseError

from exchange.api import metrics
from exchange.api.convert import MAX_SAFE_INT, Market, MarketCache, amount_out, decimal_str, order_out
from exchange.api.errors import ApiError, ErrorCode, from_engine_error
from exchange.api.schemas import OrderCreate
from exchange.vocab import OrderType, TimeInForce

log = logging.getLogger(__name__)

CANCEL_ALL_MAX_ROUNDS = 1000  # each looks at >= 12 of at most 2,000 open orders (engine MAX_OPEN_ORDERS)


def _engine_error_types() -> tuple[type[BaseException], ...]:
    try:
        errors = importlib.import_module("exchange.engine.errors")
    except ImportError:  # pragma: no cover - the engine package is always present in a built tree
        return (ResponseError,)
    return (errors.EngineError, ResponseError)


_ENGINE_ERRORS = _engine_error_types()


def _translate(exc: BaseException) -> ApiError:
    if isinstance(exc, ResponseError):  # a reply the wrapper did not map: "CODE message"
        code, _, message = str(exc).partition(" ")
        return from_engine_error(_Coded(code, message))
    return from_engine_error(exc)  # type: ignore[arg-type]


class _Coded(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


async def engine_call(fn: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any) -> Any:
    """Await an engine method, turning engine errors into `ApiError`."""
    try:
        return await fn(*args, **kwargs)
    except _ENGINE_ERRORS as exc:
        raise _translate(exc) from None


def order_args(body: OrderCreate, market: Market) -> dict[str, Any]:
    """The engine `place` keyword arguments for a validated body (decimal strings -> engine units)."""
    args: dict[str, Any] = {
        "price": market.price_in(body.price) if body.price is not None else 0,
        "qty": market.qty_in(body.qty) if body.qty is not None else 0,
        "quote_qty": market.quote_in(body.quote_qty) if body.quote_qty is not None else 0,
        "post_only": body.post_only,
        "client_order_id": body.client_order_id or "",
    }
    if body.type is OrderType.MARKET:
        if body.time_in_force not in (None, TimeInForce.IOC):
            # the engine runs it as ioc whatever it is told: a fok asked for must not fill partly
            message = "a market order is ioc: time_in_force must be ioc or absent"
            raise ApiError(ErrorCode.INVALID_TIF, message)
        args["tif"] = "ioc"
    elif body.time_in_force is not None:
        args["tif"] = body.time_in_force.value
    if body.stp is not None:
        args["stp"] = body.stp.value
    if body.type is OrderType.LIMIT and body.price is None:
        raise ApiError(ErrorCode.INVALID_PRICE, "a limit order needs a price")
    if body.type is OrderType.LIMIT and args["price"] == 0:
        raise ApiError(ErrorCode.INVALID_PRICE, "a limit order needs a price greater than 0")
    # the engine checks these too, but names its own arguments (qty_lots): say it in the API's fields
    qty, quote_qty = args["qty"], args["quote_qty"]
    if body.type is OrderType.LIMIT and (qty == 0 or quote_qty != 0):
        raise ApiError(ErrorCode.INVALID_QTY, "a limit order needs a positive qty and takes no quote_qty")
    if body.type is OrderType.MARKET and (qty == 0) == (quote_qty == 0):
        raise ApiError(
            ErrorCode.INVALID_QTY, "a market order needs exactly one of qty and quote_qty, positive"
        )
    if body.type is OrderType.MARKET and body.price is not None:
        raise ApiError(ErrorCode.INVALID_PRICE, "a market order takes no price")
    if args["price"] > market.max_price_ticks:
        raise ApiError(
            ErrorCode.PRICE_TOO_HIGH,
            f"price above the market maximum of {market.price_out(market.max_price_ticks)}",
        )
    return args


async def place_order(
    engine: Any, markets: MarketCache, account: int, body: OrderCreate, *, ts_ms: int, pool: Any = None
) -> dict[str, Any]:
    """Place an order; returns the API order with the taker fills of this call (`fills`). A retry that
    matched an earlier identical order (same `client_order_id`) returns that order as it is now and counts
    nothing; its `fills` are the order's fills as persisted in PostgreSQL (`pool`; the newest may lag a
    moment, as in `GET /api/orders/{id}`): the retry of a lost answer needs them most."""
    market = await markets.require(body.symbol)
    args = order_args(body, market)
    try:
        result = await engine_call(
            engine.place, account, market.symbol, body.side.value, body.type.value, ts_ms=ts_ms, **args
        )
    except ApiError as exc:
        raise in_market_units(exc, market) from None
    fills = result.get("fills") or []
    if result.get("duplicate") and pool is not None:
        fills = await _load_fills(pool, account, int(result["order"]["id"]))
    out = order_out(result["order"], market, fills)
    if not result.get("duplicate"):
        metrics.ORDERS_PLACED.inc(1, market.symbol)
        if fills:
            metrics.TRADES.inc(len(fills), market.symbol)
    return out


_FUNDS = re.compile(r"available (\S+) (\d+) < (\d+)\Z")
_BAND = re.compile(r"price_ticks (\d+) beyond (\d+) bps of the best opposite price (\d+)\Z")


def _band_message(m: Market, price: int, bps: int, touch: int) -> str:
    """PRICE_OUT_OF_BAND in prices: the furthest price the band allows from the best opposite price."""
    pct = decimal_str(Decimal(bps) / 100)
    if price > touch:  # a buy, above the best ask
        most = touch * (10000 + bps) // 10000
        return f"price above {m.price_out(most)}: at most {pct}% above the best ask ({m.price_out(touch)})"
    least = -(-touch * (10000 - bps) // 10000)
    return f"price below {m.price_out(least)}: at most {pct}% below the best bid ({m.price_out(touch)})"


def in_asset_units(error: ApiError, decimals: int) -> ApiError:
    """A wallet refusal (`withdraw` above the available balance) in the asset's units, not minor units."""
    funds = _FUNDS.match(error.message) if error.code == ErrorCode.INSUFFICIENT_FUNDS else None
    if funds is None:
        return error
    asset, available, needed = funds.groups()
    have, asked = amount_out(available, decimals), amount_out(needed, decimals)
    return ApiError(error.code, f"insufficient {asset}: {have} available, {asked} asked")


def in_market_units(error: ApiError, market: Market) -> ApiError:
    """An engine refusal of an order, reworded in the API's units: the engine speaks of ticks, lots and
    minor units ("notional below 5000000"), a trader of prices, quantities and assets ("below 5 USDT").
    The code stays; a message this does not know stays as it is."""
    m = market
    code = error.code
    if code == ErrorCode.NOTIONAL_TOO_SMALL:
        message = f"order value below the market minimum of {m.quote_out(m.min_notional_minor)} {m.quote}"
    elif code == ErrorCode.QTY_TOO_SMALL:
        message = f"qty below the market minimum of {m.qty_out(m.min_lots)} {m.base}"
    elif code == ErrorCode.QTY_TOO_LARGE and "2^53" not in error.message:
        message = f"qty above the market maximum of {m.qty_out(m.max_lots)} {m.base}"
    elif code == ErrorCode.QTY_TOO_LARGE:
        message = "the funds this order would hold are more than the engine can count (2^53 minor units)"
    elif code == ErrorCode.PRICE_TOO_HIGH:
        message = f"price above the market maximum of {m.price_out(m.max_price_ticks)}"
    elif code == ErrorCode.PRICE_OUT_OF_BAND and (band := _BAND.match(error.message)):
        message = _band_message(m, *(int(g) for g in band.groups()))
    elif code == ErrorCode.INSUFFICIENT_FUNDS and (funds := _FUNDS.match(error.message)):
        asset, available, needed = funds.groups()
        decimals = m.base_decimals if asset == m.base else m.quote_decimals
        fee = " (price times qty with the taker fee, rounded up per lot: the most the order can pay)"
        message = (
            f"insufficient {asset}: {amount_out(available, decimals)} available, "
            f"{amount_out(needed, decimals)} needed" + (fee if asset == m.quote else "")
        )
    else:
        return error
    return ApiError(code, message)


def _check_order_id(order_id: int) -> None:
    if not 1 <= order_id <= MAX_SAFE_INT:
        raise ApiError(ErrorCode.ORDER_NOT_FOUND, "no such order")


async def cancel_order(
    engine: Any, markets: MarketCache, account: int, order_id: int, *, ts_ms: int
) -> dict[str, Any]:
    """Cancel one of the account's orders -> the API order (status `cancelled`).

    `ORDER_NOT_FOUND` (404) for an unknown id or another account's order, `ORDER_CLOSED` (409) when it is
    no longer open, `MARKET_HALTED` (409) when its market is halted."""
    _check_order_id(order_id)
    order = await engine_call(engine.cancel, account, order_id, ts_ms=ts_ms)
    market = await markets.require(str(order["symbol"]))
    return order_out(order, market)


async def order_id_by_client_id(engine: Any, account: int, client_order_id: str) -> int:
    """The id of the account's order placed with `client_order_id`: `ORDER_NOT_FOUND` (404) when it placed
    none (another account's use of the same text is another order, invisible here)."""
    order_id = await engine_call(engine.order_id_by_client_id, account, client_order_id)
    if order_id is None:
        raise ApiError(ErrorCode.ORDER_NOT_FOUND, f"no order with client_order_id {client_order_id}")
    return int(order_id)


async def cancel_all(
    engine: Any, account: int, *, clock: Callable[[], int], symbol: str | None = None
) -> int:
    """Cancel every open order of the account (optionally one market), looping over the engine's short
    `cancel_all` calls (each looks at 100 orders at most and cancels 12; `next` is where the next one starts,
    so skipped orders of other or halted markets are not looked at again); returns how many were cancelled.
    An order placed meanwhile, with a higher id, is cancelled too: each call takes the time from `clock`, so
    no order is cancelled before it was created."""
    total, after = 0, 0
    for _ in range(CANCEL_ALL_MAX_ROUNDS):
        result = await engine_call(engine.cancel_all, account, ts_ms=clock(), symbol=symbol, after_id=after)
        total += int(result.get("cancelled", 0))
        after = int(result.get("next", after))
        if int(result.get("remaining", 0)) <= 0:
            break
    return total


async def get_order(
    engine: Any, markets: MarketCache, account: int, order_id: int, *, pool: Any = None
) -> dict[str, Any]:
    """One of the account's orders with its fills (`ORDER_NOT_FOUND` otherwise).

    Reads the live order from Redis; falls back to PostgreSQL `orders` when Redis no longer has it. Fills
    come from PostgreSQL via `exchange.api.history.load_order_fills(pool, account, order_id)` when that
    module and a pool exist (fills are persisted asynchronously, so the newest may lag by a moment)."""
    _check_order_id(order_id)
    order = await engine_call(engine.get_order, order_id)
    if order is None and pool is not None:
        order = await _order_from_db(pool, order_id)
    if order is None or int(order.get("account", -1)) != account:
        raise ApiError(ErrorCode.ORDER_NOT_FOUND, "no such order")
    market = await markets.require(str(order["symbol"]))
    fills: list[dict[str, Any]] = []
    if pool is not None:
        fills = await _load_fills(pool, account, order_id)
    return order_out(order, market, fills)


async def _load_fills(pool: Any, account: int, order_id: int) -> list[dict[str, Any]]:
    try:
        history = importlib.import_module("exchange.api.history")
    except ImportError:
        return []
    loader = getattr(history, "load_order_fills", None)
    if loader is None:
        return []
    try:
        return list(await loader(pool, account, order_id))
    except Exception:  # history is best effort: the order itself is authoritative
        log.warning("load_order_fills failed for order %s", order_id, exc_info=True)
        return []


_ORDER_COLUMNS = (
    "order_id, account, symbol, side, type, tif, price_ticks, qty_lots, quote_qty_minor, filled_lots, "
    "quote_filled_minor, status, reason, post_only, stp, client_order_id, created_ms, updated_ms"
)


async def _order_from_db(pool: Any, order_id: int) -> dict[str, Any] | None:
    """An order persisted in PostgreSQL `orders` as an engine order object (or None)."""
    try:
        async with pool.connection() as conn, conn.cursor() as cur:
            await cur.execute(f"SELECT {_ORDER_COLUMNS} FROM orders WHERE order_id = %s", (order_id,))
            row = await cur.fetchone()
    except UndefinedTable:  # persistence not migrated yet: no history to look in
        log.warning("orders lookup for %s: no orders table", order_id)
        return None
    # PostgreSQL down propagates: 503 UNAVAILABLE (errors.as_api_error), not a false ORDER_NOT_FOUND
    if row is None:
        return None
    names = [c.strip() for c in _ORDER_COLUMNS.split(",")]
    r = dict(zip(names, row, strict=True))
    return {
        "id": r["order_id"],
        "account": r["account"],
        "symbol": r["symbol"],
        "side": r["side"],
        "type": r["type"],
        "tif": r["tif"] or "gtc",
        "price": r["price_ticks"] or 0,
        "qty": r["qty_lots"] or 0,
        "quote_qty": r["quote_qty_minor"] or 0,
        "filled": r["filled_lots"] or 0,
        "quote_filled": r["quote_filled_minor"] or 0,
        "status": r["status"],
        "reason": r["reason"] or "",
        "post_only": 1 if r["post_only"] else 0,
        "stp": r["stp"] or "cancel_maker",
        "client_order_id": r["client_order_id"] or "",
        "created_ms": r["created_ms"],
        "updated_ms": r["updated_ms"],
    }
