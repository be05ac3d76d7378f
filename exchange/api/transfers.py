"""`GET /api/transfers`: the account's deposits and withdrawals, newest first, from PostgreSQL `wallet_ops`
(written by the persistence workers from the engine's wallet stream, normally < 1 s behind).

Each transfer is the engine's wallet event: `id` is its sequence number in `events:wallet`, `ref` the
caller's idempotency reference (`demo:{account}:{asset}` for demo funds). Keyset pages by `id`, with
`next_cursor` bound to the filters, as the other history lists are.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get
from litestar.di import NamedDependency, Provide
from litestar.params import QueryParameter

from exchange.api.auth import provide_account_id
from exchange.api.context import limit_read, services
from exchange.api.convert import scaled_str
from exchange.api.errors import ApiError, ErrorCode
from exchange.api.history import CursorQuery, LimitQuery, decode_cursor, encode_cursor
from exchange.api.openapi import errors
from exchange.api.schemas import ASSET_PATTERN, json_text


class TransferType(StrEnum):
    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"


class Transfer(msgspec.Struct):
    """One deposit or withdrawal (`id`: its wallet event's sequence number; `ts` in epoch milliseconds)."""

    id: int
    type: TransferType
    asset: str
    amount: str
    ref: str
    ts: int


class TransferPage(msgspec.Struct):
    items: list[Transfer]
    next_cursor: str | None


AssetQuery = Annotated[str | None, QueryParameter(pattern=ASSET_PATTERN, max_length=15, required=False)]
TypeQuery = Annotated[
    TransferType | None, QueryParameter(description="deposit or withdrawal", required=False)
]


class TransfersController(Controller):
    path = "/api/transfers"
    tags = ["history"]
    dependencies = {"account_id": Provide(provide_account_id)}
    security = [{"bearer": []}]

    @get("/", operation_id="listTransfers", responses=errors(400, 401, 429, 503))
    async def transfers(
        self,
        request: Request[Any, Any, Any],
        account_id: NamedDependency[int],
        asset: AssetQuery = None,
        type: TypeQuery = None,  # the API's word; the builtin is not needed here
        limit: LimitQuery = 100,
        cursor: CursorQuery = None,
    ) -> TransferPage:
        """Your deposits and withdrawals, newest first (filterable by asset and type). 400 `UNKNOWN_ASSET`
        for an asset the exchange does not list."""
        await limit_read(request, account_id)
        svc = services(request)
        pool = svc.require_pool()
        if asset is not None and await svc.markets.asset_decimals(asset) is None:
            raise ApiError(ErrorCode.UNKNOWN_ASSET, f"no asset {json_text(asset)}")
        expect = {"k": "transfers", "f": f"{asset or ''}|{type or ''}"}
        after = decode_cursor(cursor, expect, int) if cursor else None
        where: list[str] = ["account = %s"]
        params: list[Any] = [account_id]
        if asset:
            where.append("asset = %s")
            params.append(asset)
        if type:
            where.append("type = %s")
            params.append(type.value)
        if after is not None:
            where.append("seq < %s")
            params.append(after["id"])
        params.append(limit + 1)
        async with pool.connection() as conn, conn.cursor() as cur:
            await cur.execute(
                (
                    "SELECT seq, type, asset, amount_minor, ref, ts_ms FROM wallet_ops"
                    f" WHERE {' AND '.join(where)} ORDER BY seq DESC LIMIT %s"
                ).encode(),
                params,
            )
            rows = await cur.fetchall()
        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            next_cursor = encode_cursor({**expect, "id": int(rows[-1][0]), "v": 0})
        items = []
        for seq, kind, row_asset, amount_minor, ref, ts_ms in rows:
            decimals = await svc.markets.asset_decimals(row_asset)
            if decimals is not None:
                amount = scaled_str(int(amount_minor), decimals)
                items.append(Transfer(int(seq), TransferType(kind), row_asset, amount, ref, int(ts_ms)))
        return TransferPage(items=items, next_cursor=next_cursor)
