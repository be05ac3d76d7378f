"""The hot-path plumbing: the auto-pipelined Redis connection, rate-limit leases, the /api/me account memo."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from exchange.api.accounts import AccountCache, AccountRow
from exchange.api.errors import ApiError, ErrorCode
from exchange.api.fastredis import EngineRedis, PipelinedRedis, pack
from exchange.api.ratelimit import RateLimiter, lease_size
from exchange.api.settings import RateLimit


@pytest.fixture
async def fast(redis_url: str) -> AsyncIterator[PipelinedRedis]:
    client = PipelinedRedis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def slow(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url, decode_responses=True, protocol=2)
    yield client
    await client.aclose()


def test_pack_writes_resp_bulk_strings() -> None:
    """Commands go out as RESP arrays of bulk strings (ints and bytes included)."""
    assert pack(("SET", "k", 12, b"\x00v")) == b"*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\n12\r\n$2\r\n\x00v\r\n"


async def test_concurrent_commands_get_their_own_replies_in_order(fast: PipelinedRedis) -> None:
    """Hundreds of commands issued in one loop iteration share a write and each gets its own reply."""
    await fast.execute("DEL", "fast:n")
    replies = await asyncio.gather(*[fast.execute("INCR", "fast:n") for _ in range(300)])
    assert replies == list(range(1, 301))
    assert await fast.execute("SET", "fast:s", "héllo") == "OK"
    assert await fast.execute("GET", "fast:s") == "héllo"  # decoded like decode_responses=True
    assert await fast.execute("GET", "fast:missing") is None


async def test_an_error_reply_raises_response_error_and_the_connection_goes_on(fast: PipelinedRedis) -> None:
    """An error reply fails only its own command, with the reply text (engine codes parse from it)."""
    await fast.execute("SET", "fast:str", "x")
    good, bad, after = await asyncio.gather(
        fast.execute("GET", "fast:str"), fast.execute("INCR", "fast:str"), fast.execute("PING"),
        return_exceptions=True,
    )  # fmt: skip
    assert good == "x" and after == "PONG"
    assert isinstance(bad, ResponseError) and "not an integer" in str(bad)


async def test_a_lost_connection_fails_in_flight_commands_and_the_next_reconnects(
    fast: PipelinedRedis, slow: aioredis.Redis
) -> None:
    """Killing the connection fails pending commands with ConnectionError; the next command reconnects."""
    client_id = await fast.execute("CLIENT", "ID")
    blocked = asyncio.ensure_future(fast.execute("BLPOP", "fast:never", 5))
    await asyncio.sleep(0.1)
    await slow.execute_command("CLIENT", "KILL", "ID", client_id)
    with pytest.raises(RedisConnectionError):
        await asyncio.wait_for(blocked, 3)
    assert await fast.execute("PING") == "PONG"


async def test_a_refused_connection_is_a_connection_error() -> None:
    """A Redis that does not answer raises ConnectionError (the API turns it into 503)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = PipelinedRedis(port=port)
    with pytest.raises(RedisConnectionError):
        await client.execute("PING")


@contextlib.asynccontextmanager
async def fake_redis(answers: list[bytes | None]) -> AsyncIterator[int]:
    """A server on a free loopback port answering its n-th connection's every command with `answers[n]`
    (None: never answering); yields the port."""
    connections = iter(answers)

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        answer = next(connections, None)
        while await reader.read(65536):
            if answer is not None:
                writer.write(answer)
                await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()


async def test_a_redis_loading_its_data_is_unavailable_503_not_an_error_reply() -> None:
    """While a restarted Redis loads its AOF it answers `-LOADING ...`: that is BusyLoadingError (a
    ConnectionError, as redis-py raises it), which the API answers 503 UNAVAILABLE, not 500 (a QA pass
    saw 500s on orders and cancels for the load's duration); other error replies stay ResponseError."""
    from redis.exceptions import BusyLoadingError

    from exchange.api.errors import as_api_error

    loading = b"-LOADING Redis is loading the dataset in memory\r\n"
    async with fake_redis([loading, b"-ERR unknown command\r\n"]) as port:
        client = PipelinedRedis(port=port)
        with pytest.raises(BusyLoadingError) as caught:
            await client.execute("FCALL", "ex_place", 0)
        api_error = as_api_error(caught.value)
        assert api_error is not None and api_error.code == ErrorCode.UNAVAILABLE
        await client.aclose()
        with pytest.raises(ResponseError) as plain:
            await PipelinedRedis(port=port).execute("NOPE")
        assert not isinstance(plain.value, RedisConnectionError)


