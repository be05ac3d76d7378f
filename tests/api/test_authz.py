"""Authorization matrix: every route that takes an id, called with another account's token, answers 404
and changes nothing in the engine (state hash) or the account tables."""

from __future__ import annotations

import psycopg
import redis
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.api.conftest import User, engine_state, error_code


def _db_rows(pg_url: str) -> list[tuple[object, ...]]:
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute("SELECT id, email, password_hash, is_admin FROM accounts ORDER BY id").fetchall()
        rows += conn.execute("SELECT jti, revoked_at FROM refresh_tokens ORDER BY jti").fetchall()
        rows += conn.execute("SELECT id, ended_at, last_used_at FROM sessions ORDER BY id").fetchall()
    return rows


async def test_another_accounts_order_is_invisible(
    client: AsyncTestClient[Litestar], alice: User, bob: User, redis_client: redis.Redis, pg_url: str
) -> None:
    """Bob cannot read, cancel or cancel-all Alice's orders, by id or by client_order_id: 404 ORDER_NOT_FOUND
    and no change anywhere."""
    order = {"symbol": "BTC-USDT", "side": "buy", "type": "limit", "price": "100", "qty": "0.1"}
    order["client_order_id"] = "alices-1"
    alices = (await client.post("/api/orders", json=order, headers=alice.headers)).json()
    before_engine, before_db = engine_state(redis_client), _db_rows(pg_url)
    for method in ("GET", "DELETE"):
        for path in (f"/api/orders/{alices['id']}", "/api/orders/by-client-id/alices-1"):
            r = await client.request(method, path, headers=bob.headers)
            assert r.status_code == 404, (method, path, r.text)
            assert error_code(r) == "ORDER_NOT_FOUND"
    r = await client.delete("/api/orders", headers=bob.headers)  # bob's own (none): alice's stay
    assert r.status_code == 200 and r.json() == {"cancelled": 0}
    assert engine_state(redis_client) == before_engine
    assert _db_rows(pg_url) == before_db
    r = await client.get(f"/api/orders/{alices['id']}", headers=alice.headers)
    assert r.status_code == 200 and r.json()["status"] == "open"


async def test_refresh_and_logout_cannot_touch_another_account(
    client: AsyncTestClient[Litestar], alice: User, bob: User, pg_url: str
) -> None:
    """Bob's bearer logout revokes only Bob's tokens; Alice's refresh token keeps working."""
    await client.post("/api/auth/logout", json={}, headers=bob.headers)
    r = await client.post("/api/auth/refresh", json={"refresh_token": alice.refresh_token})
    assert r.status_code == 200


async def test_another_accounts_session_cannot_be_ended_or_listed(
    client: AsyncTestClient[Litestar], alice: User, bob: User, pg_url: str, app: Litestar
) -> None:
    """Bob naming Alice's session id gets 404 NOT_FOUND and the account tables do not change; Bob's list
    holds only his own session."""
    alices = app.state.tokens.decode_access_claims(alice.access_token).sid
    before = _db_rows(pg_url)
    r = await client.delete(f"/api/auth/sessions/{alices}", headers=bob.headers)
    assert r.status_code == 404 and error_code(r) == "NOT_FOUND"
    assert _db_rows(pg_url) == before
    listed = (await client.get("/api/auth/sessions", headers=bob.headers)).json()
    assert [s["id"] for s in listed] != [] and alices not in [s["id"] for s in listed]


async def test_balances_are_per_account(client: AsyncTestClient[Litestar], alice: User, bob: User) -> None:
    """An order by Alice moves Alice's held balance only."""
    order = {"symbol": "BTC-USDT", "side": "buy", "type": "limit", "price": "100", "qty": "0.1"}
    await client.post("/api/orders", json=order, headers=alice.headers)
    a = {b["asset"]: b for b in (await client.get("/api/balances", headers=alice.headers)).json()}
    b = {b["asset"]: b for b in (await client.get("/api/balances", headers=bob.headers)).json()}
    assert a["USDT"]["held"] != "0" and b["USDT"]["held"] == "0"
