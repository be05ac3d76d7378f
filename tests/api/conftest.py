"""API test fixtures: a seeded engine on a throwaway Redis, a migrated PostgreSQL, the app under
`AsyncTestClient`, and helpers to create users (demo funds) and admins."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from exchange.api.app import ExchangeApp, create_app
from exchange.api.order_route import OrderRoute
from exchange.api.settings import RateLimit, RateLimits, Settings
from exchange.api.users_cli import create_user

JWT_SECRET = "test-jwt-secret-" + "0123456789abcdef" * 4
PASSWORD = "correct horse battery"
_emails = itertools.count(1)

GENEROUS = RateLimits(
    orders=RateLimit(100_000, 1),
    login_email=RateLimit(1_000, 60),
    login_ip=RateLimit(10_000, 60),
    register_ip=RateLimit(10_000, 60),
    refresh_ip=RateLimit(10_000, 60),
    logout_ip=RateLimit(10_000, 60),
    reads_ip=RateLimit(1_000_000, 60),
    reads_account=RateLimit(1_000_000, 60),
)


class DeadPool:
    """A PostgreSQL pool whose database is down (fault injection): `create_app(..., pool=DeadPool())`."""

    def connection(self) -> Any:
        import psycopg

        raise psycopg.OperationalError("connection refused (injected)")


def make_settings(redis_url: str, pg_url: str | None, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "redis_url": redis_url,
        "database_url": pg_url,
        "jwt_secret": JWT_SECRET,
        "demo": True,
        "rate_limits": GENEROUS,
        "frontend_dist": Path("/nonexistent-frontend-dist"),
    }
    values.update(overrides)
    return Settings(**values)


def seed(redis_url: str) -> None:
    from exchange.seed import seed_all

    seed_all(redis_url)


@pytest.fixture
def api_settings(redis_url: str, pg_url: str) -> Settings:
    seed(redis_url)
    return make_settings(redis_url, pg_url)


@pytest.fixture
def app(api_settings: Settings) -> Litestar:
    return create_app(api_settings)


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app) as c:
        yield c


@dataclass
class User:
    id: int
    email: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


def new_email(prefix: str = "user") -> str:
    return f"{prefix}{next(_emails)}@example.com"


async def register(client: AsyncTestClient[Litestar], email: str | None = None) -> User:
    email = email or new_email()
    r = await client.post("/api/auth/register", json={"email": email, "password": PASSWORD})
    assert r.status_code == 201, r.text
    account_id = r.json()["id"]
    return await login(client, email, account_id)


async def login(client: AsyncTestClient[Litestar], email: str, account_id: int = 0) -> User:
    r = await client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert r.status_code == 200, r.text
    body = r.json()
    return User(account_id, email, body["access_token"], body["refresh_token"])


async def make_admin(client: AsyncTestClient[Litestar], pg_url: str) -> User:
    email = new_email("admin")
    account_id = create_user(pg_url, email, PASSWORD, admin=True)
    return await login(client, email, account_id)


@pytest.fixture
async def alice(client: AsyncTestClient[Litestar]) -> User:
    return await register(client, new_email("alice"))


@pytest.fixture
async def bob(client: AsyncTestClient[Litestar]) -> User:
    return await register(client, new_email("bob"))


@pytest.fixture
async def admin(client: AsyncTestClient[Litestar], pg_url: str) -> User:
    return await make_admin(client, pg_url)


def engine_state(client: Any) -> str:
    """`state_hash` of the engine's keys, ignoring the rate limiter's counters (`rl:*`)."""
    import hashlib
    import json

    from exchange.engine.state import state_snapshot

    snapshot = {k: v for k, v in state_snapshot(client).items() if not k.startswith("rl:")}
    return hashlib.sha256(json.dumps(snapshot, sort_keys=True, default=str).encode()).hexdigest()


def error_code(response: Any) -> str:
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message"}, body
    return str(body["error"]["code"])


def record_lean_route_decisions(app: ExchangeApp) -> list[bool]:
    """Wrap the running app's lean route: the list gets True for each request it answered, False for each
    it passed on to Litestar."""
    route = app.order_route
    assert route is not None
    served: list[bool] = []

    async def spy(scope: Any, receive: Any, send: Any) -> Any:
        passed_on = await route(scope, receive, send)
        served.append(passed_on is None)
        return passed_on

    app.order_route = cast(OrderRoute, spy)
    return served


@pytest.fixture
def seeded(redis_url: str) -> str:
    """The seed assets and markets in the test's Redis; its URL."""
    from exchange.seed import seed_all

    seed_all(redis_url)
    return redis_url


@pytest.fixture
def settings(seeded: str, pg_url: str) -> Settings:
    """Settings of a seeded app for the WebSocket tests (`tests.api.test_ws_support.ws_settings`)."""
    from tests.api.test_ws_support import ws_settings

    return ws_settings(seeded, pg_url)
