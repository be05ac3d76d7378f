"""Reference data: `/api/time`, `/api/assets`, `/api/markets` (and one: `/api/markets/{symbol}`),
`/api/markets/{symbol}/book`, `/estimate`."""

from __future__ import annotations

import time
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get
from litestar.params import PathParameter, QueryParameter

from exchange.api.context import limit_read, services
from exchange.api.convert import Market, levels_out
from exchange.api.errors import ApiError, ErrorCode
from exchange.api.estimate import ESTIMATE_DEPTH, estimate, sell_worth, spend
from exchange.api.openapi import errors
from exchange.api.schemas import (
    DECIMAL_MAX_LENGTH,
    DECIMAL_PATTERN,
    SYMBOL_PATTERN,
    AssetOut,
    Book,
    Estimate,
    MarketOut,
    ServerTime,
    SpendEstimate,
    json_text,
)
from exchange.api.trading import engine_call

SymbolPath = Annotated[str, PathParameter(pattern=SYMBOL_PATTERN, max_length=31)]
Depth = Annotated[int, QueryParameter(ge=1, le=500, description="levels per side")]
Qty = Annotated[
    str,
    QueryParameter(
        pattern=DECIMAL_PATTERN, max_length=DECIMAL_MAX_LENGTH, description="base quantity, e.g. 1.5"
    ),
]
QuoteQty = Annotated[
    str,
    QueryParameter(
        pattern=DECIMAL_PATTERN,
        max_length=DECIMAL_MAX_LENGTH,
        description="quote amount, e.g. 250.5",
    ),
]


async def _market(request: Request[Any, Any, Any], symbol: str) -> Market:
    market = await services(request).markets.get(symbol)
    if market is None:
        raise ApiError(ErrorCode.UNKNOWN_MARKET, f"no market {json_text(symbol)}")
    return market


async def _quote_amount(request: Request[Any, Any, Any], symbol: str, quote_qty: str) -> tuple[Market, int]:
    """The market and a by-quote estimate's amount in quote minor units, refused as the order would be."""
    await limit_read(request)
    market = await _market(request, symbol)
    amount = market.quote_in(quote_qty)
    if amount < 1:
        raise ApiError(ErrorCode.INVALID_QTY, "quote_qty must be positive")
    if amount < market.min_notional_minor:  # the order would be refused so: no estimate says otherwise
        minimum = f"{market.quote_out(market.min_notional_minor)} {market.quote}"
        raise ApiError(ErrorCode.NOTIONAL_TOO_SMALL, f"order value below the market minimum of {minimum}")
    return market, amount


