"""The WebSocket `/ws` against a live app on real Redis and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
import redis
from websockets.exceptions import InvalidStatus

from exchange.api import hub as hub_module
from exchange.api.app import create_app
from exchange.api.auth import TokenService
from exchange.api.hub import Hub, Topic
from exchange.api.schemas import Order
from exchange.api.settings import Settings
from exchange.api.ws import session as session_module
from exchange.api.ws import topics
from exchange.api.ws.topics import BookTopic
from tests.api.conftest import DeadPool
from tests.api.test_ws_support import (
    PRICE,
    SYMBOL,
    Client,
    LiveServer,
    apply_levels,
    engine_for,
    fund,
    ordered,
    token,
    ws_settings,
)


@pytest.fixture
def live(settings: Settings) -> Iterator[LiveServer]:
    server = LiveServer(create_app(settings)).start()
    yield server
    server.stop()


@pytest.fixture(params=["auto", "websockets"], ids=["direct-write", "asgi-queue"])
def live_each_path(request: pytest.FixtureRequest, settings: Settings) -> Iterator[LiveServer]:
    """The app under uvicorn's default protocol (sessions write frames straight to the socket) and under
    its legacy one (frames go through each session's queue and ASGI send)."""
    server = LiveServer(create_app(settings), ws=request.param).start()
    yield server
    server.stop()


@pytest.fixture
def engine(seeded: str) -> Any:
    return engine_for(seeded)


def now_ms() -> int:
    return int(time.time() * 1000)


def away_from_minute_end(margin_s: float = 3.0) -> None:
    """Sleep past the next minute boundary when it is near, so a candle test stays inside one bucket."""
    left = 60 - time.time() % 60
    if left < margin_s:
        time.sleep(left + 0.05)


def trade(eng, maker: int, taker: int, price: int = PRICE, qty: int = 100) -> dict:
    """A resting sell of `maker` hit by a buy of `taker`: one trade at `price`."""
    eng.place(maker, SYMBOL, "sell", "limit", price=price, qty=qty, ts_ms=now_ms())
    return eng.place(taker, SYMBOL, "buy", "limit", price=price, qty=qty, ts_ms=now_ms())


def test_book_snapshot_then_contiguous_updates_reproduce_the_book_after_a_random_flow(live_each_path, engine):
    """Snapshot + updates (seq contiguous) applied locally equal a fresh snapshot after random orders."""
    for account in (1, 2, 3):
        fund(engine, account)
    c = Client(live_each_path.ws_url)
    assert c.request({"op": "subscribe", "req_id": 1, "channels": [f"book:{SYMBOL}"]})["op"] == "subscribed"
    snap = c.channel(f"book:{SYMBOL}")
    assert snap["type"] == "snapshot"
    book = {"bids": {}, "asks": {}}
    apply_levels(book, snap)
    seq = snap["seq"]

    rng = random.Random(7)
    open_orders: list[tuple[int, int]] = []
    for _ in range(250):
        account = rng.choice((1, 2, 3))
        if open_orders and rng.random() < 0.25:
            owner, order_id = open_orders.pop(rng.randrange(len(open_orders)))
            with contextlib.suppress(Exception):  # already filled or cancelled
                engine.cancel(owner, order_id, ts_ms=now_ms())
            continue
        side = rng.choice(("buy", "sell"))
        price = PRICE + rng.randint(-30, 30) * 100
        result = engine.place(
            account, SYMBOL, side, "limit", price=price, qty=rng.randint(10, 300), ts_ms=now_ms()
        )
        if result["order"]["status"] in ("open", "partially_filled"):
            open_orders.append((account, int(result["order"]["id"])))
    final = engine.book(SYMBOL, 1000)
    assert final["seq"] > seq

    while seq < final["seq"]:
        frame = c.channel(f"book:{SYMBOL}")
        assert frame["type"] == "update"
        assert frame["first_seq"] == seq + 1, "updates are contiguous"
        assert frame["seq"] >= frame["first_seq"]
        seq = frame["seq"]
        apply_levels(book, frame)

    fresh = Client(live_each_path.ws_url)
    fresh.send({"op": "subscribe", "channels": [f"book:{SYMBOL}"]})
    snap2 = fresh.channel(f"book:{SYMBOL}")
    assert snap2["type"] == "snapshot" and snap2["seq"] == final["seq"]
    assert ordered(book) == {"bids": snap2["bids"], "asks": snap2["asks"]}
    assert len(snap2["bids"]) + len(snap2["asks"]) > 5
    c.close()
    fresh.close()


def test_private_channels_reach_only_their_owner(live, engine, settings):
    """Account A's orders and balances frames go to A's connections only, never to account B."""
    fund(engine, 11)
    fund(engine, 12)
    a, b = Client(live.ws_url), Client(live.ws_url)
    for client, account in ((a, 11), (b, 12)):
        assert (
            client.request({"op": "auth", "req_id": "a", "token": token(settings, account)})["account_id"]
            == account
        )
        client.request({"op": "subscribe", "req_id": "s", "channels": ["orders", "balances"]})
    result = a.request(
        {
            "op": "place",
            "req_id": "p1",
            "symbol": SYMBOL,
            "side": "buy",
            "type": "limit",
            "price": "50000",
            "qty": "0.01",
        }
    )
    assert result["op"] == "result" and result["data"]["status"] == "open"
    order_id = result["data"]["id"]
    orders = a.channel("orders")
    assert [o["id"] for o in orders["data"]] == [order_id]
    assert orders["data"][0]["price"] == "50000" and orders["data"][0]["qty"] == "0.01"
    balances = a.channel("balances")
    usdt = next(x for x in balances["data"] if x["asset"] == "USDT")
    assert Decimal(usdt["held"]) >= Decimal("500")
    # B's order activity goes to B only; A sees none of it, B never saw A's
    b_id = engine.place(12, SYMBOL, "sell", "limit", price=7_000_000, qty=10, ts_ms=now_ms())["order"]["id"]
    assert [o["id"] for o in b.channel("orders")["data"]] == [b_id]
    a.barrier()
    b.barrier()
    a_frames, b_frames = list(a.frames), list(b.frames)
    assert not any(f.get("channel") == "orders" and any(o["id"] == b_id for o in f["data"]) for f in a_frames)
    assert not any(
        f.get("channel") == "orders" and any(o["id"] == order_id for o in f["data"]) for f in b_frames
    )
    assert sum(f.get("channel") == "balances" for f in a_frames) == 1
    a.close()
    b.close()


def test_the_history_channel_tells_only_the_owner_which_orders_postgresql_now_holds(
    live, engine, settings, seeded, pg_url
):
    """`history` needs auth; once a worker commits account A's order, A's connection gets its id (and REST's
    order history then shows it), while B, subscribed to its own `history`, gets nothing of A's."""
    from workers.persist import drain

    fund(engine, 31)
    fund(engine, 32)
    anonymous = Client(live.ws_url)
    refused = anonymous.request({"op": "subscribe", "req_id": "s", "channels": ["history"]})
    assert refused["error"]["code"] == "AUTH_REQUIRED"
    anonymous.close()
    a, b = Client(live.ws_url), Client(live.ws_url)
    for client, account in ((a, 31), (b, 32)):
        client.request({"op": "auth", "req_id": "a", "token": token(settings, account)})
        client.request({"op": "subscribe", "req_id": "s", "channels": ["history"]})
    order_id = engine.place(31, SYMBOL, "buy", "limit", price=PRICE - 100_000, qty=10, ts_ms=now_ms())[
        "order"
    ]["id"]
    drain(seeded, pg_url)
    assert a.channel("history") == {"channel": "history", "data": {"orders": [order_id]}}
    b.barrier()
    assert not any(f.get("channel") == "history" for f in b.frames)
    listed = httpx.get(
        f"{live.http_url}/api/orders",
        params={"status": "all"},
        headers={"Authorization": f"Bearer {token(settings, 31)}"},
    )
    assert [o["id"] for o in listed.json()["items"]] == [order_id]
    a.close()
    b.close()


def test_private_subscribers_are_told_to_reload_after_the_pubsub_connection_comes_back(
    live, engine, settings, seeded
):
    """Notices published while the API's Redis pub/sub connection was down are lost: once it is back, each
    private channel pushes an empty notice (`history`: no order ids; `orders` and `balances`: an empty
    list), on which a client reloads. Before, only `history` did, and a bot on `orders` alone (as in the
    docs) never learned it may have missed fills (a restart QA pass)."""
    c = Client(live.ws_url)
    c.request({"op": "auth", "req_id": "a", "token": token(settings, 33)})
    c.request({"op": "subscribe", "req_id": "s", "channels": ["history", "orders", "balances"]})
    admin = redis.Redis.from_url(seeded, decode_responses=True, protocol=2)
    assert int(admin.execute_command("CLIENT", "KILL", "TYPE", "pubsub")) >= 1
    admin.close()
    assert c.channel("history", timeout=15) == {"channel": "history", "data": {"orders": []}}
    assert c.channel("orders", timeout=15) == {"channel": "orders", "data": []}
    assert c.channel("balances", timeout=15) == {"channel": "balances", "data": []}
    c.close()


def test_private_ops_and_channels_need_auth_and_change_nothing(live, engine, settings):
    """Without auth: place, cancel and private channels answer AUTH_REQUIRED; a bad token INVALID_TOKEN."""
    fund(engine, 21)
    before = engine.book(SYMBOL, 10)
    c = Client(live.ws_url)
    place = {
        "op": "place",
        "req_id": 1,
        "symbol": SYMBOL,
        "side": "buy",
        "type": "limit",
        "price": "1",
        "qty": "1",
    }
    assert c.request(place)["error"]["code"] == "AUTH_REQUIRED"
    assert c.request({"op": "cancel", "req_id": 2, "order_id": 1})["error"]["code"] == "AUTH_REQUIRED"
    assert (
        c.request({"op": "subscribe", "req_id": 3, "channels": ["orders"]})["error"]["code"]
        == "AUTH_REQUIRED"
    )
    assert c.request({"op": "auth", "req_id": 4, "token": "not.a.token"})["error"]["code"] == "INVALID_TOKEN"
    forged = token(Settings(jwt_secret="another-secret-" + "x" * 40), 21)
    assert c.request({"op": "auth", "req_id": 5, "token": forged})["error"]["code"] == "INVALID_TOKEN"
    assert c.request(place | {"req_id": 6})["error"]["code"] == "AUTH_REQUIRED"
    assert engine.open_orders(21) == []
    assert engine.book(SYMBOL, 10) == before
    # once authenticated, another account's order is not found (and nothing changes)
    c.request({"op": "auth", "req_id": 7, "token": token(settings, 22)})
    other = engine.place(21, SYMBOL, "buy", "limit", price=PRICE - 100_000, qty=10, ts_ms=now_ms())
    answer = c.request({"op": "cancel", "req_id": 8, "order_id": other["order"]["id"]})
    assert answer["error"]["code"] == "ORDER_NOT_FOUND"
    assert engine.get_order(int(other["order"]["id"]))["status"] == "open"
    c.close()


def test_a_foreign_origin_is_refused_and_same_host_or_listed_origins_are_allowed(seeded, pg_url):
    """Origin: other sites get HTTP 403 at the handshake; same host, listed origins and no Origin pass."""
    settings = ws_settings(seeded, pg_url, allowed_origins=("https://trade.example",))
    server = LiveServer(create_app(settings)).start()
    try:
        with pytest.raises(InvalidStatus) as refused:
            Client(server.ws_url, origin="https://evil.example")
        assert refused.value.response.status_code == 403
        for origin in (None, f"http://127.0.0.1:{server.port}", "https://trade.example"):
            c = Client(server.ws_url, origin=origin)
            c.send({"op": "ping"})
            assert c.op("pong")["op"] == "pong"
            c.close()
    finally:
        server.stop()


def test_malformed_frames_get_error_frames_and_the_connection_survives(live_each_path, settings):
    """Bad JSON, non-objects, unknown ops/channels/markets, oversize and binary frames: error frames only."""
    c = Client(live_each_path.ws_url)
    cases = [
        ("not json", "BAD_FRAME"),
        ("[1, 2]", "BAD_FRAME"),
        ('{"op": "dance"}', "UNKNOWN_OP"),
        ('{"no_op": 1}', "UNKNOWN_OP"),
        ('{"op": "subscribe", "channels": "book:BTC-USDT"}', "BAD_FRAME"),
        ('{"op": "subscribe", "channels": []}', "BAD_FRAME"),
        ('{"op": "subscribe", "channels": ["weather:BTC-USDT"]}', "INVALID_CHANNEL"),
        ('{"op": "subscribe", "channels": ["book:btc"]}', "INVALID_CHANNEL"),
        ('{"op": "subscribe", "channels": ["candles:BTC-USDT:7m"]}', "INVALID_CHANNEL"),
        ('{"op": "subscribe", "channels": [42]}', "INVALID_CHANNEL"),
        ('{"op": "subscribe", "channels": ["book:NOPE-USDT"]}', "UNKNOWN_MARKET"),
        ('{"op": "subscribe", "channels": ["book:BTC-USDT\\n"]}', "INVALID_CHANNEL"),  # not a market name
        ('{"op": "subscribe", "req_id": {"x": 1}, "channels": ["tickers"]}', "BAD_FRAME"),
        ('{"op": "auth", "token": 5}', "BAD_FRAME"),
        (
            '{"op": "subscribe", "channels": [' + ",".join(f'"trades:A{i}-USDT"' for i in range(65)) + "]}",
            "TOO_MANY_CHANNELS",
        ),
        ('{"op": "ping", "pad": "' + "x" * 20_000 + '"}', "FRAME_TOO_LARGE"),
        ('{"op": "ping", "pad": "' + "\U0001f600" * 8_000 + '"}', "FRAME_TOO_LARGE"),  # 8,000 chars, 32 kB
        (b"\x00\x01binary", "BAD_FRAME"),
        ("[" * 3000 + "]" * 3000, "BAD_FRAME"),  # nested too deeply to decode (msgspec: RecursionError)
    ]
    for raw, code in cases:
        c.send(raw)
        frame = c.op("error")
        assert frame["error"]["code"] == code, (raw[:60], frame)
        assert frame["error"]["message"]
        if "weather" in str(
            raw
        ):  # an unknown channel is told the channels there are, as an unknown op the ops
            assert frame["error"]["message"].endswith(
                "the channels are tickers, book:SYMBOL, trades:SYMBOL, candles:SYMBOL:INTERVAL, orders, "
                "balances, history"
            ), frame
    c.request({"op": "auth", "req_id": "t", "token": token(settings, 31)})
    bad_order = {
        "op": "place",
        "req_id": "x",
        "symbol": SYMBOL,
        "side": "buy",
        "type": "limit",
        "price": "1",
        "qty": "1",
        "colour": "red",
    }
    assert c.request(bad_order)["error"]["code"] == "VALIDATION_ERROR"
    for order_id in ("abc", 0, "0", "7", 7.0, -1, 2**53):  # 1 .. 2^53 - 1, read strictly: "7" is no integer
        frame = c.request({"op": "cancel", "req_id": "y", "order_id": order_id})
        assert frame["error"]["code"] == "VALIDATION_ERROR", (order_id, frame)
        assert frame["error"]["message"].startswith("order_id: Expected an integer from 1 to 2^53 - 1; got ")
    frame = c.request({"op": "cancel", "req_id": "y"})
    assert frame["error"]["message"] == "order_id: required field missing (or give client_order_id)"
    frame = c.request({"op": "cancel", "req_id": "y", "order_id": 7, "colour": "red"})
    assert frame["error"]["message"].startswith("colour: unknown field; the fields are order_id or ")
    c.send({"op": "ping"})
    assert c.op("pong")["op"] == "pong"
    c.close()


def test_a_new_connection_may_burst_twice_its_frame_rate(seeded, pg_url, monkeypatch):
    """At 5 frames/s a fresh connection's first 10 frames are all served (the documented 2x burst)."""
    monkeypatch.setenv("EXCHANGE_WS_FRAMES_PER_S", "5")
    server = LiveServer(create_app(ws_settings(seeded, pg_url))).start()
    try:
        c = Client(server.ws_url)
        for i in range(10):
            c.send({"op": "ping", "req_id": i})
        answers = [c.until(lambda f: f.get("op") in ("pong", "error")) for _ in range(10)]
        assert [a["op"] for a in answers] == ["pong"] * 10, answers
        c.close()
    finally:
        server.stop()


def test_every_frame_counts_toward_the_frame_limit_malformed_ones_too(seeded, pg_url, monkeypatch):
    """At 5 frames/s, a burst of 40 frames that are not JSON is cut off with RATE_LIMITED like valid ones."""
    monkeypatch.setenv("EXCHANGE_WS_FRAMES_PER_S", "5")
    server = LiveServer(create_app(ws_settings(seeded, pg_url))).start()
    try:
        c = Client(server.ws_url)
        for _ in range(40):
            c.send("not json")
        errors = [c.op("error")["error"] for _ in range(40)]
        codes = [e["code"] for e in errors]
        assert set(codes) == {"BAD_FRAME", "RATE_LIMITED"} and codes.count("RATE_LIMITED") >= 25, codes
        limited = next(e for e in errors if e["code"] == "RATE_LIMITED")
        assert (
            limited["message"] == "too many frames: at most 5 a second (bursts of up to 10): try again in 1 s"
        )
        assert limited["retry_after"] == 1
        for _ in range(20):
            c.send(b"\x00binary")
        codes = [c.op("error")["error"]["code"] for _ in range(20)]
        assert codes.count("RATE_LIMITED") >= 15, codes
        c.close()
    finally:
        server.stop()


def test_an_expired_token_opens_no_new_private_subscription(seeded, pg_url, engine):
    """After the access token expires, subscribing to `orders` answers INVALID_TOKEN (a fresh `auth` is
    needed), while public channels still subscribe; nothing of the account's is pushed."""
    settings = ws_settings(seeded, pg_url)
    fund(engine, 51)
    # exp counts from the whole second (rounded down): the token lives 2.5 to 3.5 s, enough for the auth trip
    soon = TokenService(settings, clock=lambda: time.time() - settings.access_ttl_s + 3.5)
    server = LiveServer(create_app(settings)).start()
    try:
        c = Client(server.ws_url)
        assert c.request({"op": "auth", "req_id": 1, "token": soon.issue_access(51)})["op"] == "authenticated"
        time.sleep(4.0)
        denied = c.request({"op": "subscribe", "req_id": 2, "channels": ["orders", "balances"]})
        assert denied["error"]["code"] == "INVALID_TOKEN"
        assert c.request({"op": "subscribe", "req_id": 3, "channels": ["tickers"]})["op"] == "subscribed"
        assert c.request({"op": "auth", "req_id": 4, "token": token(settings, 51)})["op"] == "authenticated"
        assert c.request({"op": "subscribe", "req_id": 5, "channels": ["orders"]})["op"] == "subscribed"
        c.close()
    finally:
        server.stop()


def test_ws_error_messages_read_as_json_and_as_rest_words_them(live, settings, engine):
    """No Python in error messages (`unknown op None`, `got None`): values are quoted as JSON; a `place`
    frame's validation message reads as REST's ("qty: ...", a too-long decimal told its limit), and a key
    given twice is VALIDATION_ERROR by req_id, as a REST body's is, placing nothing."""
    fund(engine, 32)
    c = Client(live.ws_url)
    c.send("{}")
    assert c.op("error")["error"]["message"] == "'op' missing: every frame names its op, e.g. ping"
    c.send('{"op": null, "req_id": 1}')  # there, but not an op
    assert c.op("error")["error"]["message"] == (
        "unknown op null: the ops are ping, subscribe, unsubscribe, auth, place, cancel"
    )
    c.send('{"op": 7}')
    assert c.op("error")["error"]["message"] == (
        "unknown op 7: the ops are ping, subscribe, unsubscribe, auth, place, cancel"
    )
    frame = c.request({"op": "subscribe", "req_id": "s", "channels": [None]})
    assert frame["error"]["message"] == "channel must be a string of 1..64 characters, got null"
    c.request({"op": "auth", "req_id": "t", "token": token(settings, 32)})
    order = {"op": "place", "req_id": "q", "symbol": SYMBOL, "side": "buy", "type": "limit", "price": "1"}
    frame = c.request({**order, "qty": "0.0010000000000000000"})
    assert frame["error"] == {
        "code": "VALIDATION_ERROR",
        "message": "qty: too many decimals: at most 18 (19 given)",
    }
    frame = c.request({**order, "qty": "-1"})
    assert frame["error"]["message"].startswith('qty: Expected a decimal string such as "0.01"')
    frame = c.request({**order, "qty": "0.01", "time_in_force": "day"})
    assert frame["error"]["message"] == 'time_in_force: must be one of gtc, ioc, fok; got "day"'
    c.send(
        '{"op":"place","req_id":"d","symbol":"BTC-USDT","symbol":"ETH-USDT","side":"buy","type":"limit",'
        '"price":"2000","qty":"0.01"}'
    )
    frame = c.until(lambda f: f.get("req_id") == "d")
    assert frame["error"]["code"] == "VALIDATION_ERROR"
    assert frame["error"]["message"].startswith('duplicate key "symbol"')
    assert engine.open_orders(32) == []
    c.close()


def test_place_and_cancel_ops_answer_like_rest_and_are_rate_limited(seeded, pg_url, engine):
    """`place`/`cancel` return the REST order object by req_id; over the limit: RATE_LIMITED frames."""
    settings = ws_settings(seeded, pg_url, orders_per_s=3)
    fund(engine, 41)
    server = LiveServer(create_app(settings)).start()
    try:
        c = Client(server.ws_url)
        c.request({"op": "auth", "req_id": 0, "token": token(settings, 41)})
        placed = c.request(
            {
                "op": "place",
                "req_id": "p",
                "symbol": SYMBOL,
                "side": "sell",
                "type": "limit",
                "price": "70000.5",
                "qty": "0.5",
                "client_order_id": "ws-1",
            }
        )["data"]
        assert placed["status"] == "open" and placed["price"] == "70000.5" and placed["qty"] == "0.5"
        assert placed["client_order_id"] == "ws-1" and placed["fills"] == []
        assert set(placed) == set(Order.__struct_fields__)  # the REST order object, no more
        cancelled = c.request({"op": "cancel", "req_id": "c", "order_id": placed["id"]})["data"]
        assert cancelled["id"] == placed["id"] and cancelled["status"] == "cancelled"
        again = c.request({"op": "cancel", "req_id": "c2", "order_id": placed["id"]})
        assert again["error"]["code"] == "ORDER_CLOSED"
        limited = c.request({"op": "cancel", "req_id": "c3", "order_id": placed["id"]})
        assert limited["error"]["code"] == "RATE_LIMITED"
        c.close()
    finally:
        server.stop()


def test_cancel_takes_a_client_order_id_instead_of_an_order_id(seeded, pg_url, engine):
    """`cancel` with `client_order_id` cancels the account's order placed with it (as `DELETE
    /api/orders/by-client-id/...`); one the account never used is ORDER_NOT_FOUND, as is another account's;
    both ids at once, a malformed one or neither is VALIDATION_ERROR and cancels nothing."""
    settings = ws_settings(seeded, pg_url)
    fund(engine, 45)
    fund(engine, 46)
    server = LiveServer(create_app(settings)).start()
    try:
        order = {
            "op": "place",
            "symbol": SYMBOL,
            "side": "sell",
            "type": "limit",
            "price": "70000",
            "qty": "0.1",
        }
        other = Client(server.ws_url)
        other.request({"op": "auth", "req_id": 0, "token": token(settings, 46)})
        theirs = other.request({**order, "req_id": "o", "client_order_id": "shared-id"})["data"]
        c = Client(server.ws_url)
        c.request({"op": "auth", "req_id": 0, "token": token(settings, 45)})
        gone = c.request({"op": "cancel", "req_id": "n", "client_order_id": "shared-id"})
        assert gone["error"]["code"] == "ORDER_NOT_FOUND", gone
        mine = c.request({**order, "req_id": "p", "client_order_id": "shared-id"})["data"]
        for bad in (
            {"client_order_id": "shared-id", "order_id": mine["id"]},
            {"client_order_id": "no spaces"},
            {"client_order_id": 7},
            {},
        ):
            frame = c.request({"op": "cancel", "req_id": "b", **bad})
            assert frame["error"]["code"] == "VALIDATION_ERROR", (bad, frame)
        assert engine.get_order(mine["id"])["status"] == "open"
        done = c.request({"op": "cancel", "req_id": "c", "client_order_id": "shared-id"})["data"]
        assert done["id"] == mine["id"] and done["status"] == "cancelled"
        assert engine.get_order(theirs["id"])["status"] == "open"
        c.close()
        other.close()
    finally:
        server.stop()


def test_tickers_are_pushed_on_subscribe_and_after_a_trade(live, engine):
    """`tickers` sends every market at once, then a frame with the new last price after a trade."""
    fund(engine, 51)
    fund(engine, 52)
    c = Client(live.ws_url)
    c.request({"op": "subscribe", "req_id": 1, "channels": ["tickers"]})
    first = c.channel("tickers")
    symbols = {t["symbol"] for t in first["data"]}
    assert SYMBOL in symbols and len(symbols) >= 2
    btc = next(t for t in first["data"] if t["symbol"] == SYMBOL)
    assert btc["last"] is None
    trade(engine, 51, 52, price=6_123_456, qty=100)
    frame = c.until(
        lambda f: (
            f.get("channel") == "tickers"
            and next(t for t in f["data"] if t["symbol"] == SYMBOL)["last"] == "61234.56"
        ),
        timeout=6,
    )
    btc = next(t for t in frame["data"] if t["symbol"] == SYMBOL)
    assert btc["volume_24h"] == "0.001" and btc["open_24h"] == "61234.56" and btc["change_24h_pct"] == "0"
    c.close()


def test_subscribed_is_answered_once_the_channel_is_live_and_before_its_frames(settings, engine, monkeypatch):
    """The `subscribed` answer leaves only when the Redis subscription is live (made slow here), so a trade
    made as soon as the client reads it reaches the client; a trade published while subscribing reaches it
    too, after the answer."""
    real = Hub._join_channel
    during: list[bool] = []

    async def slow(self: Hub, topic: Topic, channel: str) -> None:
        await asyncio.sleep(0.3)
        await real(self, topic, channel)
        if not during:  # the first subscription: a trade while the op is still in progress
            during.append(True)
            trade(engine, 61, 62, qty=100)
            await asyncio.sleep(0.2)  # the hub reads it (the session holds the frame)

    monkeypatch.setattr(Hub, "_join_channel", slow)
    fund(engine, 61)
    fund(engine, 62)
    server = LiveServer(create_app(settings)).start()
    try:
        c = Client(server.ws_url)
        c.send({"op": "subscribe", "req_id": 1, "channels": [f"trades:{SYMBOL}"]})
        first = c.recv()
        assert first["op"] == "subscribed", first  # before the frame of the trade made while subscribing
        assert c.channel(f"trades:{SYMBOL}")["data"][0]["qty"] == "0.001"
        trade(engine, 61, 62, qty=200)  # as soon as the answer is read
        assert c.channel(f"trades:{SYMBOL}")["data"][0]["qty"] == "0.002"
        c.close()
    finally:
        server.stop()


def test_a_channel_the_server_cannot_join_is_named_in_an_unavailable_error_and_can_be_asked_for_again(
    settings, engine, monkeypatch
):
    """One channel's Redis subscription fails (once): the others of the same `subscribe` are answered and
    work; the failed one comes back as UNAVAILABLE with the request's id and its name, so a client knows what
    to ask for again; asked again, it is joined."""
    real = Hub._join_channel
    failed: list[str] = []

    async def fail_trades_once(self: Hub, topic: Topic, channel: str) -> None:
        if "trades" in channel and not failed:
            failed.append(channel)
            raise RuntimeError("subscription lost")
        await real(self, topic, channel)

    monkeypatch.setattr(Hub, "_join_channel", fail_trades_once)
    fund(engine, 63)
    fund(engine, 64)
    server = LiveServer(create_app(settings)).start()
    try:
        c = Client(server.ws_url)
        trades, book = f"trades:{SYMBOL}", f"book:{SYMBOL}"
        c.send({"op": "subscribe", "req_id": "sub1", "channels": [trades, book]})
        assert c.until(lambda f: f.get("op") == "subscribed")["channels"] == [trades, book]
        error = c.until(lambda f: f.get("op") == "error")
        assert error["req_id"] == "sub1", error
        assert error["channels"] == [trades] and error["error"]["code"] == "UNAVAILABLE", error
        assert c.channel(book)["type"] == "snapshot"
        assert c.request({"op": "subscribe", "req_id": "sub2", "channels": [trades]})["op"] == "subscribed"
        trade(engine, 63, 64, qty=100)
        assert c.channel(trades)["data"][0]["qty"] == "0.001"
        assert len(failed) == 1  # the second subscribe was a real one
        c.close()
    finally:
        server.stop()


def test_a_channel_whose_start_hangs_gives_up_in_bounded_time_and_holds_up_no_other(settings, monkeypatch):
    """A candles topic whose start never ends (its bar read hangs): the `subscribe` with it and the book is
    answered once TOPIC_START_S has passed, the book gets its snapshot, the candles channel comes back as
    UNAVAILABLE, and asked again (the read answering now) it is joined: no subscriber waits on it for ever."""
    monkeypatch.setattr(hub_module, "TOPIC_START_S", 1.0)
    real = topics.CandlesTopic.prepare
    hung: list[str] = []

    async def hang_once(self: topics.CandlesTopic) -> None:
        if not hung:
            hung.append(self.name)
            await asyncio.sleep(3600)
        await real(self)

    monkeypatch.setattr(topics.CandlesTopic, "prepare", hang_once)
    server = LiveServer(create_app(settings)).start()
    try:
        c = Client(server.ws_url)
        candles, book = f"candles:{SYMBOL}:1m", f"book:{SYMBOL}"
        started = time.monotonic()
        c.send({"op": "subscribe", "req_id": "s1", "channels": [candles, book]})
        assert c.until(lambda f: f.get("op") == "subscribed")["channels"] == [candles, book]
        assert time.monotonic() - started < 5
        error = c.until(lambda f: f.get("op") == "error")
        assert error["channels"] == [candles] and error["error"]["code"] == "UNAVAILABLE", error
        assert c.channel(book)["type"] == "snapshot"
        assert c.request({"op": "subscribe", "req_id": "s2", "channels": [candles]})["op"] == "subscribed"
        assert hung == [candles]
        c.close()
    finally:
        server.stop()


def test_an_op_served_too_long_is_logged_once_with_where_it_waits(settings, monkeypatch):
    """A `subscribe` held up past SLOW_OP_S (its Redis subscription made slow here) is logged once, naming the
    op and the function it waits in, and counted in exchange_ws_slow_ops_total; a quick op is not."""
    monkeypatch.setattr(session_module, "SLOW_OP_S", 0.5)
    real = Hub._join_channel

    async def stalled_join(self: Hub, topic: Topic, channel: str) -> None:
        await asyncio.sleep(2.5)
        await real(self, topic, channel)

    monkeypatch.setattr(Hub, "_join_channel", stalled_join)
    before = session_module.SLOW_OPS.value("subscribe")
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep(logging.WARNING)
    logging.getLogger(session_module.__name__).addHandler(handler)
    server = LiveServer(create_app(settings)).start()
    try:
        c = Client(server.ws_url)
        assert c.request({"op": "ping", "req_id": "p"})["op"] == "pong"
        c.send({"op": "subscribe", "req_id": "s", "channels": [f"trades:{SYMBOL}"]})
        assert c.until(lambda f: f.get("op") == "subscribed", timeout=10)["req_id"] == "s"
        reports = [r.getMessage() for r in records if "has waited" in r.getMessage()]
        assert len(reports) == 1, reports
        assert reports[0].startswith("WebSocket op subscribe has waited")
        assert "stalled_join" in reports[0] and "_join" in reports[0]
        assert session_module.SLOW_OPS.value("subscribe") == before + 1
        c.close()
    finally:
        logging.getLogger(session_module.__name__).removeHandler(handler)
        server.stop()


def test_a_book_whose_snapshot_cannot_be_read_is_dropped_named_and_can_be_asked_for_again(
    settings, engine, monkeypatch
):
    """The book's snapshot read fails three times in a row: the subscription is dropped and the error names
    the channel (the client asks for it again); asked again, the book comes with its snapshot."""
    real = BookTopic.snapshot
    failures: list[int] = []

    async def fail_three_times(self: BookTopic, eng: Any, depth: int) -> tuple[int, str]:
        if len(failures) < 3:
            failures.append(depth)
            raise ConnectionError("Redis went away")
        return await real(self, eng, depth)

    monkeypatch.setattr(BookTopic, "snapshot", fail_three_times)
    server = LiveServer(create_app(settings)).start()
    try:
        c = Client(server.ws_url)
        book = f"book:{SYMBOL}"
        assert c.request({"op": "subscribe", "req_id": "sub1", "channels": [book]})["op"] == "subscribed"
        error = c.until(lambda f: f.get("op") == "error", timeout=10)
        assert error["channels"] == [book] and error["error"]["code"] == "UNAVAILABLE", error
        assert c.request({"op": "subscribe", "req_id": "sub2", "channels": [book]})["op"] == "subscribed"
        assert c.channel(book)["type"] == "snapshot"
        assert len(failures) == 3
        c.close()
    finally:
        server.stop()


def test_trades_and_candles_channels_push_each_trade_and_the_current_bar(live, engine):
    """`trades:SYM` pushes `{id, price, qty, side, ts}`; `candles:SYM:1m` pushes the updated current bar."""
    fund(engine, 61)
    fund(engine, 62)
    c = Client(live.ws_url)
    ack = c.request(
        {"op": "subscribe", "req_id": 1, "channels": [f"trades:{SYMBOL}", f"candles:{SYMBOL}:1m"]}
    )
    assert ack["op"] == "subscribed", ack
    away_from_minute_end()
    trade(engine, 61, 62, price=6_000_000, qty=100)
    trades = c.channel(f"trades:{SYMBOL}")["data"]
    assert len(trades) == 1
    assert trades[0]["price"] == "60000" and trades[0]["qty"] == "0.001" and trades[0]["side"] == "buy"
    bar = c.channel(f"candles:{SYMBOL}:1m")["data"]
    assert bar["t"] == trades[0]["ts"] // 60_000 * 60_000
    assert (bar["o"], bar["h"], bar["l"], bar["c"], bar["v"]) == ("60000", "60000", "60000", "60000", "0.001")
    trade(engine, 61, 62, price=6_010_000, qty=200)
    bar2 = c.channel(f"candles:{SYMBOL}:1m")["data"]
    if bar2["t"] == bar["t"]:  # same minute (almost always)
        assert (bar2["o"], bar2["h"], bar2["c"], bar2["v"]) == ("60000", "60100", "60100", "0.003")
    # a late subscriber gets the current bar at once
    late = Client(live.ws_url)
    late.send({"op": "subscribe", "channels": [f"candles:{SYMBOL}:1m"]})
    assert late.channel(f"candles:{SYMBOL}:1m")["data"] == bar2
    c.close()
    late.close()


def test_two_app_instances_on_one_redis_both_deliver_the_same_trade(seeded, pg_url, engine):
    """Fan-out goes through Redis: clients of two API processes both receive the trade."""
    settings = ws_settings(seeded, pg_url)
    servers = [LiveServer(create_app(settings)).start() for _ in range(2)]
    try:
        fund(engine, 71)
        fund(engine, 72)
        clients = [Client(s.ws_url) for s in servers]
        for client in clients:
            client.request({"op": "subscribe", "req_id": 1, "channels": [f"trades:{SYMBOL}"]})
        trade(engine, 71, 72)
        got = [client.channel(f"trades:{SYMBOL}") for client in clients]
        assert got[0] == got[1] and len(got[0]["data"]) == 1
        for client in clients:
            client.close()
    finally:
        for server in servers:
            server.stop()


def test_unsubscribe_stops_delivery(live, engine):
    """After `unsubscribe` (acknowledged) no more frames of that channel arrive."""
    fund(engine, 81)
    fund(engine, 82)
    c = Client(live.ws_url)
    c.request({"op": "subscribe", "req_id": 1, "channels": [f"trades:{SYMBOL}"]})
    ack = c.request({"op": "unsubscribe", "req_id": 2, "channels": [f"trades:{SYMBOL}"]})
    assert ack == {"op": "unsubscribed", "req_id": 2, "channels": [f"trades:{SYMBOL}"]}
    trade(engine, 81, 82)
    time.sleep(0.3)
    assert not any(f.get("channel") == f"trades:{SYMBOL}" for f in c.barrier())
    c.close()


def test_a_gap_in_book_updates_gets_a_fresh_snapshot_then_contiguous_updates(live, engine, seeded):
    """An update that skips seqs (lost messages) makes the server re-send a snapshot instead of it."""
    fund(engine, 91)
    c = Client(live.ws_url)
    c.request({"op": "subscribe", "req_id": 1, "channels": [f"book:{SYMBOL}"]})
    snap = c.channel(f"book:{SYMBOL}")
    with redis.Redis.from_url(seeded, protocol=2) as pub:
        bogus = {"seq": snap["seq"] + 5, "bids": [[1, 1]], "asks": []}
        assert pub.publish(f"book:{SYMBOL}", json.dumps(bogus)) >= 1
    again = c.channel(f"book:{SYMBOL}")
    assert again["type"] == "snapshot" and again["seq"] == snap["seq"]
    engine.place(91, SYMBOL, "buy", "limit", price=PRICE - 500_000, qty=10, ts_ms=now_ms())
    update = c.channel(f"book:{SYMBOL}")
    assert update["type"] == "update" and update["first_seq"] == update["seq"] == snap["seq"] + 1
    assert update["bids"] == [["55000", "0.0001"]]
    assert not any(f.get("seq") == bogus["seq"] for f in c.frames)
    c.close()


def test_the_candles_channel_starts_from_redis_trades_while_postgresql_is_down(seeded, engine):
    """Without PostgreSQL a new candles subscriber still gets the current bar built from Redis trades."""
    fund(engine, 101)
    fund(engine, 102)
    server = LiveServer(create_app(ws_settings(seeded, None), pool=DeadPool())).start()
    try:
        away_from_minute_end()
        trade(engine, 101, 102, price=6_050_000, qty=100)
        c = Client(server.ws_url)
        c.send({"op": "subscribe", "channels": [f"candles:{SYMBOL}:1m", "tickers"]})
        bar = c.channel(f"candles:{SYMBOL}:1m")["data"]
        assert (bar["o"], bar["c"], bar["v"]) == ("60500", "60500", "0.001")
        tickers = c.channel("tickers")["data"]
        assert next(t for t in tickers if t["symbol"] == SYMBOL)["last"] == "60500"
        c.close()
    finally:
        server.stop()


def test_a_postgresql_read_that_hangs_holds_up_no_subscription(settings, engine, monkeypatch):
    """The candles topic's read of its bar from PostgreSQL never answers (a lock, a stuck server): after
    PERSISTED_BAR_TIMEOUT_S the bar starts from the Redis trades, so the subscribe is answered, and a book
    subscribed meanwhile on another connection gets its snapshot."""
    monkeypatch.setattr(topics, "PERSISTED_BAR_TIMEOUT_S", 0.5)

    async def hang(self: topics.CandlesTopic, t: int) -> None:
        await asyncio.sleep(3600)

    monkeypatch.setattr(topics.CandlesTopic, "_persisted_bar", hang)
    fund(engine, 103)
    fund(engine, 104)
    server = LiveServer(create_app(settings)).start()
    try:
        away_from_minute_end()
        trade(engine, 103, 104, price=6_050_000, qty=100)
        candles, book = f"candles:{SYMBOL}:1m", f"book:{SYMBOL}"
        a, b = Client(server.ws_url), Client(server.ws_url)
        a.send({"op": "subscribe", "req_id": "c", "channels": [candles]})
        b.send({"op": "subscribe", "req_id": "b", "channels": [book]})
        assert b.channel(book, timeout=10)["type"] == "snapshot"
        assert a.until(lambda f: f.get("req_id") == "c", timeout=10)["op"] == "subscribed"
        bar = a.channel(candles)["data"]
        assert (bar["o"], bar["v"]) == ("60500", "0.001")
        a.close()
        b.close()
    finally:
        server.stop()


def test_tickers_are_not_repeated_while_nothing_changes(live):
    """After the first frame, a quiet market sends no further tickers frames (throttled, on change only)."""
    c = Client(live.ws_url)
    c.request({"op": "subscribe", "req_id": 1, "channels": ["tickers"]})
    c.channel("tickers")
    time.sleep(2.5)
    assert not any(f.get("channel") == "tickers" for f in c.barrier())
    c.close()


async def test_the_history_frame_passes_on_that_a_notice_names_only_some_orders():
    """A workers' notice with `more` (a commit of more than 500 of the account's orders) keeps it in the
    frame; one without has none."""
    from exchange.api.ws.topics import HistoryTopic

    topic = HistoryTopic(7)
    [capped] = await topic.convert(b'{"orders": [1, 2], "more": true}')
    assert json.loads(capped.text) == {"channel": "history", "data": {"orders": [1, 2], "more": True}}
    [plain] = await topic.convert(b'{"orders": [3]}')
    assert json.loads(plain.text) == {"channel": "history", "data": {"orders": [3]}}
