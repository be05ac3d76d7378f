"""The WebSocket endpoint `/ws`: one multiplexed JSON connection for market data, private channels and
order entry (protocol in `exchange.api.ws.session`, channels in `exchange.api.ws.topics`).

Exports for `exchange.api.app`:
- `websocket_route`: the Litestar route handler for `/ws` (register it in `route_handlers`);
- `on_shutdown`: stops this process's pub/sub hub (register it in `on_shutdown`);
- `plugins`: none (an empty list: the fan-out is our own `exchange.api.hub.Hub`).

The hub and the rest of the WebSocket context are created on the first connection, from the services
the app factory stores on `app.state.services` (`exchange.api.context.Services`), so the registration
order of startup hooks does not matter.

Origin policy (`exchange.api.origin`): foreign browser origins are refused before the handshake completes
(HTTP 403). Connection caps per client address and per account: `exchange.api.ws.limits`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from litestar import Litestar, WebSocket, websocket
from litestar.datastructures import State

from exchange.api.convert import MarketCache
from exchange.api.hub import Hub
from exchange.api.marketdata import market_data
from exchange.api.origin import normalize_origins, origin_allowed
from exchange.api.ws.context import WsContext, WsSettings
from exchange.api.ws.limits import ConnectionSlots
from exchange.api.ws.session import Session

__all__ = ["WsContext", "WsSettings", "on_shutdown", "on_startup", "plugins", "websocket_route"]

log = logging.getLogger(__name__)

plugins: list[Any] = []


def _redis_url(state: State) -> str:
    svc = getattr(state, "services", None)
    settings = getattr(svc, "settings", None) or getattr(state, "settings", None)
    url = getattr(settings, "redis_url", None)
    if url:
        return str(url)
    redis = getattr(svc, "redis", None) or getattr(state, "redis", None)
    kwargs = getattr(getattr(redis, "connection_pool", None), "connection_kwargs", None)
    if kwargs and "host" in kwargs:
        return f"redis://{kwargs['host']}:{kwargs.get('port', 6379)}/{kwargs.get('db', 0)}"
    raise RuntimeError("no Redis URL for the WebSocket hub (settings.redis_url)")


async def context(app: Litestar) -> WsContext:
    """The app's `WsContext` (created and its hub started on first use)."""
    ctx = getattr(app.state, "ws", None)
    if isinstance(ctx, WsContext):
        return ctx
    lock = getattr(app.state, "ws_lock", None)
    if lock is None:
        lock = app.state.ws_lock = asyncio.Lock()
    async with lock:
        ctx = getattr(app.state, "ws", None)
        if isinstance(ctx, WsContext):
            return ctx
        state = app.state
        svc = state.services
        ws_settings = getattr(state, "ws_settings", None)
        if not isinstance(ws_settings, WsSettings):
            ws_settings = WsSettings.from_env()
        hub = getattr(state, "hub", None)
        if not isinstance(hub, Hub):
            hub = Hub.from_url(_redis_url(state))
            await hub.start()
        markets = svc.markets if isinstance(svc.markets, MarketCache) else MarketCache(svc.engine)
        api_settings = svc.settings
        origins = normalize_origins(getattr(api_settings, "allowed_origins", ()) or ())
        ctx = WsContext(
            hub=hub,
            engine=svc.engine,
            markets=markets,
            data=market_data(state),
            tokens=svc.tokens,
            limiter=svc.limiter,
            api_settings=api_settings,
            clock=svc.clock,
            settings=ws_settings,
            allowed_origins=origins,
            slots=ConnectionSlots(svc.redis, ws_settings.slot_lease_s),
        )
        state.ws = ctx
        return ctx


async def on_startup(app: Litestar) -> None:
    """Nothing to do eagerly (the hub starts with the first connection); kept for symmetry."""


async def on_shutdown(app: Litestar) -> None:
    ctx = getattr(app.state, "ws", None)
    if isinstance(ctx, WsContext):
        if ctx.slots is not None:
            await ctx.slots.stop()
        await ctx.hub.stop()
        app.state.ws = None


@websocket("/ws", opt={"exclude_from_auth": True})
async def websocket_route(socket: WebSocket[Any, Any, Any]) -> None:
    """The multiplexed WebSocket (see `exchange.api.ws.session` for the protocol)."""
    ctx = await context(socket.app)
    if not origin_allowed(socket.headers.get("origin"), socket.headers.get("host"), ctx.allowed_origins):
        await socket.close(code=1008, reason="origin not allowed")  # before accept: HTTP 403
        return
    await Session(socket, ctx).run()
