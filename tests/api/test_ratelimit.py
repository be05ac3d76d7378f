"""Rate limits: 429 RATE_LIMITED with Retry-After, shared by every app on the same Redis."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from exchange.api import context, routes_auth
from exchange.api.app import create_app
from exchange.api.settings import RateLimit, RateLimits
from tests.api.conftest import PASSWORD, error_code, make_settings, new_email, register, seed


async def test_login_attempts_per_email_are_limited(redis_url: str, pg_url: str) -> None:
    """The 4th failed login for one email inside the window is 429 with a Retry-After header."""
    seed(redis_url)
    limits = RateLimits(
        login_email=RateLimit(3, 60), login_ip=RateLimit(1000, 60), register_ip=RateLimit(100, 60)
    )
    async with AsyncTestClient(create_app(make_settings(redis_url, pg_url, rate_limits=limits))) as client:
        email = new_email()
        r = await client.post("/api/auth/register", json={"email": email, "password": PASSWORD})
        assert r.status_code == 201
        statuses = []
        for _ in range(4):
            r = await client.post("/api/auth/login", json={"email": email, "password": "wrong password"})
            statuses.append(r.status_code)
        assert statuses == [401, 401, 401, 429]
        assert error_code(r) == "RATE_LIMITED"
        assert 1 <= int(r.headers["retry-after"]) <= 60
        # the right password is refused too while limited, another email is not
        r = await client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
        assert r.status_code == 429
        other = await register(client, new_email())
        assert other.access_token


async def test_a_rate_limited_login_says_in_words_what_was_limited_and_when_to_retry(
    redis_url: str, pg_url: str
) -> None:
    """The 429 message names no internal limit ("login_email"): it says what was limited, the limit, and
    the same wait as the Retry-After header; the code stays RATE_LIMITED."""
    seed(redis_url)
    limits = RateLimits(login_email=RateLimit(2, 60), login_ip=RateLimit(1000, 60))
    async with AsyncTestClient(create_app(make_settings(redis_url, pg_url, rate_limits=limits))) as client:
        email = new_email()
        for _ in range(3):
            r = await client.post("/api/auth/login", json={"email": email, "password": "wrong password"})
        assert r.status_code == 429 and error_code(r) == "RATE_LIMITED"
        wait = int(r.headers["retry-after"])
        assert r.json()["error"]["message"] == (
            f"Too many login attempts for this email (at most 2 a minute): try again in {wait} s"
        )


def test_every_limit_has_a_message_in_words() -> None:
    """No rate limit's message shows its internal name (a scope of `RateLimits` such as `login_email`, or
    the WebSocket's `ws_snapshots`) or falls back to the generic wording."""
    from dataclasses import fields

    from exchange.api.ratelimit import refusal_message

    scopes = [f.name for f in fields(RateLimits)] + ["ws_snapshots"]
    for scope in scopes:
        message = refusal_message(scope, RateLimit(5, 1), 1)
        assert "_" not in message and not message.startswith("Too many requests"), message
        assert message.endswith("(at most 5 a second): try again in 1 s"), message