class ReferenceController(Controller):
    path = "/api"
    tags = ["market data"]

    @get("/assets", operation_id="listAssets")
    async def assets(self, request: Request[Any, Any, Any]) -> list[AssetOut]:
        """Every asset with its decimals (the smallest unit is 10^-decimals)."""
        rows = await services(request).engine.assets()
        return sorted(
            (
                AssetOut(symbol=str(a["symbol"]), name=str(a.get("name", "")), decimals=int(a["decimals"]))
                for a in rows
            ),
            key=lambda a: a.symbol,
        )

    @get("/time", operation_id="getServerTime", summary="The server's clock")
    async def server_time(self) -> ServerTime:
        """The server's clock in epoch milliseconds, the scale of every timestamp the API gives (`ts`,
        `created_at`, a token's `expires_at`): a client whose clock is off measures against this."""
        return ServerTime(server_time=int(time.time() * 1000))

    @get("/markets", operation_id="listMarkets")
    async def markets(self, request: Request[Any, Any, Any]) -> list[MarketOut]:
        """Every market with its tick/lot sizes, limits, fee rates (e.g. "0.001" = 0.1 %) and status."""
        return [MarketOut(**m.as_api()) for m in await services(request).markets.all(fresh=True)]

    @get("/markets/{symbol:str}", operation_id="getMarket", responses=errors(404))
    async def market(self, request: Request[Any, Any, Any], symbol: SymbolPath) -> MarketOut:
        """One market, as `/api/markets` lists it (its status as of at most 2 s ago); 404 `UNKNOWN_MARKET`."""
        return MarketOut(**(await _market(request, symbol)).as_api())

    @get("/markets/{symbol:str}/book", operation_id="getBook", responses=errors(404, 429))
    async def book(self, request: Request[Any, Any, Any], symbol: SymbolPath, depth: Depth = 50) -> Book:
        """The order book (best first), `seq` on the same scale as the WebSocket book updates."""
        await limit_read(request)
        market = await _market(request, symbol)
        raw = await engine_call(services(request).engine.book, symbol, depth)
        return Book(
            symbol=symbol,
            seq=int(raw["seq"]),
            bids=levels_out(raw["bids"], market),
            asks=levels_out(raw["asks"], market),
        )

    @get("/markets/{symbol:str}/estimate", operation_id="estimateMarketOrder", responses=errors(404, 429))
    async def estimate(self, request: Request[Any, Any, Any], symbol: SymbolPath, qty: Qty) -> Estimate:
        """The current prices for a volume: what buying and what selling `qty` would get against the book
        now (average and worst price, notional, taker fee, total; `complete` is false when the book, read
        500 levels deep, cannot fill it all). An estimate: fills round per maker order, and the book moves."""
        await limit_read(request)
        market = await _market(request, symbol)
        lots = market.qty_in(qty)
        if lots < 1:
            raise ApiError(ErrorCode.INVALID_QTY, "qty must be positive")
        if lots > market.max_lots:
            raise ApiError(
                ErrorCode.QTY_TOO_LARGE,
                f"qty above the market maximum of {market.qty_out(market.max_lots)} {market.base}",
            )
        raw = await engine_call(services(request).engine.book, symbol, ESTIMATE_DEPTH)
        return msgspec.convert(estimate(raw, market, lots), Estimate)

    @get(
        "/markets/{symbol:str}/estimate/buy",
        operation_id="estimateMarketBuyByTotal",
        responses=errors(404, 429),
    )
    async def estimate_buy(
        self, request: Request[Any, Any, Any], symbol: SymbolPath, quote_qty: QuoteQty
    ) -> SpendEstimate:
        """What a market buy spending `quote_qty` (an order with `quote_qty` instead of `qty`) would get
        against the asks now: the base amount, average and worst price, notional, taker fee and `total` spent
        (the rest is returned); `complete` is false when the asks within the price band, read 500 levels
        deep, end first; a `quote_qty` below the market's `min_notional` is 400 `NOTIONAL_TOO_SMALL`, as the
        order would be. An estimate: fills round per maker order, and the book moves."""
        market, budget = await _quote_amount(request, symbol, quote_qty)
        raw = await engine_call(services(request).engine.book, symbol, ESTIMATE_DEPTH)
        return msgspec.convert(spend(raw, market, budget), SpendEstimate)

    @get(
        "/markets/{symbol:str}/estimate/sell",
        operation_id="estimateMarketSellByTotal",
        responses=errors(404, 429),
    )
    async def estimate_sell(
        self, request: Request[Any, Any, Any], symbol: SymbolPath, quote_qty: QuoteQty
    ) -> SpendEstimate:
        """What a market sell by quote amount `quote_qty` (an order with `quote_qty` instead of `qty`) would
        sell into the bids now: at each price as many lots as what is left of the amount is worth (notional,
        before the taker fee); the base sold (`filled_qty`), average and worst price, notional, taker fee and
        `total` received; `complete` is false when the bids within the price band, read 500 levels deep, end
        first; a `quote_qty` below the market's `min_notional` is 400 `NOTIONAL_TOO_SMALL`, as the order
        would be. An estimate: fills round per maker order, and the book moves."""
        market, amount = await _quote_amount(request, symbol, quote_qty)
        raw = await engine_call(services(request).engine.book, symbol, ESTIMATE_DEPTH)
        return msgspec.convert(sell_worth(raw, market, amount), SpendEstimate)
