"""Reference data: `/api/assets`, `/api/markets`, `/api/markets/{symbol}/book`."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.params import PathParameter, QueryParameter

from exchange.api.context import services
from exchange.api.convert import levels_out
from exchange.api.errors import ApiError, ErrorCode
from exchange.api.openapi import errors
from exchange.api.schemas import AssetOut, Book, MarketOut
from exchange.api.trading import engine_call

SymbolPath = Annotated[str, PathParameter(pattern=r"^[A-Z0-9]{1,15}-[A-Z0-9]{1,15}$", max_length=31)]
Depth = Annotated[int, QueryParameter(ge=1, le=500, description="levels per side")]


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

    @get("/markets", operation_id="listMarkets")
    async def markets(self, request: Request[Any, Any, Any]) -> list[MarketOut]:
        """Every market with its tick/lot sizes, limits, fee rates (e.g. "0.001" = 0.1 %) and status."""
        return [MarketOut(**m.as_api()) for m in await services(request).markets.all(fresh=True)]

    @get("/markets/{symbol:str}/book", operation_id="getBook", responses=errors(404))
    async def book(self, request: Request[Any, Any, Any], symbol: SymbolPath, depth: Depth = 50) -> Book:
        """The order book (best first), `seq` on the same scale as the WebSocket book updates."""
        svc = services(request)
        market = await svc.markets.get(symbol)
        if market is None:
            raise ApiError(ErrorCode.UNKNOWN_MARKET, f"no market {symbol!r}")
        raw = await engine_call(svc.engine.book, symbol, depth)
        return Book(
            symbol=symbol,
            seq=int(raw["seq"]),
            bids=levels_out(raw["bids"], market),
            asks=levels_out(raw["asks"], market),
        )