async def test_wrong_guesses_from_one_ip_do_not_lock_the_owner_out_but_many_ips_share_a_ceiling(
    redis_url: str, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`login_email` counts per email and client IP: another client's failures leave the owner's login
    open. `login_email_all` caps attempts on one email from all IPs together."""
    # the test client has one address: here a header names the client IP the login route sees
    monkeypatch.setattr(routes_auth, "client_ip", lambda req: req.headers.get("x-test-ip", "testclient"))
    seed(redis_url)
    limits = RateLimits(
        login_email=RateLimit(3, 60),
        login_email_all=RateLimit(5, 60),
        login_ip=RateLimit(1000, 60),
        register_ip=RateLimit(100, 60),
    )
    async with AsyncTestClient(create_app(make_settings(redis_url, pg_url, rate_limits=limits))) as client:
        email = new_email()
        r = await client.post("/api/auth/register", json={"email": email, "password": PASSWORD})
        assert r.status_code == 201

        async def login_from(ip: str, password: str) -> int:
            body = {"email": email.upper(), "password": password}
            r = await client.post("/api/auth/login", json=body, headers={"x-test-ip": ip})
            return r.status_code

        assert [await login_from("10.0.0.1", "wrong password") for _ in range(4)] == [401, 401, 401, 429]
        # the 4th counted attempt on the email (the refused one spent only 10.0.0.1's budget)
        assert await login_from("10.0.0.2", PASSWORD) == 200
        assert await login_from("10.0.0.3", "wrong password") == 401  # the 5th
        assert await login_from("10.0.0.4", PASSWORD) == 429  # the 6th, from anywhere


async def test_login_attempts_per_ip_are_limited(redis_url: str, pg_url: str) -> None:
    """Many emails from one IP hit the per-IP login limit."""
    seed(redis_url)
    limits = RateLimits(
        login_email=RateLimit(100, 60), login_ip=RateLimit(2, 60), register_ip=RateLimit(100, 60)
    )
    async with AsyncTestClient(create_app(make_settings(redis_url, pg_url, rate_limits=limits))) as client:
        codes = [
            (
                await client.post("/api/auth/login", json={"email": new_email(), "password": PASSWORD})
            ).status_code
            for _ in range(3)
        ]
        assert codes == [401, 401, 429]


async def test_order_rate_is_limited_per_account_across_apps(redis_url: str, pg_url: str) -> None:
    """Two app instances on one Redis share the per-account order budget; another account is unaffected."""
    seed(redis_url)
    limits = RateLimits(orders=RateLimit(3, 60), login_ip=RateLimit(1000, 60), register_ip=RateLimit(100, 60))
    settings = make_settings(redis_url, pg_url, rate_limits=limits)
    order = {"symbol": "BTC-USDT", "side": "buy", "type": "limit", "price": "100", "qty": "0.1"}
    async with AsyncTestClient(create_app(settings)) as one, AsyncTestClient(create_app(settings)) as two:
        alice = await register(one)
        bob = await register(one)
        codes = []
        for i in range(4):
            client = one if i % 2 == 0 else two
            codes.append((await client.post("/api/orders", json=order, headers=alice.headers)).status_code)
        assert codes == [201, 201, 201, 429]
        r = await two.delete("/api/orders", headers=alice.headers)
        assert r.status_code == 429 and "retry-after" in r.headers
        assert (await two.post("/api/orders", json=order, headers=bob.headers)).status_code == 201


async def test_reads_that_do_work_are_limited_per_ip_and_history_per_account(
    redis_url: str, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Book, estimates, trades and candles count against `reads_ip` (another IP is unaffected); the history
    reads (orders, export, fills, positions) against `reads_account` (another account is unaffected);
    cached lists (markets, tickers) and `GET /api/me` count against neither. Over a limit: 429 with
    Retry-After."""
    monkeypatch.setattr(context, "client_ip", lambda req: req.headers.get("x-test-ip", "testclient"))
    seed(redis_url)
    limits = RateLimits(
        login_ip=RateLimit(1000, 60),
        register_ip=RateLimit(100, 60),
        reads_ip=RateLimit(5, 60),
        reads_account=RateLimit(4, 60),
    )
    async with AsyncTestClient(create_app(make_settings(redis_url, pg_url, rate_limits=limits))) as client:
        public = ["/api/markets/BTC-USDT/book", "/api/markets/BTC-USDT/estimate?qty=0.1",
                  "/api/markets/BTC-USDT/estimate/buy?quote_qty=100",
                  "/api/markets/BTC-USDT/trades", "/api/markets/BTC-USDT/candles"]  # fmt: skip
        assert [(await client.get(p)).status_code for p in public] == [200] * 5
        r = await client.get(public[0])
        assert r.status_code == 429 and error_code(r) == "RATE_LIMITED" and int(r.headers["retry-after"]) >= 1
        assert (await client.get(public[0], headers={"x-test-ip": "10.0.0.9"})).status_code == 200
        for free in ("/api/markets", "/api/tickers", "/api/assets"):
            assert (await client.get(free)).status_code == 200, free
        alice, bob = await register(client), await register(client)
        history = ["/api/orders?status=all", "/api/orders/export.csv", "/api/fills", "/api/positions"]
        codes = [(await client.get(p, headers=alice.headers)).status_code for p in history]
        assert codes == [200] * 4
        assert (await client.get("/api/me", headers=alice.headers)).status_code == 200
        assert (await client.get("/api/fills", headers=alice.headers)).status_code == 429
        assert (await client.get("/api/fills", headers=bob.headers)).status_code == 200


def test_openapi_lists_429_on_exactly_the_rate_limited_operations() -> None:
    """The schema promises 429 only where a limit applies: orders (place, cancel by id or client_order_id,
    cancel all), the auth writes (register, login, refresh, logout, ending a session, a password change) and
    the reads that do work per request (book, estimate, trades, candles; the history, transfers, the
    sessions); cached lists and `GET /api/me` are not rate limited."""
    schema = create_app(make_settings("redis://127.0.0.1:1/0", "")).openapi_schema.to_schema()
    limited = {
        op["operationId"]
        for path in schema["paths"].values()
        for op in path.values()
        if isinstance(op, dict) and "429" in op.get("responses", {})
    }
    assert limited == {
        "register", "login", "refresh", "logout", "placeOrder", "cancelOrder", "cancelOrderByClientId",
        "cancelAllOrders", "getBook", "estimateMarketOrder", "estimateMarketBuyByTotal",
        "estimateMarketSellByTotal", "listMarketTrades", "listCandles",
        "listOrders", "exportOrdersCsv", "listFills", "listPositions", "listSessions", "endSession",
        "endOtherSessions", "changePassword", "listTransfers",
    }  # fmt: skip


async def test_long_identities_keep_distinct_keys_past_the_length_bound(redis_url: str) -> None:
    """Keys are bounded (200 characters of identity), but identities that differ only past the bound (a
    long email followed by the client IP: `login_email`) still count apart, so one client's failures on a
    long email cannot lock out the same email from another address."""
    import redis.asyncio as aioredis

    from exchange.api.errors import ApiError
    from exchange.api.ratelimit import RateLimiter

    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    limiter = RateLimiter(client, prefix=f"rl-test-{new_email()}:")
    email = "a" * 190 + "@example.com"
    rule = RateLimit(2, 60)
    for _ in range(2):
        await limiter.hit("login_email", f"{email} 10.0.0.1", rule)
    with pytest.raises(ApiError):
        await limiter.hit("login_email", f"{email} 10.0.0.1", rule)
    await limiter.hit("login_email", f"{email} 10.0.0.2", rule)  # another address: its own count
    keys = [k async for k in client.scan_iter(match="rl-test-*")]
    assert len(keys) == 2 and all(len(k) < 260 for k in keys)
    await client.aclose()


async def _admitted(limiter: Any, ident: str, rule: RateLimit, hits: int) -> int:
    """How many of `hits` concurrent hits `limiter` admits."""
    from exchange.api.errors import ApiError

    results = await asyncio.gather(
        *(limiter.hit("orders", ident, rule) for _ in range(hits)), return_exceptions=True
    )
    assert all(r is None or isinstance(r, ApiError) for r in results), results
    return sum(r is None for r in results)


@pytest.mark.parametrize("pipelined", [False, True], ids=["redis-py", "pipelined"])
async def test_concurrent_hits_spend_one_refill_and_leave_the_rest_of_the_limit_to_other_processes(
    redis_url: str, pipelined: bool
) -> None:
    """150 hits at once on one process under a limit of 200 (leases of 10) are all admitted, and another
    process still gets what is left but at most one lease's unspent hits: each waiting hit used to lease 10
    of its own and keep only the last lease, so 150 at once admitted 20 and counted 200."""
    import redis.asyncio as aioredis

    from exchange.api.fastredis import PipelinedRedis
    from exchange.api.ratelimit import RateLimiter, lease_size

    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    fast = PipelinedRedis.from_url(redis_url) if pipelined else None
    prefix = f"rl-test-{new_email()}:"
    one, other = RateLimiter(client, prefix=prefix, fast=fast), RateLimiter(client, prefix=prefix, fast=fast)
    rule = RateLimit(200, 60)
    try:
        assert await _admitted(one, "7", rule, 150) == 150
        later = await _admitted(other, "7", rule, 100)
        assert 200 - 150 - (lease_size(200) - 1) <= later <= 50, later
        assert await _admitted(one, "7", rule, 20) + later <= 50  # never more than the limit in all
    finally:
        if fast is not None:
            await fast.aclose()
        await client.aclose()
