"""Events (order, contents, ledger, contiguous seq) and live notifications (payloads, book replay)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import redis

from exchange.engine import AsyncEngine, errors
from exchange.engine.codec import parse_order_lines
from tests.engine.conftest import Exchange
from tests.invariants import ledger_balances


def test_an_accepted_order_emits_accepted_then_trades_then_its_terminal_event(ex: Exchange) -> None:
    """A crossing ioc buy writes order_accepted, one trade per maker, then order_expired, seqs contiguous."""
    ex.fund(1, "XB", 10)
    ex.fund(2, "XQ", 10_000)
    ex.place(1, "sell", price=100, qty=1)
    ex.place(1, "sell", price=101, qty=1)
    start = len(ex.events())
    taker = ex.place(2, "buy", price=101, qty=3, tif="ioc")["order"]
    events = ex.events()[start:]
    assert [e["type"] for e in events] == ["order_accepted", "trade", "trade", "order_expired"]
    assert [int(e["seq"]) for e in events] == list(range(start + 1, start + 5))
    accepted, first = events[0], events[1]
    assert accepted["order_id"] == str(taker["id"]) and accepted["hold"] == str(3 * 102)
    assert accepted["ledger"] == f"2,XQ,-{3 * 102},{3 * 102}"
    assert {k: first[k] for k in ("price", "qty", "taker_side", "notional", "buyer_fee", "seller_fee")} == {
        "price": "100",
        "qty": "1",
        "taker_side": "buy",
        "notional": "100",
        "buyer_fee": "1",
        "seller_fee": "1",
    }
    assert (first["maker_status"], first["taker_status"], first["taker_filled"]) == (
        "filled",
        "partially_filled",
        "1",
    )
    assert first["ledger"] == "2,XQ,0,-101;2,XB,1,0;1,XB,0,-1;1,XQ,99,0;0,XQ,2,0"
    assert (events[3]["reason"], events[3]["released"]) == ("ioc", str(3 * 102 - 101 - 102))


def test_ledger_lines_of_all_events_sum_to_every_balance(ex: Exchange) -> None:
    """Summing the ledger of every market and wallet event reproduces each stored balance exactly."""
    ex.fund(1, "XB", 50)
    ex.fund(2, "XQ", 50_000)
    for price in (100, 101, 102):
        ex.place(1, "sell", price=price, qty=5)
    ex.place(2, "buy", price=101, qty=7)
    ex.place(2, "buy", quote_qty=300)
    ex.engine.withdraw(2, "XB", 2, "w-1", ex.ts())
    rebuilt = ledger_balances(ex.redis)
    for account in (0, 1, 2):
        for asset, pair in ex.engine.balances(account).items():
            assert rebuilt.get((account, asset), (0, 0)) == pair


def _listen(client: redis.Redis, channels: list[str]) -> redis.client.PubSub:
    """Subscribe and wait until the server confirmed every channel."""
    ps = client.pubsub()
    ps.subscribe(*channels)
    confirmed = 0
    deadline = time.monotonic() + 5
    while confirmed < len(channels) and time.monotonic() < deadline:
        msg = ps.get_message(timeout=0.1)
        if msg is not None and msg["type"] == "subscribe":
            confirmed += 1
    assert confirmed == len(channels)
    return ps


def _drain(ps: redis.client.PubSub) -> list[tuple[str, Any]]:
    """Every published message until 0.3 s pass without one."""
    out = []
    while (msg := ps.get_message(timeout=0.3)) is not None:
        if msg["type"] == "message":
            channel, data = msg["channel"], msg["data"]
            # orders:{account} carries "{id} {record}" lines; the other channels JSON
            parsed = parse_order_lines(data) if channel.startswith("orders:") else json.loads(data)
            out.append((channel, parsed))
    return out


def test_notifications_carry_book_trades_orders_and_balances(ex: Exchange) -> None:
    """One crossing place publishes absolute level changes, its trades, touched orders and balances."""
    ex.fund(1, "XB", 10)
    ex.fund(2, "XQ", 10_000)
    maker = ex.place(1, "sell", price=100, qty=3)["order"]
    channels = ["book:XB-XQ", "trades:XB-XQ", "orders:1", "orders:2", "balances:1", "balances:2"]
    ps = _listen(ex.redis, channels)
    taker = ex.place(2, "buy", price=100, qty=2)["order"]
    got = dict(_drain(ps))
    ps.close()
    assert got["book:XB-XQ"] == {"seq": 2, "bids": [], "asks": [[100, 1]]}
    assert got["trades:XB-XQ"] == [
        {"id": 1, "price": 100, "qty": 2, "side": "buy", "ts": taker["created_ms"]}
    ]
    assert [(o["id"], o["status"], o["filled"]) for o in got["orders:1"]] == [
        (maker["id"], "partially_filled", 2)
    ]
    assert got["orders:2"] == [taker]
    assert sorted((b["asset"], b["available"], b["held"]) for b in got["balances:1"]) == [
        ("XB", 7, 1),
        ("XQ", 199, 0),
    ]
    assert got["balances:2"] == [
        {"asset": "XQ", "available": 10_000 - 201, "held": 0},
        {"asset": "XB", "available": 2, "held": 0},
    ]


def test_book_snapshot_plus_replayed_updates_equals_the_final_book(ex: Exchange) -> None:
    """Applying book messages with seq > snapshot seq to the snapshot reproduces the final book exactly."""
    ex.fund(1, "XB", 1_000)
    ex.fund(2, "XQ", 1_000_000)
    ex.place(1, "sell", price=105, qty=4)
    ex.place(2, "buy", price=95, qty=4)
    ps = _listen(ex.redis, ["book:XB-XQ"])
    ex.place(1, "sell", price=104, qty=2)
    snapshot = ex.engine.book("XB-XQ", depth=1000)
    ex.place(2, "buy", price=104, qty=3)  # takes 104 x2, rests 1 @ 104
    ex.place(1, "sell", price=103, qty=5)  # takes the bid @ 104, rests 4 @ 103
    order = ex.place(2, "buy", price=90, qty=1)["order"]
    ex.engine.cancel(2, order["id"], ex.ts())
    ex.place(2, "buy", quote_qty=500)
    messages = [m for _c, m in _drain(ps)]
    ps.close()
    seqs = [m["seq"] for m in messages]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    book = {side: {p: q for p, q, _n in snapshot[side]} for side in ("bids", "asks")}
    for m in messages:
        if m["seq"] <= snapshot["seq"]:
            continue
        for side in ("bids", "asks"):
            for price, qty in m[side]:
                if qty == 0:
                    book[side].pop(price, None)
                else:
                    book[side][price] = qty
    final = ex.engine.book("XB-XQ", depth=1000)
    assert final["seq"] == messages[-1]["seq"]
    assert book == {side: {p: q for p, q, _n in final[side]} for side in ("bids", "asks")}


async def test_async_engine_places_and_reads_like_the_sync_one(ex: Exchange, redis_url_each: str) -> None:
    """AsyncEngine exposes the same commands and reads, on the same data."""
    ex.fund(1, "XQ", 10_000)
    aeng = AsyncEngine(redis.asyncio.Redis.from_url(redis_url_each, decode_responses=True, protocol=2))
    try:
        await aeng.load()
        r = await aeng.place(1, "XB-XQ", "buy", "limit", price=10, qty=2, ts_ms=9)
        assert r["order"]["status"] == "open"
        assert (await aeng.book("XB-XQ"))["bids"] == [[10, 2, 1]]
        assert await aeng.get_order(r["order"]["id"]) == r["order"]
        assert (await aeng.balances(1))["XQ"] == (10_000 - 22, 22)
        assert [o["id"] for o in await aeng.open_orders(1)] == [r["order"]["id"]]
        assert (await aeng.cancel(1, r["order"]["id"], 10))["status"] == "cancelled"
        assert (await aeng.market("XB-XQ"))["symbol"] == "XB-XQ"
        assert {m["symbol"] for m in await aeng.markets()} >= {"XB-XQ", "BTC-USDT"}
        assert (await aeng.deposit(1, "XQ", 5, "a-1", 11))["available"] == 10_005
        with pytest.raises(errors.OrderClosed):
            await aeng.cancel(1, r["order"]["id"], 12)
    finally:
        await aeng.redis.aclose()


def test_status_change_publishes_the_market_status_and_the_wallet_publishes_balances(ex: Exchange) -> None:
    """set_market_status publishes {"status"} on market:{SYM}; a deposit publishes the new balance."""
    ps = _listen(ex.redis, ["market:XB-XQ", "balances:5"])
    ex.engine.set_market_status("XB-XQ", "cancel_only", ex.ts())
    ex.engine.deposit(5, "XQ", 70, "dep-5", ex.ts())
    got = _drain(ps)
    ps.close()
    assert got == [
        ("market:XB-XQ", {"status": "cancel_only"}),
        ("balances:5", [{"asset": "XQ", "available": 70, "held": 0}]),
    ]
    assert ex.events()[-1] == {"seq": "1", "type": "market_status", "ts": ex.events()[-1]["ts"],
                               "status": "cancel_only", "previous": "trading"}  # fmt: skip
