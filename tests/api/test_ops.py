"""Operations endpoints, the OpenAPI document, the error envelope for routing errors, body limits."""

from __future__ import annotations

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from exchange.api.app import create_app, openapi_document
from tests.api.conftest import User, error_code, make_settings, seed


async def test_healthz_and_readyz(client: AsyncTestClient[Litestar]) -> None:
    """healthz answers ok; readyz answers ok with redis, engine and postgres checks."""
    r = await client.get("/healthz")
    assert r.status_code == 200 and r.json()["status"] == "ok"
    r = await client.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "ok", "checks": {"redis": "ok", "engine": "ok", "postgres": "ok"}}


async def test_readyz_is_503_without_the_engine_library(redis_url: str, pg_url: str) -> None:
    """When the engine library is missing from Redis, readyz answers 503 naming the failing check."""
    seed(redis_url)
    async with AsyncTestClient(create_app(make_settings(redis_url, pg_url))) as client:
        import redis

        with redis.Redis.from_url(redis_url) as raw:
            raw.execute_command("FUNCTION", "DELETE", "exchange")
        r = await client.get("/readyz")
        assert r.status_code == 503
        assert r.json()["checks"]["engine"] != "ok"


async def test_metrics_count_requests_orders_and_ws_gauge(
    client: AsyncTestClient[Litestar], alice: User
) -> None:
    """/metrics is Prometheus text with request counts by route template, latency, orders and WS clients."""
    order = {"symbol": "BTC-USDT", "side": "buy", "type": "limit", "price": "100", "qty": "0.1"}
    assert (await client.post("/api/orders", json=order, headers=alice.headers)).status_code == 201
    await client.get("/api/orders/12345", headers=alice.headers)
    r = await client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert 'exchange_http_requests_total{method="POST",route="/api/orders",status="201"}' in text
    assert 'exchange_http_requests_total{method="GET",route="/api/orders/{order_id}",status="404"}' in text
    assert "exchange_http_request_duration_seconds_bucket{" in text
    assert 'exchange_orders_placed_total{symbol="BTC-USDT"}' in text
    assert "exchange_ws_clients" in text


async def test_unknown_route_and_method_use_the_error_envelope(client: AsyncTestClient[Litestar]) -> None:
    """An unknown path is 404 NOT_FOUND and a wrong method 405, both in the error envelope."""
    r = await client.get("/api/nothing-here")
    assert r.status_code == 404 and error_code(r) == "NOT_FOUND"
    r = await client.put("/api/markets")
    assert r.status_code == 405 and error_code(r) == "METHOD_NOT_ALLOWED"


async def test_malformed_json_and_huge_bodies_are_refused(
    client: AsyncTestClient[Litestar], alice: User
) -> None:
    """Broken JSON is 400 BAD_REQUEST; a body over the limit is 413 BODY_TOO_LARGE, saying the limit."""
    r = await client.post(
        "/api/orders", content=b"{not json", headers={**alice.headers, "content-type": "application/json"}
    )
    assert r.status_code == 400 and error_code(r) == "BAD_REQUEST"
    r = await client.post(
        "/api/auth/register",
        content=b'{"email": "' + b"a" * 200_000 + b'@x.io", "password": "12345678"}',
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 413 and error_code(r) == "BODY_TOO_LARGE"
    assert r.json()["error"]["message"] == "the request body must be at most 65536 bytes"


def test_openapi_document_names_every_operation() -> None:
    """The OpenAPI 3.1 document has an operation_id on every operation and documents the error envelope."""
    doc = openapi_document()
    assert doc["openapi"].startswith("3.1")
    ids = []
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method in {"get", "post", "put", "delete", "patch"}:
                assert op.get("operationId"), (path, method)
                ids.append(op["operationId"])
    assert len(ids) == len(set(ids))
    for wanted in (
        "placeOrder",
        "getOrder",
        "cancelOrder",
        "cancelAllOrders",
        "getBalances",
        "login",
        "getBook",
    ):
        assert wanted in ids
    assert "ErrorBody" in doc["components"]["schemas"]


async def test_openapi_and_its_ui_are_served(client: AsyncTestClient[Litestar]) -> None:
    """/schema/openapi.json is served and /schema renders an HTML page."""
    r = await client.get("/schema/openapi.json")
    assert r.status_code == 200 and r.json()["openapi"].startswith("3.1")
    r = await client.get("/schema")
    assert r.status_code == 200 and "html" in r.headers["content-type"]


async def test_options_lists_every_method_of_a_path(client: AsyncTestClient[Litestar]) -> None:
    """OPTIONS answers 204 with an Allow header naming every method served on the path."""
    r = await client.options("/api/orders/1")
    assert r.status_code == 204 and r.headers["allow"] == "DELETE, GET, OPTIONS"
    r = await client.options("/api/orders")
    assert r.status_code == 204
    assert {"DELETE", "GET", "POST", "OPTIONS"} <= set(r.headers["allow"].split(", "))


async def test_the_app_restarts_cleanly_on_the_same_object(redis_url: str, pg_url: str) -> None:
    """After shutdown app.state holds nothing from the run, and a second start serves DB-backed routes."""
    seed(redis_url)
    app = create_app(make_settings(redis_url, pg_url))
    before = set(app.state.dict())
    for _ in range(2):
        async with AsyncTestClient(app) as client:
            assert (await client.get("/api/tickers")).status_code == 200
            assert (await client.get("/readyz")).status_code == 200
        assert set(app.state.dict()) == before


async def test_the_api_refuses_a_redis_that_may_evict_engine_keys(redis_url: str) -> None:
    """Startup fails with a clear RedisConfigError when maxmemory-policy is not noeviction."""
    import redis as sync_redis

    from exchange.redis_check import RedisConfigError

    admin = sync_redis.Redis.from_url(redis_url)
    admin.config_set("maxmemory-policy", "allkeys-lru")
    try:
        app = create_app(make_settings(redis_url, None))
        with pytest.raises(BaseException) as info:  # the lifespan task group wraps it in a group
            async with AsyncTestClient(app):
                pass
        error = info.value
        if isinstance(error, BaseExceptionGroup):
            found = error.subgroup(RedisConfigError)
            assert found is not None, error
            error = found.exceptions[0]
            while isinstance(error, BaseExceptionGroup):
                error = error.exceptions[0]
        assert isinstance(error, RedisConfigError)
        assert "noeviction" in str(error)
    finally:
        admin.config_set("maxmemory-policy", "noeviction")
        admin.close()


async def test_the_apis_postgresql_connections_time_out_a_stuck_statement_and_a_silent_server(
    client: AsyncTestClient[Litestar],
) -> None:
    """Every pooled connection has the server cancel a statement after 15 s and gives up on a server that
    stops acknowledging after 10 s (`dbpool.PG_CONNECTION_OPTIONS`), and the pool checks a connection before
    handing it out (none dead after a PostgreSQL restart): a stalled database answers 503, not a hang."""
    pool = client.app.state.pool
    async with pool.connection() as conn:
        cur = await conn.execute("SHOW statement_timeout")
        assert (await cur.fetchone())[0] == "15s"
        options = {o.keyword.decode(): (o.val or b"").decode() for o in conn.pgconn.info}
    assert options["tcp_user_timeout"] == "10000" and options["keepalives_count"] == "3", options
    assert pool._check is not None