async def test_a_redis_that_stops_answering_fails_the_commands_in_flight_after_the_timeout_and_reconnects(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A stalled Redis (no reply, no reset) fails every command in flight with TimeoutError once the
    oldest has waited COMMAND_TIMEOUT_S (the API answers 503), instead of hanging for the stall (a QA pass:
    orders hung 15 s of a 15 s stall); the connection is dropped and the next command opens a new one."""
    from redis.exceptions import TimeoutError as RedisTimeoutError

    from exchange.api import fastredis

    monkeypatch.setattr(fastredis, "COMMAND_TIMEOUT_S", 0.3)
    async with fake_redis([None, b"+PONG\r\n"]) as port:
        client = PipelinedRedis(port=port)
        started = asyncio.get_running_loop().time()
        results = await asyncio.gather(client.execute("PING"), client.execute("PING"), return_exceptions=True)
        waited = asyncio.get_running_loop().time() - started
        assert all(isinstance(r, RedisTimeoutError) for r in results), results
        assert 0.25 < waited < 2, waited
        assert await asyncio.wait_for(client.execute("PING"), 2) == "PONG"
        await client.aclose()


async def test_engine_redis_routes_fcall_to_the_fast_connection(
    fast: PipelinedRedis, slow: aioredis.Redis
) -> None:
    """`EngineRedis.fcall` goes through the pipelined connection; other commands reach redis-py."""
    calls: list[tuple[Any, ...]] = []

    class Spy:
        def execute(self, *args: Any) -> Any:
            calls.append(args)
            return fast.execute("PING")

    wrapped = EngineRedis(slow, Spy())  # type: ignore[arg-type]
    assert await wrapped.fcall("place", 1, "k", "a") == "PONG"
    assert calls == [("FCALL", "place", 1, "k", "a")]
    assert await wrapped.set("fast:via-redis-py", "1") is True
    assert calls == [("FCALL", "place", 1, "k", "a")]


@pytest.mark.parametrize("use_fast", [True, False], ids=["pipelined", "redis-py"])
async def test_leases_never_admit_more_than_the_limit_across_processes(
    redis_url: str, slow: aioredis.Redis, use_fast: bool
) -> None:
    """Three limiters (three API processes) on one key admit at most `limit` hits per window in total."""
    fasts = [PipelinedRedis.from_url(redis_url) for _ in range(3)] if use_fast else [None] * 3
    limiters = [RateLimiter(slow, fast=f) for f in fasts]
    rule = RateLimit(200, 60)
    assert lease_size(rule.limit) == 10
    admitted = refused = 0
    for i in range(600):
        try:
            await limiters[i % 3].hit("orders", "lease-test", rule)
            admitted += 1
        except ApiError as exc:
            assert exc.code == ErrorCode.RATE_LIMITED
            assert 1 <= int(exc.headers["Retry-After"]) <= 60
            refused += 1
    assert admitted + refused == 600
    # never above the limit; at most (processes - 1) * (chunk - 1) refused early
    assert 200 - 2 * 9 <= admitted <= 200
    assert int(await slow.get("rl:orders:lease-test")) <= 200
    for f in fasts:
        if f is not None:
            await f.aclose()


async def test_small_limits_are_exact_and_refusals_cost_no_redis_call(slow: aioredis.Redis) -> None:
    """A limit below 40 leases one hit at a time (exact); once refused, the key is refused locally."""
    calls = 0

    class Counting:
        def __init__(self, inner: PipelinedRedis) -> None:
            self.inner = inner

        def execute(self, *args: Any) -> Any:
            nonlocal calls
            calls += 1
            return self.inner.execute(*args)

    kwargs = slow.connection_pool.connection_kwargs
    inner = PipelinedRedis(host=kwargs["host"], port=kwargs["port"], db=kwargs.get("db", 0))
    one, two = RateLimiter(slow, fast=Counting(inner)), RateLimiter(slow, fast=Counting(inner))
    rule = RateLimit(3, 60)
    results = []
    for i in range(4):
        try:
            await (one if i % 2 == 0 else two).hit("login_email", "exact", rule)
            results.append("ok")
        except ApiError:
            results.append("429")
    assert results == ["ok", "ok", "ok", "429"]
    before = calls
    for _ in range(5):
        with pytest.raises(ApiError):
            await two.hit("login_email", "exact", rule)
    assert calls == before
    await inner.aclose()


async def test_the_account_memo_serves_repeated_lookups_without_the_database() -> None:
    """AccountCache answers from memory within its TTL and asks again after it; unknown ids stay unknown."""
    from datetime import UTC, datetime

    lookups: list[int] = []
    row = AccountRow(7, "a@example.com", "h", False, datetime.now(UTC))

    class Pool:
        @contextlib.asynccontextmanager
        async def connection(self) -> AsyncIterator[Any]:
            class Cursor:
                async def execute(self, sql: str, params: tuple[int]) -> None:
                    lookups.append(params[0])
                    self.found = params[0] == 7

                async def fetchone(self) -> tuple[Any, ...] | None:
                    return (7, row.email, "h", False, row.created_at) if self.found else None

            class Conn:
                @contextlib.asynccontextmanager
                async def cursor(self) -> AsyncIterator[Cursor]:
                    yield Cursor()

            yield Conn()

    cache = AccountCache(ttl_s=2.0)
    assert await cache.get(Pool(), 7) == row
    assert await cache.get(Pool(), 7) == row
    assert lookups == [7]
    assert await cache.get(Pool(), 8) is None
    assert await cache.get(Pool(), 8) is None
    assert lookups == [7, 8, 8]
    await asyncio.sleep(2.1)
    assert await cache.get(Pool(), 7) == row
    assert lookups == [7, 8, 8, 7]


def test_scaled_str_writes_what_decimal_str_writes() -> None:
    """The integer fast path of price/qty/amount conversion matches the Decimal one everywhere."""
    from decimal import Decimal

    from hypothesis import given, settings
    from hypothesis import strategies as st

    from exchange.api.convert import decimal_str, scaled_str

    @settings(deadline=None)  # a GC pause of the big test process is no failure
    @given(st.integers(min_value=-(2**63), max_value=2**63), st.integers(min_value=0, max_value=18))
    def check(n: int, k: int) -> None:
        assert scaled_str(n, k) == decimal_str(Decimal(n).scaleb(-k))

    check()
    assert scaled_str(6_000_001, 2) == "60000.01" and scaled_str(0, 8) == "0" and scaled_str(-5, 2) == "-0.05"


def test_units_of_agrees_with_the_decimal_path() -> None:
    """Plain decimal text converts to the same units as the Decimal path; everything else defers to it."""
    from decimal import Decimal

    from hypothesis import given, settings
    from hypothesis import strategies as st

    from exchange.api.convert import MAX_SAFE_INT, units_of

    @settings(deadline=None)  # a GC pause of the big test process is no failure
    @given(
        st.integers(min_value=0, max_value=10**20), st.integers(min_value=0, max_value=12), st.integers(0, 12)
    )
    def check(n: int, scale: int, k: int) -> None:
        text = format(Decimal(n).scaleb(-scale), "f")
        got = units_of(text, k)
        exact = Decimal(text).scaleb(k)
        if exact == exact.to_integral_value() and exact <= MAX_SAFE_INT:
            assert got == int(exact)
        else:
            assert got is None

    check()
    for text in ("1e3", "+1", " 1", "-1", "1.", ".5", "", "0x10", "١٢"):
        assert units_of(text, 2) is None
    assert units_of("60000.01", 2) == 6_000_001 and units_of("0.00010", 5) == 10 and units_of("7", 0) == 7
