"""WebSocket limits beyond one connection: connection caps per client address and per account (across API
processes), the shared snapshot budget, and the end of private data when the access token expires."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
import redis.asyncio as aioredis
from websockets.exceptions import ConnectionClosed

from exchange.api.app import create_app
from exchange.api.auth import TokenService
from exchange.api.settings import RateLimit, Settings
from exchange.api.ws import WsSettings
from exchange.api.ws.limits import ConnectionSlots
from tests.api.test_ws_support import PRICE, SYMBOL, Client, LiveServer, engine_for, fund, token

PATHS = pytest.mark.parametrize("ws_impl", ["auto", "websockets"], ids=["direct-write", "asgi-queue"])


@pytest.fixture
def serve(settings: Settings) -> Iterator[Any]:
    """`serve(ws_settings, ws="auto", settings=None)`: a live app with these WebSocket limits (stopped at
    teardown)."""
    servers: list[LiveServer] = []

    def start(limits: WsSettings, ws: str = "auto", api: Settings | None = None) -> LiveServer:
        app = create_app(api or settings)
        app.state.ws_settings = limits
        server = LiveServer(app, ws=ws).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def close_code(client: Client, timeout: float = 5.0) -> int:
    """Read (and keep) frames until the server closes the connection; its close code."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            client.recv(timeout=max(0.01, deadline - time.monotonic()))
        except ConnectionClosed as closed:
            assert closed.rcvd is not None, "the server sent no close frame"
            return closed.rcvd.code


def admitted(url: str, timeout: float = 5.0) -> Client:
    """A connection the server keeps (answers a ping), retrying while it is refused."""
    deadline = time.monotonic() + timeout
    while True:
        c = Client(url)
        # a refused connection gets its error frame unasked (no req_id) and may be closed before the ping goes
        # out; the frames read before the close stay readable
        with contextlib.suppress(ConnectionClosed):
            c.send({"op": "ping", "req_id": "p"})
        answer = c.until(lambda f: f.get("req_id") == "p" or f.get("op") == "error")
        if answer["op"] == "pong":
            return c
        assert answer["error"]["code"] == "TOO_MANY_CONNECTIONS", answer
        c.close()
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} still refuses a connection after {timeout} s")
        time.sleep(0.05)


def refused(client: Client) -> dict[str, Any]:
    """The error frame of a connection turned away at the handshake (the server speaks first)."""
    frame = client.recv()
    assert frame["op"] == "error", frame
    return frame


def short_lived(settings: Settings) -> Settings:
    """Access tokens that live 1 to 2 s (`exp` is whole seconds)."""
    return replace(settings, access_ttl_s=2)


# --- connection caps ------------------------------------------------------------------------------


@PATHS
def test_a_connection_beyond_the_per_address_cap_gets_too_many_connections_and_close_4029(serve, ws_impl):
    """With at most 3 per address, the 4th connection gets TOO_MANY_CONNECTIONS and close code 4029; once
    one of the 3 closes, a new one is admitted."""
    server = serve(WsSettings(max_per_ip=3), ws=ws_impl)
    kept = [admitted(server.ws_url) for _ in range(3)]
    extra = Client(server.ws_url)
    assert refused(extra)["error"]["code"] == "TOO_MANY_CONNECTIONS"
    assert close_code(extra) == 4029
    kept.pop().close()
    kept.append(admitted(server.ws_url))  # the closed one's slot is released
    for c in kept:
        assert c.request({"op": "ping", "req_id": 1})["op"] == "pong"
        c.close()


def test_the_per_address_cap_holds_across_api_processes(serve):
    """Two API processes on one Redis share the cap: 2 per address means 2 in all, not 2 on each."""
    first, second = serve(WsSettings(max_per_ip=2)), serve(WsSettings(max_per_ip=2))
    a, b = admitted(first.ws_url), admitted(second.ws_url)
    for url in (first.ws_url, second.ws_url):
        extra = Client(url)
        assert refused(extra)["error"]["code"] == "TOO_MANY_CONNECTIONS"
        assert close_code(extra) == 4029
    a.close()
    admitted(second.ws_url).close()
    b.close()


@PATHS
def test_authenticating_beyond_the_per_account_cap_is_refused_and_closed_4029(serve, settings, ws_impl):
    """With at most 2 per account, a 3rd connection's `auth` answers TOO_MANY_CONNECTIONS (by req_id) and
    the server closes it with 4029; re-authenticating a counted connection takes no second place, and
    another account is not affected."""
    server = serve(WsSettings(max_per_account=2), ws=ws_impl)
    clients = [Client(server.ws_url) for _ in range(3)]
    for c in clients[:2]:
        assert c.request({"op": "auth", "req_id": "a", "token": token(settings, 7)})["op"] == "authenticated"
    again = clients[0].request({"op": "auth", "req_id": "again", "token": token(settings, 7)})
    assert again["op"] == "authenticated"
    answer = clients[2].request({"op": "auth", "req_id": "a3", "token": token(settings, 7)})
    assert answer["op"] == "error" and answer["error"]["code"] == "TOO_MANY_CONNECTIONS"
    assert close_code(clients[2]) == 4029
    other = Client(server.ws_url)
    assert other.request({"op": "auth", "req_id": "o", "token": token(settings, 8)})["op"] == "authenticated"
    clients[1].close()  # its place is released: the account may connect again
    deadline = time.monotonic() + 5
    while True:
        c = Client(server.ws_url)
        answer = c.request({"op": "auth", "req_id": "r", "token": token(settings, 7)})
        if answer["op"] == "authenticated":
            break
        assert time.monotonic() < deadline, answer
        c.close()
        time.sleep(0.05)
    for x in (clients[0], other, c):
        x.close()


