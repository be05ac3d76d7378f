"""Admin routes (accounts with `is_admin`): deposits, withdrawals, market status, ending a user's sessions."""

from __future__ import annotations

import time
from typing import Annotated, Any

from litestar import Controller, Request, post
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody, PathParameter

from exchange.api import accounts, revocation
from exchange.api.auth import provide_account_id
from exchange.api.context import services
from exchange.api.convert import amount_in, amount_out
from exchange.api.errors import ApiError, ErrorCode
from exchange.api.openapi import errors
from exchange.api.schemas import (
    SYMBOL_PATTERN,
    MarketStatusRequest,
    MarketStatusResult,
    SessionsEnded,
    WalletRequest,
    WalletResult,
    json_text,
)
from exchange.api.trading import engine_call, in_asset_units
from workers.lag import RECONCILE_FROZEN_KEY, RECONCILE_FROZEN_PREVIOUS_KEY

SymbolPath = Annotated[str, PathParameter(pattern=SYMBOL_PATTERN, max_length=31)]
STATUS_MAX_ROUNDS = 200_000  # x 12 cancelled orders per engine call (lua U.CANCEL_BATCH)


async def provide_admin_id(request: Request[Any, Any, Any]) -> int:
    """The authenticated account id when it is an admin: 401 without a token, 403 `FORBIDDEN` otherwise."""
    account_id = await provide_account_id(request)
    row = await accounts.account_by_id(services(request).require_pool(), account_id)
    if row is None or not row.is_admin:
        raise ApiError(ErrorCode.FORBIDDEN, "admin only")
    return account_id


class AdminController(Controller):
    path = "/api/admin"
    tags = ["admin"]
    dependencies = {"admin_id": Provide(provide_admin_id)}
    security = [{"bearer": []}]

    async def _wallet(
        self, request: Request[Any, Any, Any], data: WalletRequest, withdraw: bool
    ) -> WalletResult:
        svc = services(request)
        decimals = await svc.markets.asset_decimals(data.asset)
        if decimals is None:
            raise ApiError(ErrorCode.UNKNOWN_ASSET, f"no asset {json_text(data.asset)}")
        row = await accounts.account_by_id(svc.require_pool(), data.account_id)
        if row is None:
            raise ApiError(ErrorCode.UNKNOWN_ACCOUNT, f"no account {data.account_id}")
        minor = amount_in(data.amount, decimals)
        if minor <= 0:  # (the engine would say it in minor units: "a positive integer below 2^53")
            raise ApiError(ErrorCode.INVALID_AMOUNT, f"amount must be above 0, got {json_text(data.amount)}")
        fn = svc.engine.withdraw if withdraw else svc.engine.deposit
        try:
            result = await engine_call(fn, data.account_id, data.asset, minor, data.ref, ts_ms=svc.clock())
        except ApiError as exc:
            raise in_asset_units(exc, decimals) from None
        return WalletResult(
            account_id=data.account_id,
            asset=data.asset,
            amount=amount_out(int(result.get("amount", minor)), decimals),
            available=amount_out(int(result["available"]), decimals),
            held=amount_out(int(result["held"]), decimals),
            duplicate=bool(result.get("duplicate", False)),
        )

    @post("/deposits", operation_id="adminDeposit", responses=errors(401, 403, 404, 409, 422))
    async def deposit(
        self, request: Request[Any, Any, Any], admin_id: NamedDependency[int], data: JSONBody[WalletRequest]
    ) -> WalletResult:
        """Credit an account. Idempotent by `ref` (a repeat returns the original with `duplicate: true`)."""
        return await self._wallet(request, data, withdraw=False)

    @post("/withdrawals", operation_id="adminWithdraw", responses=errors(401, 403, 404, 409, 422))
    async def withdraw(
        self, request: Request[Any, Any, Any], admin_id: NamedDependency[int], data: JSONBody[WalletRequest]
    ) -> WalletResult:
        """Debit an account's available balance (409 `INSUFFICIENT_FUNDS`). Idempotent by `ref`."""
        return await self._wallet(request, data, withdraw=True)

    @post(
        "/accounts/{account_id:int}/logout",
        operation_id="adminLogoutAccount",
        status_code=200,
        responses=errors(401, 403, 404, 422),
    )
    async def logout_account(
        self,
        request: Request[Any, Any, Any],
        admin_id: NamedDependency[int],
        account_id: Annotated[int, PathParameter(ge=1, le=2**53 - 1)],
    ) -> SessionsEnded:
        """End every session of an account (a compromised one, say): its refresh tokens stop working and its
        access tokens end at once, REST and WebSocket, in every API process. 404 `UNKNOWN_ACCOUNT`."""
        svc = services(request)
        pool = svc.require_pool()
        if await accounts.account_by_id(pool, account_id) is None:
            raise ApiError(ErrorCode.UNKNOWN_ACCOUNT, f"no account {account_id}")
        ended = await svc.sessions().end_all(account_id)
        await revocation.revoke_account(svc.redis, svc.tokens.revocations, account_id, time.time())
        return SessionsEnded(account_id=account_id, sessions_ended=len(ended))

    @post(
        "/markets/{symbol:str}/status",
        operation_id="adminSetMarketStatus",
        status_code=200,
        responses=errors(401, 403, 404, 422),
    )
    async def market_status(
        self,
        request: Request[Any, Any, Any],
        admin_id: NamedDependency[int],
        symbol: SymbolPath,
        data: JSONBody[MarketStatusRequest],
    ) -> MarketStatusResult:
        """Set `trading` / `cancel_only` / `halted`; `cancel_orders` also cancels every resting order."""
        svc = services(request)
        await svc.markets.require(symbol)
        cancelled = 0
        for _ in range(STATUS_MAX_ROUNDS):
            result = await engine_call(
                svc.engine.set_market_status,
                symbol,
                data.status.value,
                ts_ms=svc.clock(),
                cancel_orders=data.cancel_orders,
            )
            cancelled += int((result or {}).get("cancelled", 0) or 0)
            if not data.cancel_orders or int((result or {}).get("remaining", 0) or 0) <= 0:
                break
        # the operator has decided this market's status: a freeze by reconciliation is no longer pending
        # (neither `exchange reconcile --clear` nor a restore will change it back)
        pipe = svc.redis.pipeline(transaction=True)
        pipe.srem(RECONCILE_FROZEN_KEY, symbol)
        pipe.hdel(RECONCILE_FROZEN_PREVIOUS_KEY, symbol)
        await pipe.execute()
        await svc.markets.reload()
        return MarketStatusResult(symbol=symbol, status=data.status.value, cancelled=cancelled)
