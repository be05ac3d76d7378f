"""Order entry and balances: `/api/orders` (place, get one, cancel, cancel all), the same by
`client_order_id` (`/api/orders/by-client-id/{client_order_id}`) and `/api/balances`.

The open/closed order list (`GET /api/orders`) belongs to `exchange.api.history.HistoryController`. Litestar
cannot merge two *controllers* on one path (both add an OPTIONS handler), so the two handlers on the bare
`/api/orders` path (`place_order_handler`, `cancel_all_handler`) are plain functions, registered after the
history controller (`exchange.api.app`).
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, delete, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody, PathParameter, QueryParameter

from exchange.api import trading
from exchange.api.auth import provide_account_id
from exchange.api.context import services
from exchange.api.convert import balance_out
from exchange.api.errors import ApiError, ErrorCode
from exchange.api.openapi import errors
from exchange.api.schemas import (
    CLIENT_ORDER_ID_PATTERN,
    SYMBOL_PATTERN,
    Balance,
    CancelAllResult,
    Order,
    OrderCreate,
)

OrderId = Annotated[int, PathParameter(ge=1, le=2**53 - 1, description="order id")]
ClientOrderIdPath = Annotated[
    str,
    PathParameter(
        pattern=CLIENT_ORDER_ID_PATTERN,
        min_length=1,
        max_length=36,
        description="the order's client_order_id",
    ),
]
SymbolQuery = Annotated[
    str | None,
    QueryParameter(pattern=SYMBOL_PATTERN, max_length=31, required=False, description="market"),
]
AccountId = NamedDependency[int]
AUTH_DEPENDENCIES = {"account_id": Provide(provide_account_id)}
SECURITY: list[dict[str, list[str]]] = [{"bearer": []}]


@post(
    "/api/orders",
    operation_id="placeOrder",
    tags=["trading"],
    dependencies=AUTH_DEPENDENCIES,
    security=SECURITY,
    responses=errors(401, 404, 409, 422, 429),
)
async def place_order_handler(
    request: Request[Any, Any, Any], account_id: AccountId, data: JSONBody[OrderCreate]
) -> Order:
    """Place an order. 201 with the order after matching, incl. this call's fills (taker side)."""
    svc = services(request)
    await svc.limiter.hit("orders", str(account_id), svc.settings.rate_limits.orders)
    out = await trading.place_order(
        svc.engine, svc.markets, account_id, data, ts_ms=svc.clock(), pool=svc.pool
    )
    return msgspec.convert(out, Order)


@delete(
    "/api/orders",
    operation_id="cancelAllOrders",
    tags=["trading"],
    status_code=200,
    dependencies=AUTH_DEPENDENCIES,
    security=SECURITY,
    responses=errors(401, 404, 409, 422, 429),
)
async def cancel_all_handler(
    request: Request[Any, Any, Any], account_id: AccountId, symbol: SymbolQuery = None
) -> CancelAllResult:
    """Cancel all your open orders (optionally of one market). Orders of halted markets cannot be cancelled:
    they are skipped, and a `symbol` naming a halted market is 409 `MARKET_HALTED` (not `cancelled: 0`,
    which would read as "no open orders there"). It takes no body and no query parameter but `symbol`: on a
    destructive call, a misspelt market filter (`?symbl=`) or a market in a body is refused (422) rather
    than ignored, which would cancel in every market."""
    if await request.body():
        raise ApiError(ErrorCode.VALIDATION_ERROR, "no body: choose the market with ?symbol=")
    svc = services(request)
    await svc.limiter.hit("orders", str(account_id), svc.settings.rate_limits.orders)
    if symbol is not None:
        await svc.markets.reload()  # the status as it is now, not as cached (a cancel-all is rare)
        if (await svc.markets.require(symbol)).status == "halted":  # (UNKNOWN_MARKET for none)
            raise ApiError(
                ErrorCode.MARKET_HALTED, f"market {symbol} is halted: its orders cannot be cancelled"
            )
    n = await trading.cancel_all(svc.engine, account_id, clock=svc.clock, symbol=symbol)
    return CancelAllResult(cancelled=n)