async def test_slots_of_a_process_that_died_stop_counting_after_the_lease(redis_url):
    """Slots a process keeps renewing outlive the lease; once it stops (as a dead process does) without
    releasing them, they lapse within the lease and another process may take them."""
    client = aioredis.Redis.from_url(redis_url, decode_responses=True, protocol=2)
    try:
        dying, other = ConnectionSlots(client, lease_s=2.0), ConnectionSlots(client, lease_s=2.0)
        assert await dying.take("ip", "198.51.100.1", 2) is not None
        assert await dying.take("ip", "198.51.100.1", 2) is not None
        await asyncio.sleep(3.0)  # past the first lease: renewals (every 0.67 s) alone keep them
        assert await other.take("ip", "198.51.100.1", 2) is None
        await dying.stop()  # the process dies: no release, no more renewals
        deadline = time.monotonic() + 5
        while await other.take("ip", "198.51.100.1", 2) is None:
            assert time.monotonic() < deadline, "the dead process's slots never lapsed"
            await asyncio.sleep(0.1)
        await other.stop()
    finally:
        await client.aclose()


async def test_a_released_slot_frees_its_place_at_once_and_renewing_does_not_bring_it_back(redis_url):
    """`release` removes the slot from Redis; a renewal after it leaves it removed."""
    client = aioredis.Redis.from_url(redis_url, decode_responses=True, protocol=2)
    try:
        slots = ConnectionSlots(client, lease_s=30.0)
        slot = await slots.take("account", "5", 1)
        assert slot is not None and await slots.take("account", "5", 1) is None
        await slots.release(slot)
        await slots.renew()
        assert await client.zcard(slots.key("account", "5")) == 0
        assert await slots.take("account", "5", 1) is not None
        assert slots.held() == 1
        await slots.stop()
    finally:
        await client.aclose()


# --- the snapshot budget --------------------------------------------------------------------------


def test_book_and_candles_subscriptions_share_one_budget_across_connections(serve):
    """5 snapshot subscriptions per minute per address: churning `book:*` / `candles:*` over 3 connections
    gets 5 acks in all, then RATE_LIMITED with retry_after and no snapshot; other channels still
    subscribe."""
    server = serve(WsSettings(snapshots=RateLimit(5, 60)))
    clients = [Client(server.ws_url) for _ in range(3)]
    channels = [f"book:{SYMBOL}", f"candles:{SYMBOL}:1m"]
    answers = []
    for i in range(9):
        c, channel = clients[i % 3], channels[i % 2]
        answers.append(c.request({"op": "subscribe", "req_id": i, "channels": [channel]}))
        c.request({"op": "unsubscribe", "req_id": f"u{i}", "channels": [channel]})
    assert [a["op"] for a in answers] == ["subscribed"] * 5 + ["error"] * 4, answers
    for limited in answers[5:]:
        assert limited["error"]["code"] == "RATE_LIMITED"
        assert 1 <= limited["error"]["retry_after"] <= 60
    assert (
        clients[0].request({"op": "subscribe", "req_id": "t", "channels": ["tickers"]})["op"] == "subscribed"
    )
    for c in clients:
        frames = c.barrier()
        snapshots = [f for f in c.frames if f.get("channel") == f"book:{SYMBOL}" and f["type"] == "snapshot"]
        assert len(snapshots) <= 2, frames  # 3 book acks in all, spread over the 3 connections
        c.close()


def test_an_account_spends_its_snapshot_budget_on_all_its_connections(serve, settings):
    """After `auth`, book subscriptions count against the account (3 per minute) whatever the connection;
    a connection of another account has its own budget."""
    server = serve(WsSettings(snapshots=RateLimit(3, 60)))
    a1, a2, b = Client(server.ws_url), Client(server.ws_url), Client(server.ws_url)
    for c, account in ((a1, 17), (a2, 17), (b, 18)):
        c.request({"op": "auth", "req_id": "a", "token": token(settings, account)})
    ops = []
    for i in range(4):
        c = (a1, a2)[i % 2]
        ops.append(c.request({"op": "subscribe", "req_id": i, "channels": [f"book:{SYMBOL}"]})["op"])
        c.request({"op": "unsubscribe", "req_id": f"u{i}", "channels": [f"book:{SYMBOL}"]})
    assert ops == ["subscribed", "subscribed", "subscribed", "error"]
    assert b.request({"op": "subscribe", "req_id": "b", "channels": [f"book:{SYMBOL}"]})["op"] == "subscribed"
    for c in (a1, a2, b):
        c.close()


