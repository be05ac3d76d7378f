"""GET /api/orders/{id} with fills from the history database, and orders no longer held by Redis."""

from __future__ import annotations

import redis
from litestar import Litestar
from litestar.testing import AsyncTestClient

from exchange.api.app import create_app
from exchange.api.settings import Settings
from tests.api.conftest import User, error_code
from workers.persist import drain


async def test_get_order_returns_persisted_fills_for_maker_and_taker(
    client: AsyncTestClient[Litestar], alice: User, bob: User, redis_url: str, pg_url: str
) -> None:
    """After persistence, both the resting maker and the taker see their fills with the right liquidity."""
    order = {"symbol": "BTC-USDT", "side": "buy", "type": "limit", "price": "50000", "qty": "0.1"}
    maker = (await client.post("/api/orders", json=order, headers=alice.headers)).json()
    sell = {"symbol": "BTC-USDT", "side": "sell", "type": "limit", "price": "50000", "qty": "0.03"}
    taker = (await client.post("/api/orders", json=sell, headers=bob.headers)).json()
    assert taker["status"] == "filled"
    assert drain(redis_url, pg_url) > 0
    r = await client.get(f"/api/orders/{maker['id']}", headers=alice.headers)
    assert r.status_code == 200
    [fill] = r.json()["fills"]
    assert fill["liquidity"] == "maker" and fill["price"] == "50000" and fill["qty"] == "0.03"
    assert fill["trade_id"] == taker["fills"][0]["trade_id"] and fill["fee_asset"] == "USDT"
    r = await client.get(f"/api/orders/{taker['id']}", headers=bob.headers)
    assert [f["liquidity"] for f in r.json()["fills"]] == ["taker"]
    assert r.json()["fills"][0]["fee"] == taker["fills"][0]["fee"]
    r = await client.get(f"/api/orders/{maker['id']}", headers=bob.headers)  # not bob's
    assert r.status_code == 404 and error_code(r) == "ORDER_NOT_FOUND"


async def test_a_closed_order_gone_from_redis_is_read_from_postgres(
    client: AsyncTestClient[Litestar], alice: User, bob: User, redis_url: str, pg_url: str
) -> None:
    """When the order record expired from Redis, GET /api/orders/{id} answers from PostgreSQL (owner only)."""
    order = {"symbol": "BTC-USDT", "side": "buy", "type": "limit", "price": "40000", "qty": "0.01"}
    placed = (await client.post("/api/orders", json=order, headers=alice.headers)).json()
    cancelled = (await client.delete(f"/api/orders/{placed['id']}", headers=alice.headers)).json()
    drain(redis_url, pg_url)
    with redis.Redis.from_url(redis_url, decode_responses=True, protocol=2) as raw:
        assert raw.delete(f"order:{placed['id']}") == 1
    r = await client.get(f"/api/orders/{placed['id']}", headers=alice.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "cancelled" and body["price"] == "40000" and body["qty"] == "0.01"
    assert body["updated_at"] == cancelled["updated_at"]
    r = await client.get(f"/api/orders/{placed['id']}", headers=bob.headers)
    assert r.status_code == 404


async def test_a_retry_with_the_same_client_order_id_returns_the_order_with_its_fills(
    client: AsyncTestClient[Litestar],
    alice: User,
    bob: User,
    redis_url: str,
    pg_url: str,
    api_settings: Settings,
) -> None:
    """The retry of an order whose answer was lost (same client_order_id, same fields) returns the order as it
    is now with its fills, over the lean REST route and Litestar's handler alike: it used to carry
    `fills: []`, the one thing the lost answer held that the client could not rebuild."""
    rest = {"symbol": "BTC-USDT", "side": "sell", "type": "limit", "price": "50000", "qty": "0.05"}
    assert (await client.post("/api/orders", json=rest, headers=alice.headers)).status_code == 201
    buy = {"symbol": "BTC-USDT", "side": "buy", "type": "limit", "price": "50000", "qty": "0.02"}
    buy["client_order_id"] = "lost-answer-1"
    first = (await client.post("/api/orders", json=buy, headers=bob.headers)).json()
    assert first["status"] == "filled" and len(first["fills"]) == 1
    drain(redis_url, pg_url)
    retry = await client.post("/api/orders", json=buy, headers=bob.headers)
    assert retry.status_code == 201, retry.text
    again = retry.json()
    assert again["id"] == first["id"] and again["fills"] == first["fills"]
    async with AsyncTestClient(create_app(api_settings, lean_orders=False)) as litestar_only:
        handled = (await litestar_only.post("/api/orders", json=buy, headers=bob.headers)).json()
    assert handled["id"] == first["id"] and handled["fills"] == first["fills"]
