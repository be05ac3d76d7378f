"""The per-app services every handler uses, stored once on `app.state.services` (and, for convenience,
as `app.state.engine`, `.redis`, `.pool`, `.markets`, `.limiter`, `.tokens`, `.settings`, `.clock`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection

from exchange.api import revocation
from exchange.api.accounts import AccountCache, Sessions
from exchange.api.auth import TokenService
from exchange.api.convert import MarketCache
from exchange.api.errors import ApiError, ErrorCode
from exchange.api.ratelimit import RateLimiter
from exchange.api.settings import Settings


@dataclass
class Services:
    settings: Settings
    redis: Any  # redis.asyncio.Redis, decode_responses=True, protocol=2
    engine: Any  # exchange.engine.client.AsyncEngine
    markets: MarketCache
    limiter: RateLimiter
    tokens: TokenService
    clock: Callable[[], int]  # epoch milliseconds
    pool: Any = None  # psycopg_pool.AsyncConnectionPool (None when no database is configured)
    accounts: AccountCache = field(default_factory=AccountCache)  # `GET /api/me` rows, a few seconds old

    def require_pool(self) -> Any:
        if self.pool is None:
            raise ApiError(ErrorCode.UNAVAILABLE, "no database configured")
        return self.pool

    def sessions(self) -> Sessions:
        """Login sessions in PostgreSQL; ending one writes its revocation to Redis before it commits."""
        return Sessions(self.require_pool(), self._revoke_sessions)

    async def _revoke_sessions(self, account_id: int, sids: list[str]) -> None:
        await revocation.revoke_sessions(self.redis, self.tokens.revocations, account_id, sids)


def services(request: Request[Any, Any, Any]) -> Services:
    svc: Services = request.app.state.services
    return svc


def client_ip(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The client address every per-address limit uses (REST and WebSocket): the ASGI client, which uvicorn
    takes from `X-Forwarded-For` only when the peer is a trusted proxy (`--proxy-headers`,
    `FORWARDED_ALLOW_IPS`)."""
    return connection.client.host if connection.client else "unknown"


async def limit_read(request: Request[Any, Any, Any], account_id: int | None = None) -> None:
    """Count one read that does work per request: against `reads_account` for an account's history, else
    against `reads_ip` (429 `RATE_LIMITED` with `Retry-After` beyond)."""
    svc = services(request)
    limits = svc.settings.rate_limits
    if account_id is None:
        await svc.limiter.hit("reads_ip", client_ip(request), limits.reads_ip)
    else:
        await svc.limiter.hit("reads_account", str(account_id), limits.reads_account)