def test_the_frame_limit_error_says_when_to_retry(serve):
    """RATE_LIMITED for too many frames on one connection carries retry_after too."""
    server = serve(WsSettings(frames_per_s=2))
    c = Client(server.ws_url)
    for i in range(8):
        c.send({"op": "ping", "req_id": i})
    limited = c.until(lambda f: f.get("op") == "error")
    assert limited["error"]["code"] == "RATE_LIMITED" and limited["error"]["retry_after"] == 1
    c.close()


# --- token expiry ---------------------------------------------------------------------------------


@PATHS
def test_private_frames_stop_at_token_expiry_with_token_expired_and_close_4001(serve, settings, ws_impl):
    """A connection subscribed to `orders` and `balances` whose token expires without a fresh `auth` gets
    TOKEN_EXPIRED, then close code 4001; an order placed afterwards reaches it no more."""
    api = short_lived(settings)
    engine = engine_for(settings.redis_url or "")
    fund(engine, 61)
    server = serve(WsSettings(), ws=ws_impl, api=api)
    c = Client(server.ws_url)
    authed = c.request({"op": "auth", "req_id": "a", "token": token(api, 61)})
    assert authed["op"] == "authenticated"
    c.request({"op": "subscribe", "req_id": "s", "channels": ["orders", "balances", f"trades:{SYMBOL}"]})
    expired = c.until(lambda f: f.get("op") == "error", timeout=5)
    assert expired["error"]["code"] == "TOKEN_EXPIRED" and "req_id" not in expired
    assert time.time() * 1000 >= authed["expires_at"]
    assert close_code(c) == 4001
    engine.place(61, SYMBOL, "buy", "limit", price=PRICE - 100_000, qty=10, ts_ms=int(time.time() * 1000))
    assert not any(f.get("channel") in ("orders", "balances") for f in c.frames)


def test_re_sending_auth_before_expiry_keeps_the_private_subscriptions(serve, settings):
    """Tokens of 2-3 s, a fresh `auth` every 0.3 s: 5 s later (past the first token's life) the connection
    is open, was never told TOKEN_EXPIRED, and still receives the account's orders. (Each token outlives
    the next `auth` by more than a second and a half, so a slow machine does not end it early.)"""
    api = replace(settings, access_ttl_s=3)
    engine = engine_for(settings.redis_url or "")
    fund(engine, 62)
    server = serve(WsSettings(), api=api)
    issuer = TokenService(api)
    c = Client(server.ws_url)
    c.request({"op": "auth", "req_id": "a", "token": issuer.issue_access(62)})
    assert c.request({"op": "subscribe", "req_id": "s", "channels": ["orders"]})["op"] == "subscribed"
    until = time.monotonic() + 5
    n = 0
    while time.monotonic() < until:
        n += 1
        answer = c.request({"op": "auth", "req_id": f"a{n}", "token": issuer.issue_access(62)})
        assert answer["op"] == "authenticated", answer
        time.sleep(0.3)
    order = engine.place(
        62, SYMBOL, "buy", "limit", price=PRICE - 100_000, qty=10, ts_ms=int(time.time() * 1000)
    )
    assert [o["id"] for o in c.channel("orders")["data"]] == [order["order"]["id"]]
    assert not any(f.get("op") == "error" for f in c.frames)
    c.close()


def test_a_connection_without_private_subscriptions_stays_open_after_its_token_expires(serve, settings):
    """Only private data ends with the token: the connection is told (TOKEN_EXPIRED, no close), public
    channels go on, `ping` answers, and `place` answers INVALID_TOKEN until a fresh `auth`."""
    api = short_lived(settings)
    server = serve(WsSettings(), api=api)
    c = Client(server.ws_url)
    authed = c.request({"op": "auth", "req_id": "a", "token": token(api, 63)})
    c.request({"op": "subscribe", "req_id": "s", "channels": [f"trades:{SYMBOL}"]})
    time.sleep(max(0.0, authed["expires_at"] / 1000 - time.time()) + 0.3)  # past `exp`
    assert c.request({"op": "ping", "req_id": "p"})["op"] == "pong"
    place = {"op": "place", "req_id": "o", "symbol": SYMBOL, "side": "buy", "type": "limit", "price": "1"}
    assert c.request(place | {"qty": "1"})["error"]["code"] == "INVALID_TOKEN"
    told = [f for f in c.frames if f.get("op") == "error" and f["error"]["code"] == "TOKEN_EXPIRED"]
    assert len(told) == 1 and told[0]["error"]["message"].endswith("(public channels stay)"), c.frames
    c.close()
