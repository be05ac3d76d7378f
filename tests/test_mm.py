"""The demo market maker against a live API (uvicorn subprocess) on real Redis and PostgreSQL."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from exchange.mm import (
    UNPACED,
    ApiUnavailable,
    MarketMaker,
    MarketState,
    Pacer,
    Session,
    UnknownMarkets,
    api_url,
    default_rate,
    parse_markets,
)
from exchange.seed import seed_all
from exchange.servers import free_port

REPO = Path(__file__).resolve().parents[1]


class ApiProcess:
    def __init__(self, redis_url: str, pg_url: str, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "EXCHANGE_REDIS_URL": redis_url,
            "EXCHANGE_DATABASE_URL": pg_url,
            "EXCHANGE_JWT_SECRET": "mm-test-secret-" + "0123456789abcdef" * 3,
            "EXCHANGE_DEMO": "1",
            "EXCHANGE_FRONTEND_DIST": "/nonexistent",
        }
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        cmd = [
            sys.executable, "-m", "uvicorn", "exchange.api.app:create_app", "--factory",
            "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning",
        ]  # fmt: skip
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(cmd, cwd=REPO, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()[-2000:]
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError("API did not start: " + self.log.read_text()[-2000:])

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


@pytest.fixture
def api(redis_url: str, pg_url: str, tmp_path: Path) -> Iterator[ApiProcess]:
    seed_all(redis_url)
    process = ApiProcess(redis_url, pg_url, tmp_path / "api.log")
    process.start()
    try:
        yield process
    finally:
        process.stop()


async def mocked_maker(handler: Callable[[httpx.Request], httpx.Response], **options: Any) -> MarketMaker:
    """A MarketMaker whose HTTP client `handler` answers (an httpx.MockTransport handler), not a server."""
    mm = MarketMaker("http://mm.test", **options)
    await mm.http.aclose()  # its own client, replaced by one that answers as the API would
    transport = httpx.MockTransport(handler)
    mm.http = mm.maker.http = httpx.AsyncClient(base_url="http://mm.test", transport=transport)
    return mm


async def test_market_maker_makes_a_book_and_trades_within_seconds(api: ApiProcess, redis_url: str) -> None:
    """Within a few seconds the market maker leaves bids and asks on the book and its taker makes trades."""
    symbols = ["BTC-USDT", "ETH-USDT"]
    mm = MarketMaker(api.url, symbols=symbols, interval_s=0.3)
    stop = asyncio.Event()
    task = asyncio.create_task(mm.run(duration_s=20, stop=stop))
    try:
        deadline = time.monotonic() + 15
        async with httpx.AsyncClient(base_url=api.url) as http:
            while time.monotonic() < deadline:
                await asyncio.sleep(0.5)
                with redis.Redis.from_url(redis_url, decode_responses=True, protocol=2) as client:
                    trades = {s: client.llen(f"trades:{s}") for s in symbols}
                book = (await http.get("/api/markets/BTC-USDT/book")).json()
                if all(trades.values()) and len(book["bids"]) >= 3 and len(book["asks"]) >= 3:
                    break
        assert all(trades.values()), trades
        assert len(book["bids"]) >= 3 and len(book["asks"]) >= 3
        assert float(book["bids"][0][0]) < float(book["asks"][0][0])
    finally:
        stop.set()
        await task
        await mm.cancel_quotes()
        await mm.close()
    assert mm.placed > 0 and mm.trades > 0


async def test_market_maker_survives_an_api_restart(api: ApiProcess, redis_url: str) -> None:
    """When the API goes away and comes back, the market maker retries and trades again."""
    symbols = ["BTC-USDT"]
    mm = MarketMaker(api.url, symbols=symbols, interval_s=0.3)
    stop = asyncio.Event()
    task = asyncio.create_task(mm.run(duration_s=90, stop=stop))
    try:
        await _wait_for(lambda: mm.trades > 0, 15)
        api.stop()
        await asyncio.sleep(1.5)
        assert not task.done()
        before = mm.trades
        await asyncio.to_thread(api.start)
        await _wait_for(lambda: mm.trades > before, 45)
    finally:
        stop.set()
        await task
        await mm.close()
    assert mm.trades > before


async def _wait_for(predicate: object, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        await asyncio.sleep(0.2)
    raise AssertionError("condition not reached in time")


async def test_a_refused_quote_for_lack_of_funds_is_logged_with_the_apis_reason(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """When the API refuses a quote with INSUFFICIENT_FUNDS, the warning carries the API's message and
    names both likely causes (no demo mode, or an asset's demo supply used up); once a minute at most."""

    def api(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/auth/login":
            tokens = {"access_token": "a", "refresh_token": "r", "token_type": "bearer", "expires_in": 600}
            return httpx.Response(200, json=tokens)
        message = "insufficient USDT: 3 available, 60.12 needed (with the taker fee)"
        return httpx.Response(409, json={"error": {"code": "INSUFFICIENT_FUNDS", "message": message}})

    mm = await mocked_maker(api)
    body = {"symbol": "BTC-USDT", "side": "buy", "type": "limit", "price": "60000", "qty": "0.001"}
    try:
        with caplog.at_level("WARNING", logger="exchange.mm"):
            assert await mm._place(mm.maker, body) is None
            assert await mm._place(mm.maker, body) is None
    finally:
        await mm.close()
    warnings = [r.getMessage() for r in caplog.records if "lacks funds" in r.getMessage()]
    assert len(warnings) == 1, warnings
    assert "insufficient USDT: 3 available, 60.12 needed" in warnings[0]
    assert "EXCHANGE_DEMO=1" in warnings[0] and "supply" in warnings[0]


async def test_a_rate_limited_quote_is_logged_with_the_apis_limit_once_a_minute(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the API's order rate limit refuses quotes (429), a WARNING names the limit in the API's words,
    the Retry-After and what to change, once a minute at most, instead of a book that stays empty
    without a word in mm.log."""

    def api(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/auth/login":
            tokens = {"access_token": "a", "refresh_token": "r", "token_type": "bearer", "expires_in": 600}
            return httpx.Response(200, json=tokens)
        message = "Too many orders (at most 5 a second): try again in 1 s"
        error = {"code": "RATE_LIMITED", "message": message}
        return httpx.Response(429, headers={"Retry-After": "1"}, json={"error": error})

    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr("exchange.mm.asyncio.sleep", sleep)
    mm = await mocked_maker(api, levels=3)
    body = {"symbol": "BTC-USDT", "side": "buy", "type": "limit", "price": "60000", "qty": "0.001"}
    try:
        with caplog.at_level("WARNING", logger="exchange.mm"):
            assert await mm._place(mm.maker, body) is None
            assert await mm._place(mm.maker, body) is None
            assert await mm._cancel(7) is False
    finally:
        await mm.close()
    # it still waits as the API asks: each refusal holds the account's next request for the Retry-After
    assert slept == [pytest.approx(1.0, abs=0.05)] * 2, slept
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1, warnings
    assert "Too many orders (at most 5 a second): try again in 1 s" in warnings[0]
    assert "Retry-After: 1 s" in warnings[0] and "mm-maker@demo.exchange" in warnings[0]
    assert (
        "EXCHANGE_RATE_ORDERS" in warnings[0]
        and "--levels (3)" in warnings[0]
        and "--rate (100)" in warnings[0]
    )


async def test_quotes_it_could_not_cancel_at_stop_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    """At stop the market maker cancels its quotes through the API; when the API is already gone it says
    so (they rest until its next start) instead of failing silently."""

    def api(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/auth/login":
            tokens = {"access_token": "a", "refresh_token": "r", "token_type": "bearer", "expires_in": 600}
            return httpx.Response(200, json=tokens)
        raise httpx.ConnectError("All connection attempts failed", request=request)

    mm = await mocked_maker(api)
    try:
        with caplog.at_level("INFO", logger="exchange.mm"):
            await mm.cancel_quotes()
    finally:
        await mm.close()
    records = [r for r in caplog.records if r.name == "exchange.mm"]
    assert [r.levelname for r in records] == ["WARNING"]
    assert "could not cancel the quotes" in records[0].getMessage()
    assert "All connection attempts failed" in records[0].getMessage()


async def test_a_quote_whose_cancel_fails_is_cancelled_at_the_next_requote() -> None:
    """Old quotes whose cancel the API refuses (429 from the order rate limit) or that were placed just before
    the API went away stay in the maker's list, and a later re-quote cancels them: the book keeps only the
    current ladder, instead of collecting quotes until the market maker restarts."""
    resting: set[int] = set()
    ids = itertools.count(1)
    faults = {"refuse_cancels": 0, "posts_before_outage": -1}

    def api(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/api/auth/login":
            tokens = {"access_token": "a", "refresh_token": "r", "token_type": "bearer", "expires_in": 600}
            return httpx.Response(200, json=tokens)
        if request.method == "POST" and path == "/api/orders":
            if faults["posts_before_outage"] == 0:
                raise httpx.ConnectError("API down", request=request)
            faults["posts_before_outage"] -= 1
            order_id = next(ids)
            resting.add(order_id)
            return httpx.Response(201, json={"id": order_id, "status": "open"})
        if request.method == "DELETE":
            if faults["refuse_cancels"] > 0:
                faults["refuse_cancels"] -= 1
                error = {"code": "RATE_LIMITED", "message": "too many orders"}
                return httpx.Response(429, headers={"Retry-After": "0"}, json={"error": error})
            order_id = int(path.rsplit("/", 1)[1])
            if order_id not in resting:
                error = {"code": "ORDER_CLOSED", "message": "order is closed"}
                return httpx.Response(409, json={"error": error})
            resting.remove(order_id)
            return httpx.Response(200, json={"id": order_id, "status": "cancelled"})
        return httpx.Response(404, json={"error": {"code": "NOT_FOUND", "message": path}})

    mm = await mocked_maker(api, levels=2, rng=random.Random(1))
    one = Decimal(1)
    market = MarketState("BTC-USDT", Decimal("0.01"), Decimal("0.00001"), one / 100_000, one, Decimal(60_000))
    try:
        await mm.quote(market)
        assert resting == {1, 2, 3, 4}
        faults["refuse_cancels"] = 4  # every cancel of this re-quote is refused
        await mm.quote(market)
        assert resting == set(range(1, 9)) and sorted(market.live) == list(range(1, 9))
        await mm.quote(market)
        assert resting == {9, 10, 11, 12}
        faults["posts_before_outage"] = 2  # two quotes placed, then the API goes away
        with pytest.raises(ApiUnavailable):
            await mm.quote(market)
        assert resting == set(range(9, 15))
        faults["posts_before_outage"] = -1
        await mm.quote(market)
        assert resting == {15, 16, 17, 18} and sorted(market.live) == [15, 16, 17, 18]
    finally:
        await mm.close()


async def test_a_short_lived_token_is_renewed_near_its_end_not_at_every_request() -> None:
    """With access tokens of 30 s the market maker logs in once and then uses its token for 20 requests in
    a row (it renews in the token's last quarter), instead of refreshing at every request, which hit the
    login rate limits and locked out every user on the same address."""
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if request.url.path in ("/api/auth/login", "/api/auth/refresh"):
            return httpx.Response(200, json={"access_token": "a", "refresh_token": "r", "expires_in": 30})
        if request.url.path == "/api/me":
            return httpx.Response(200, json={"id": 7})
        return httpx.Response(200, json={})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url="http://mm.test") as http:
        session = Session(http=http, email="mm@example.com", password="x")
        for _ in range(20):
            assert (await session.request("GET", "/api/balances")).status_code == 200
    assert calls.count("/api/auth/login") == 1 and calls.count("/api/auth/refresh") == 0, calls
    assert calls.count("/api/balances") == 20


def test_the_default_rate_is_half_the_apis_order_limit_and_unpaced_without_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """EXCHANGE_RATE_ORDERS=300: 150 a second; unset: 100; 0 (the API sets no limit): unpaced, not 1."""
    for limit, rate in (("300", 150.0), (None, 100.0), ("0", UNPACED)):
        if limit is None:
            monkeypatch.delenv("EXCHANGE_RATE_ORDERS", raising=False)
        else:
            monkeypatch.setenv("EXCHANGE_RATE_ORDERS", limit)
        assert default_rate() == rate


def test_a_pacer_lets_a_burst_go_then_one_request_per_gap_and_holds_for_a_retry_after() -> None:
    """At 10 a second with a burst of 3: three requests go at once, the next ones 0.1 s apart; time
    passing refills the burst; `hold(1)` sends nothing for a second, then the steady pace resumes."""
    now = [100.0]
    pacer = Pacer(10, burst=3, clock=lambda: now[0])
    assert [round(pacer.delay(), 6) for _ in range(5)] == [0, 0, 0, 0.1, 0.2]
    now[0] += 10  # a quiet spell: the full burst again
    assert [round(pacer.delay(), 6) for _ in range(4)] == [0, 0, 0, 0.1]
    now[0] += 10
    pacer.hold(1)
    assert [round(pacer.delay(), 6) for _ in range(3)] == [1.0, 1.1, 1.2]
    with pytest.raises(ValueError):
        Pacer(0)


async def test_six_markets_requoted_back_to_back_stay_under_the_apis_default_order_limit() -> None:
    """Re-quoting all six demo markets (5 levels: 60 orders and 60 cancels a re-quote) with no pause between
    re-quotes, against an API that counts orders and cancels in fixed one-second windows as ours does (200
    a second): not one request is refused, and the market maker still sends over 80 a second. Unpaced,
    every re-quote fired its 120 requests at once and two re-quotes met in one window (CI's mm.log)."""
    windows: dict[int, int] = {}
    refused = [0]
    started = time.monotonic()
    ids = itertools.count(1)

    def api(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/auth/login":
            tokens = {"access_token": "a", "refresh_token": "r", "token_type": "bearer", "expires_in": 600}
            return httpx.Response(200, json=tokens)
        if not request.url.path.startswith("/api/orders"):
            return httpx.Response(404, json={"error": {"code": "NOT_FOUND", "message": "not here"}})
        window = int(time.monotonic() - started)
        windows[window] = windows.get(window, 0) + 1
        if windows[window] > 200:
            refused[0] += 1
            error = {"code": "RATE_LIMITED", "message": "too many orders"}
            return httpx.Response(429, headers={"Retry-After": "1"}, json={"error": error})
        if request.method == "POST":
            return httpx.Response(201, json={"id": next(ids), "status": "open"})
        return httpx.Response(200, json={"status": "cancelled"})

    mm = await mocked_maker(api, levels=5)
    one = Decimal(1)
    markets = [
        MarketState(f"M{i}-USDT", Decimal("0.01"), Decimal("0.00001"), one / 100_000, one, Decimal(60_000))
        for i in range(6)
    ]
    try:
        while time.monotonic() - started < 3.0:
            await asyncio.gather(*(mm.quote(m) for m in markets))
    finally:
        await mm.close()
    sent = sum(windows.values())
    assert refused[0] == 0, f"{refused[0]} refused; per window: {windows}"
    assert sent / (time.monotonic() - started) > 80, f"only {sent} requests in 3 s: {windows}"


async def test_markets_the_api_does_not_list_stop_the_market_maker_naming_them() -> None:
    """`--markets` in any case names the same markets; one the API does not list ends the run at once with
    UnknownMarkets naming it and the markets there are (the command exits 2), instead of quoting nothing
    and exiting 0."""
    assert parse_markets(" btc-usdt,Eth-Usdt ,") == ["BTC-USDT", "ETH-USDT"] and parse_markets("") is None

    def api(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/auth/login":
            tokens = {"access_token": "a", "refresh_token": "r", "token_type": "bearer", "expires_in": 600}
            return httpx.Response(200, json=tokens)
        if request.url.path == "/api/markets":
            return httpx.Response(200, json=[{"symbol": "BTC-USDT", "status": "trading"}])
        return httpx.Response(404, json={"error": {"code": "NOT_FOUND", "message": "not here"}})

    mm = await mocked_maker(api, symbols=["BTC-USDT", "NOPE-X"])
    mm.taker.http = mm.http
    try:
        with pytest.raises(UnknownMarkets, match=r"no market NOPE-X at http://mm.test \(it lists BTC-USDT\)"):
            await asyncio.wait_for(mm.run(duration_s=30), timeout=10)
    finally:
        await mm.close()


def test_the_api_url_is_the_option_else_the_environment_else_the_running_stacks_else_port_8000(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`exchange mm` finds a stack started on another port from its stack.json, as the other commands do."""
    monkeypatch.delenv("EXCHANGE_API_URL", raising=False)
    stack = {"supervisor_pid": os.getpid(), "api_url": "http://127.0.0.1:8791"}
    (tmp_path / "stack.json").write_text(json.dumps(stack))
    assert api_url(None, str(tmp_path)) == "http://127.0.0.1:8791"
    assert api_url("http://h:1", str(tmp_path)) == "http://h:1"
    assert api_url(None, str(tmp_path / "none")) == "http://127.0.0.1:8000"
    monkeypatch.setenv("EXCHANGE_API_URL", "http://env:2")
    assert api_url(None, str(tmp_path)) == "http://env:2"