class OrderController(Controller):
    path = "/api/orders/{order_id:int}"
    tags = ["trading"]
    dependencies = AUTH_DEPENDENCIES
    security = SECURITY

    @get("/", operation_id="getOrder", responses=errors(401, 404))
    async def get_one(
        self, request: Request[Any, Any, Any], account_id: AccountId, order_id: OrderId
    ) -> Order:
        """One of your orders with its fills (fills are read from the history database)."""
        svc = services(request)
        out = await trading.get_order(svc.engine, svc.markets, account_id, order_id, pool=svc.pool)
        return msgspec.convert(out, Order)

    @delete("/", operation_id="cancelOrder", status_code=200, responses=errors(401, 404, 409, 429))
    async def cancel(
        self, request: Request[Any, Any, Any], account_id: AccountId, order_id: OrderId
    ) -> Order:
        """Cancel an open order: 404 `ORDER_NOT_FOUND` (unknown or not yours), 409 `ORDER_CLOSED`."""
        svc = services(request)
        await svc.limiter.hit("orders", str(account_id), svc.settings.rate_limits.orders)
        out = await trading.cancel_order(svc.engine, svc.markets, account_id, order_id, ts_ms=svc.clock())
        return msgspec.convert(out, Order)


class ClientOrderController(Controller):
    """Your order by the `client_order_id` you placed it with (a bot that lost the answer of its `POST` knows
    only that): the same answers as `/api/orders/{order_id}`."""

    path = "/api/orders/by-client-id/{client_order_id:str}"
    tags = ["trading"]
    dependencies = AUTH_DEPENDENCIES
    security = SECURITY

    @get("/", operation_id="getOrderByClientId", responses=errors(401, 404, 422))
    async def get_one(
        self, request: Request[Any, Any, Any], account_id: AccountId, client_order_id: ClientOrderIdPath
    ) -> Order:
        """One of your orders by its `client_order_id`, with its fills: 404 `ORDER_NOT_FOUND` when you placed
        none with it."""
        svc = services(request)
        order_id = await trading.order_id_by_client_id(svc.engine, account_id, client_order_id)
        out = await trading.get_order(svc.engine, svc.markets, account_id, order_id, pool=svc.pool)
        return msgspec.convert(out, Order)

    @delete(
        "/", operation_id="cancelOrderByClientId", status_code=200, responses=errors(401, 404, 409, 422, 429)
    )
    async def cancel(
        self, request: Request[Any, Any, Any], account_id: AccountId, client_order_id: ClientOrderIdPath
    ) -> Order:
        """Cancel an open order of yours by its `client_order_id`: 404 `ORDER_NOT_FOUND`, 409
        `ORDER_CLOSED`."""
        svc = services(request)
        await svc.limiter.hit("orders", str(account_id), svc.settings.rate_limits.orders)
        order_id = await trading.order_id_by_client_id(svc.engine, account_id, client_order_id)
        out = await trading.cancel_order(svc.engine, svc.markets, account_id, order_id, ts_ms=svc.clock())
        return msgspec.convert(out, Order)


class BalancesController(Controller):
    path = "/api/balances"
    tags = ["trading"]
    dependencies = AUTH_DEPENDENCIES
    security = SECURITY

    @get("/", operation_id="getBalances", responses=errors(401))
    async def balances(self, request: Request[Any, Any, Any], account_id: AccountId) -> list[Balance]:
        """Every asset's available and held amount (decimal strings)."""
        svc = services(request)
        raw = await svc.engine.balances(account_id)
        if any(asset not in svc.markets.decimals for asset in raw):
            await svc.markets.reload()
        decimals = svc.markets.decimals
        return [
            Balance(**balance_out(asset, int(avail), int(held), decimals[asset]))
            for asset, (avail, held) in sorted(raw.items())
            if asset in decimals
        ]
