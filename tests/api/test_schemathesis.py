"""Property-based contract test: schemathesis drives every operation of `/schema/openapi.json` in-process
(ASGI) with generated requests; no response may be a 5xx or violate the documented schema.

Excluded check: `positive_data_acceptance` (schema-valid data must get 2xx): business rules legitimately
refuse well-formed requests with a documented 4xx (unknown asset, price not on the tick, no funds);
`ignored_auth` (replays requests without credentials over a real socket, bypassing the in-process
session): auth enforcement is covered by tests/api/test_orders.py and tests/api/test_jwt.py."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import ignored_auth, positive_data_acceptance

from exchange.api.app import create_app, openapi_document
from exchange.api.auth import TokenService
from exchange.api.users_cli import create_user
from exchange.engine.client import Engine, connect
from exchange.seed import seed_all
from exchange.servers import PostgresServer, RedisServer
from tests.api.conftest import PASSWORD, make_settings
from tests.conftest import _fresh_db_url

_names = itertools.count(1)
MAX_EXAMPLES = 10


@pytest.fixture(scope="module")
def api_client(
    redis_servers: dict[str, RedisServer], redis_kinds: list[str], pg_server: PostgresServer, pg_template: str
) -> Iterator[Any]:
    """One app (seeded engine, migrated database, an admin with funds) shared by every generated case."""
    redis_url = _fresh_db_url(redis_servers[redis_kinds[0]])
    db_name = f"schemathesis_{next(_names)}"
    pg_url = pg_server.create_database(db_name, template=pg_template)
    seed_all(redis_url)
    account_id = create_user(pg_url, "fuzz-admin@example.com", PASSWORD, admin=True)
    engine = Engine(connect(redis_url))
    engine.deposit(account_id, "USDT", 10**12, "fuzz-usdt", ts_ms=1)
    engine.deposit(account_id, "BTC", 10**9, "fuzz-btc", ts_ms=1)
    app_settings = make_settings(redis_url, pg_url)
    app = create_app(app_settings)
    token = TokenService(app_settings).issue_access(account_id)
    client = asgi.get_client(app)
    client.headers.update({"Authorization": f"Bearer {token}"})
    try:
        with client:
            served = client.get("/schema/openapi.json").json()
            assert served["paths"].keys() == openapi_document()["paths"].keys()
            yield client
    finally:
        asgi.shutdown_lifespans()
        pg_server.drop_database(db_name)


# the served document equals this one (checked in the fixture); loading it here lets pytest collect one
# test per operation
schema = schemathesis.openapi.from_dict(openapi_document())


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_server_errors_and_no_schema_violations(case: Any, api_client: Any) -> None:
    """Generated requests never get a 5xx and every response matches its documented status and schema."""
    case.call_and_validate(
        session=api_client,
        base_url="http://testserver",
        excluded_checks=[positive_data_acceptance, ignored_auth],
    )
