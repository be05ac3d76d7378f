"""`Engine` (sync) and `AsyncEngine` (asyncio): one Python wrapper per Lua function of the library.

Both take a redis client created with `decode_responses=True, protocol=2` (or a URL) and share the pure
argument building / parsing of `exchange.engine.codec`. Commands raise the named exceptions of
`exchange.engine.errors`; reads are plain (pipelined) reads of the documented keys, except `book`, which
is one atomic Lua call.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis
import redis.asyncio

from exchange.engine import codec
from exchange.engine.errors import from_reply
from exchange.engine.library import load_library, load_library_async
from exchange.money import MarketSpec

# keys per MGET in `AsyncEngine.order_records`: a long read is several short commands (one round trip), so
# it never holds Redis, and the engine calls queued behind it, for long
ORDER_RECORDS_BATCH = 1000


def connect(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, decode_responses=True, protocol=2)


def connect_async(url: str) -> redis.asyncio.Redis:
    return redis.asyncio.Redis.from_url(url, decode_responses=True, protocol=2)


class Engine:
    """Synchronous engine client."""

    def __init__(self, client: redis.Redis | str) -> None:
        self.redis: redis.Redis = connect(client) if isinstance(client, str) else client

    def _call(self, call: codec.Call) -> Any:
        try:
            return self.redis.fcall(call.function, len(call.keys), *call.keys, *call.args)
        except redis.ResponseError as exc:
            raise from_reply(exc) from None

    def _call_ro(self, call: codec.Call) -> Any:
        try:
            return self.redis.fcall_ro(call.function, len(call.keys), *call.keys, *call.args)
        except redis.ResponseError as exc:
            raise from_reply(exc) from None

    # ---- commands
    def load(self) -> None:
        load_library(self.redis)

    def create_asset(self, symbol: str, name: str, decimals: int) -> None:
        self._call(codec.create_asset(symbol, name, decimals))

    def create_market(self, spec: MarketSpec) -> None:
        base, quote = self.asset(spec.base), self.asset(spec.quote)
        if base is None or quote is None:
            from exchange.engine.errors import UnknownAsset

            raise UnknownAsset("UNKNOWN_ASSET", f"{spec.base} and {spec.quote} must be created first")
        self._call(codec.create_market(spec, base["decimals"], quote["decimals"]))

    def deposit(self, account: int, asset: str, amount: int, ref: str, ts_ms: int) -> dict[str, Any]:
        return codec.parse_json(self._call(codec.wallet("deposit", account, asset, amount, ref, ts_ms)))

    def withdraw(self, account: int, asset: str, amount: int, ref: str, ts_ms: int) -> dict[str, Any]:
        return codec.parse_json(self._call(codec.wallet("withdraw", account, asset, amount, ref, ts_ms)))

    def place(
        self,
        account: int,
        symbol: str,
        side: str,
        type: str,
        *,
        price: int = 0,
        qty: int = 0,
        quote_qty: int = 0,
        tif: str = "gtc",
        post_only: bool = False,
        stp: str = "cancel_maker",
        client_order_id: str = "",
        ts_ms: int,
    ) -> dict[str, Any]:
        call = codec.place(
            account,
            symbol,
            side,
            type,
            price=price,
            qty=qty,
            quote_qty=quote_qty,
            tif=tif,
            post_only=post_only,
            stp=stp,
            client_order_id=client_order_id,
            ts_ms=ts_ms,
        )
        return codec.parse_place(self._call(call))

    def cancel(self, account: int, order_id: int, ts_ms: int) -> dict[str, Any]:
        return codec.parse_order_line(self._call(codec.cancel(account, order_id, ts_ms)))

    def cancel_all(
        self, account: int, ts_ms: int, symbol: str | None = None, after_id: int = 0
    ) -> dict[str, Any]:
        """One short call: {cancelled, remaining, next}; call again with after_id=next while remaining."""
        return codec.parse_json(self._call(codec.cancel_all(account, ts_ms, symbol, after_id)))

    def set_market_status(
        self, symbol: str, status: str, ts_ms: int, cancel_orders: bool = False
    ) -> dict[str, Any]:
        call = codec.set_market_status(symbol, status, ts_ms, cancel_orders)
        return codec.parse_json(self._call(call))

    def book(self, symbol: str, depth: int = 50) -> dict[str, Any]:
        return codec.parse_json(self._call_ro(codec.book(symbol, depth)))

    # ---- reads
    def get_order(self, order_id: int) -> dict[str, Any] | None:
        return codec.parse_order_record(order_id, self.redis.get(f"order:{order_id}"))  # type: ignore[arg-type]

    def open_orders(self, account: int, symbol: str | None = None) -> list[dict[str, Any]]:
        ids = sorted(int(i) for i in self.redis.smembers(f"open:{account}"))
        pipe = self.redis.pipeline(transaction=False)
        for i in ids:
            pipe.get(f"order:{i}")
        orders = [codec.parse_order_record(i, text) for i, text in zip(ids, pipe.execute(), strict=True)]
        return [o for o in orders if o is not None and (symbol is None or o["symbol"] == symbol)]

    def balances(self, account: int) -> dict[str, tuple[int, int]]:
        pipe = self.redis.pipeline(transaction=False)
        pipe.smembers("assets")
        pipe.hgetall(f"balance:{account}")
        assets, flat = pipe.execute()
        return codec.parse_balances(list(assets), flat)

    def market(self, symbol: str) -> dict[str, Any] | None:
        return codec.parse_market(self.redis.hgetall(f"market:{symbol}"))

    def markets(self) -> list[dict[str, Any]]:
        symbols = sorted(self.redis.smembers("markets"))
        pipe = self.redis.pipeline(transaction=False)
        for s in symbols:
            pipe.hgetall(f"market:{s!s}")
        return [m for m in (codec.parse_market(f) for f in pipe.execute()) if m is not None]

    def asset(self, symbol: str) -> dict[str, Any] | None:
        return codec.parse_asset(self.redis.hgetall(f"asset:{symbol}"))

    def assets(self) -> list[dict[str, Any]]:
        symbols = sorted(self.redis.smembers("assets"))
        pipe = self.redis.pipeline(transaction=False)
        for s in symbols:
            pipe.hgetall(f"asset:{s!s}")
        return [a for a in (codec.parse_asset(f) for f in pipe.execute()) if a is not None]

    def recent_trades(self, symbol: str, limit: int = 50) -> list[dict[str, Any]]:
        if limit <= 0:
            return []
        return [codec.parse_json(t) for t in self.redis.lrange(f"trades:{symbol}", 0, limit - 1)]


class AsyncEngine:
    """Asyncio engine client: the same API as `Engine`, every method awaitable."""

    def __init__(self, client: redis.asyncio.Redis | str) -> None:
        self.redis: redis.asyncio.Redis = connect_async(client) if isinstance(client, str) else client

    async def _call(self, call: codec.Call) -> Any:
        try:
            return await self.redis.fcall(call.function, len(call.keys), *call.keys, *call.args)  # type: ignore[misc]
        except redis.ResponseError as exc:
            raise from_reply(exc) from None

    async def _call_ro(self, call: codec.Call) -> Any:
        try:
            return await self.redis.fcall_ro(call.function, len(call.keys), *call.keys, *call.args)  # type: ignore[misc]
        except redis.ResponseError as exc:
            raise from_reply(exc) from None

    async def load(self) -> None:
        await load_library_async(self.redis)

    async def create_asset(self, symbol: str, name: str, decimals: int) -> None:
        await self._call(codec.create_asset(symbol, name, decimals))

    async def create_market(self, spec: MarketSpec) -> None:
        base, quote = await self.asset(spec.base), await self.asset(spec.quote)
        if base is None or quote is None:
            from exchange.engine.errors import UnknownAsset

            raise UnknownAsset("UNKNOWN_ASSET", f"{spec.base} and {spec.quote} must be created first")
        await self._call(codec.create_market(spec, base["decimals"], quote["decimals"]))

    async def deposit(self, account: int, asset: str, amount: int, ref: str, ts_ms: int) -> dict[str, Any]:
        return codec.parse_json(await self._call(codec.wallet("deposit", account, asset, amount, ref, ts_ms)))

    async def withdraw(self, account: int, asset: str, amount: int, ref: str, ts_ms: int) -> dict[str, Any]:
        return codec.parse_json(
            await self._call(codec.wallet("withdraw", account, asset, amount, ref, ts_ms))
        )

    async def place(
        self,
        account: int,
        symbol: str,
        side: str,
        type: str,
        *,
        price: int = 0,
        qty: int = 0,
        quote_qty: int = 0,
        tif: str = "gtc",
        post_only: bool = False,
        stp: str = "cancel_maker",
        client_order_id: str = "",
        ts_ms: int,
    ) -> dict[str, Any]:
        call = codec.place(
            account,
            symbol,
            side,
            type,
            price=price,
            qty=qty,
            quote_qty=quote_qty,
            tif=tif,
            post_only=post_only,
            stp=stp,
            client_order_id=client_order_id,
            ts_ms=ts_ms,
        )
        return codec.parse_place(await self._call(call))

    async def cancel(self, account: int, order_id: int, ts_ms: int) -> dict[str, Any]:
        return codec.parse_order_line(await self._call(codec.cancel(account, order_id, ts_ms)))

    async def cancel_all(
        self, account: int, ts_ms: int, symbol: str | None = None, after_id: int = 0
    ) -> dict[str, Any]:
        return codec.parse_json(await self._call(codec.cancel_all(account, ts_ms, symbol, after_id)))

    async def set_market_status(
        self, symbol: str, status: str, ts_ms: int, cancel_orders: bool = False
    ) -> dict[str, Any]:
        call = codec.set_market_status(symbol, status, ts_ms, cancel_orders)
        return codec.parse_json(await self._call(call))

    async def book(self, symbol: str, depth: int = 50) -> dict[str, Any]:
        return codec.parse_json(await self._call_ro(codec.book(symbol, depth)))

    async def get_order(self, order_id: int) -> dict[str, Any] | None:
        return codec.parse_order_record(order_id, await self.redis.get(f"order:{order_id}"))

    async def order_id_by_client_id(self, account: int, client_order_id: str) -> int | None:
        """The id of the account's order placed with `client_order_id` (`coid:{account}`, which keeps every
        one: docs/redis.md), None when it used no such id."""
        found = await self.redis.hget(f"coid:{account}", client_order_id)  # type: ignore[misc]
        return None if found is None else int(found)

    async def open_orders(self, account: int, symbol: str | None = None) -> list[dict[str, Any]]:
        ids = await self.open_order_ids(account)
        records = await self.order_records(ids)
        orders = [codec.parse_order_record(i, text) for i, text in zip(ids, records, strict=True)]
        return [o for o in orders if o is not None and (symbol is None or o["symbol"] == symbol)]

    async def open_order_ids(self, account: int) -> list[int]:
        """The ids in `open:{account}`, ascending; reads no order record (a page of open orders picks its
        ids first, then reads only theirs with `order_records`)."""
        return sorted(int(i) for i in await self.redis.smembers(f"open:{account}"))  # type: ignore[misc]

    async def order_records(self, order_ids: Sequence[int]) -> list[str | None]:
        """The `order:{id}` records (docs/redis.md) of `order_ids`, in their order, None for an absent one
        (`codec.parse_order_record` makes the order objects): MGETs of at most ORDER_RECORDS_BATCH keys,
        pipelined."""
        if not order_ids:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for start in range(0, len(order_ids), ORDER_RECORDS_BATCH):
            pipe.mget([f"order:{i}" for i in order_ids[start : start + ORDER_RECORDS_BATCH]])
        return [text for batch in await pipe.execute() for text in batch]

    async def balances(self, account: int) -> dict[str, tuple[int, int]]:
        pipe = self.redis.pipeline(transaction=False)
        pipe.smembers("assets")
        pipe.hgetall(f"balance:{account}")
        assets, flat = await pipe.execute()
        return codec.parse_balances(list(assets), flat)

    async def market(self, symbol: str) -> dict[str, Any] | None:
        return codec.parse_market(await self.redis.hgetall(f"market:{symbol}"))  # type: ignore[misc]

    async def markets(self) -> list[dict[str, Any]]:
        symbols = sorted(await self.redis.smembers("markets"))  # type: ignore[misc]
        pipe = self.redis.pipeline(transaction=False)
        for s in symbols:
            pipe.hgetall(f"market:{s!s}")
        return [m for m in (codec.parse_market(f) for f in await pipe.execute()) if m is not None]

    async def asset(self, symbol: str) -> dict[str, Any] | None:
        return codec.parse_asset(await self.redis.hgetall(f"asset:{symbol}"))  # type: ignore[misc]

    async def assets(self) -> list[dict[str, Any]]:
        symbols = sorted(await self.redis.smembers("assets"))  # type: ignore[misc]
        pipe = self.redis.pipeline(transaction=False)
        for s in symbols:
            pipe.hgetall(f"asset:{s!s}")
        return [a for a in (codec.parse_asset(f) for f in await pipe.execute()) if a is not None]

    async def recent_trades(self, symbol: str, limit: int = 50) -> list[dict[str, Any]]:
        if limit <= 0:
            return []
        return [codec.parse_json(t) for t in await self.redis.lrange(f"trades:{symbol}", 0, limit - 1)]  # type: ignore[misc]
