"""`/api/auth/*` and `/api/me`: registration, login, refresh rotation, logout."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody

from exchange.api import accounts
from exchange.api.auth import hash_password, provide_account_id, verify_password
from exchange.api.context import Services, client_ip, services
from exchange.api.errors import ApiError, ErrorCode
from exchange.api.openapi import AUTH_ERRORS, errors
from exchange.api.schemas import Account, Credentials, LogoutRequest, RefreshRequest, TokenPair
from exchange.engine.errors import InvalidAmount

log = logging.getLogger(__name__)

# Demo funds credited to each new account when EXCHANGE_DEMO=1 (assets missing from the engine are skipped).
DEMO_FUNDS: dict[str, str] = {
    "USDT": "100000",
    "BTC": "2",
    "ETH": "20",
    "BNB": "100",
    "MINA": "20000",
    "ATOM": "2000",
    "DOT": "2000",
}


async def credit_demo_funds(svc: Services, account_id: int) -> None:
    """Deposit `DEMO_FUNDS` with refs `demo:{account}:{asset}` (idempotent). An asset whose supply is
    exhausted (its deposits would reach 2^53 minor units) is skipped with a warning; the others are still
    credited."""
    await svc.markets.reload()
    for asset, amount in DEMO_FUNDS.items():
        decimals = svc.markets.decimals.get(asset)
        if decimals is None:
            continue
        minor = int(Decimal(amount).scaleb(decimals))
        try:
            ref = f"demo:{account_id}:{asset}"
            await svc.engine.deposit(account_id, asset, minor, ref, ts_ms=svc.clock())
        except InvalidAmount as exc:
            log.warning("demo %s for account %s not credited: %s", asset, account_id, exc)


async def _token_pair(svc: Services, account_id: int) -> TokenPair:
    refresh, claims = svc.tokens.issue_refresh(account_id)
    await accounts.store_refresh(svc.require_pool(), claims.jti, account_id, claims.expires_at)
    return TokenPair(
        access_token=svc.tokens.issue_access(account_id),
        refresh_token=refresh,
        token_type="bearer",
        expires_in=svc.tokens.access_ttl_s,
    )


class AuthController(Controller):
    path = "/api/auth"
    tags = ["auth"]

    @post("/register", operation_id="register", responses=errors(409, 422, 429))
    async def register(self, request: Request[Any, Any, Any], data: JSONBody[Credentials]) -> Account:
        """Create an account (demo mode: with demo funds). 409 `EMAIL_TAKEN` when the email exists."""
        svc = services(request)
        await svc.limiter.hit("register_ip", client_ip(request), svc.settings.rate_limits.register_ip)
        row = await accounts.create_account(
            svc.require_pool(), data.email, await hash_password(data.password)
        )
        if svc.settings.demo:
            try:
                await credit_demo_funds(svc, row.id)
            except Exception:  # the account exists either way; funds can be credited by an admin
                log.exception("demo funds for account %s failed", row.id)
        return Account(**row.as_api())

    @post("/login", operation_id="login", status_code=200, responses=errors(401, 422, 429))
    async def login(self, request: Request[Any, Any, Any], data: JSONBody[Credentials]) -> TokenPair:
        """Exchange email and password for an access token (<= 15 min) and a refresh token."""
        svc = services(request)
        limits = svc.settings.rate_limits
        await svc.limiter.hit("login_ip", client_ip(request), limits.login_ip)
        await svc.limiter.hit("login_email", accounts.normalize_email(data.email), limits.login_email)
        row = await accounts.account_by_email(svc.require_pool(), data.email)
        if not await verify_password(row.password_hash if row else None, data.password) or row is None:
            raise ApiError(ErrorCode.INVALID_CREDENTIALS, "wrong email or password")
        return await _token_pair(svc, row.id)

    @post("/refresh", operation_id="refresh", status_code=200, responses=errors(401, 422, 429))
    async def refresh(self, request: Request[Any, Any, Any], data: JSONBody[RefreshRequest]) -> TokenPair:
        """Rotate a refresh token: returns a new pair; the presented refresh token stops working."""
        svc = services(request)
        await svc.limiter.hit("refresh_ip", client_ip(request), svc.settings.rate_limits.refresh_ip)
        claims = svc.tokens.decode_refresh(data.refresh_token)
        new_refresh, new_claims = svc.tokens.issue_refresh(claims.account_id)
        ok = await accounts.rotate_refresh(
            svc.require_pool(), claims.jti, claims.account_id, new_claims.jti, new_claims.expires_at
        )
        if not ok:
            raise ApiError(ErrorCode.INVALID_TOKEN, "refresh token revoked or already used")
        return TokenPair(
            access_token=svc.tokens.issue_access(claims.account_id),
            refresh_token=new_refresh,
            token_type="bearer",
            expires_in=svc.tokens.access_ttl_s,
        )

    @post("/logout", operation_id="logout", status_code=204, responses=errors(401, 422))
    async def logout(self, request: Request[Any, Any, Any], data: JSONBody[LogoutRequest]) -> None:
        """Revoke the given refresh token, or (body `{}` and a bearer access token) every refresh token of
        the account."""
        svc = services(request)
        pool = svc.require_pool()
        if data.refresh_token is not None:
            claims = svc.tokens.decode_refresh(data.refresh_token)
            await accounts.revoke_refresh(pool, claims.account_id, claims.jti)
            return
        account_id = await provide_account_id(request)
        await accounts.revoke_refresh(pool, account_id)


class MeController(Controller):
    path = "/api/me"
    tags = ["auth"]
    dependencies = {"account_id": Provide(provide_account_id)}
    security = [{"bearer": []}]

    @get("/", operation_id="me", responses=AUTH_ERRORS)
    async def me(self, request: Request[Any, Any, Any], account_id: NamedDependency[int]) -> Account:
        """The authenticated account."""
        svc = services(request)
        row = await svc.accounts.get(svc.require_pool(), account_id)
        if row is None:
            raise ApiError(ErrorCode.INVALID_TOKEN, "account no longer exists")
        return Account(**row.as_api())
