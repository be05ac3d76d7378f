"""Admin routes: deposits, withdrawals and market status, refused to non-admins."""

from __future__ import annotations

import redis
from litestar import Litestar
from litestar.testing import AsyncTestClient

from exchange.api.settings import Settings
from tests.api.conftest import User, engine_state, error_code
from workers.reconcile import clear_markets, freeze_markets


async def test_non_admins_are_refused_and_nothing_changes(
    client: AsyncTestClient[Litestar], alice: User, bob: User, redis_client: object
) -> None:
    """Every admin route answers 403 FORBIDDEN to a normal account (401 without a token); state unchanged."""
    calls = [
        ("/api/admin/deposits", {"account_id": alice.id, "asset": "USDT", "amount": "5", "ref": "x1"}),
        ("/api/admin/withdrawals", {"account_id": bob.id, "asset": "USDT", "amount": "5", "ref": "x2"}),
        ("/api/admin/markets/BTC-USDT/status", {"status": "halted"}),
    ]
    before = engine_state(redis_client)
    for path, body in calls:
        r = await client.post(path, json=body, headers=alice.headers)
        assert r.status_code == 403 and error_code(r) == "FORBIDDEN", (path, r.text)
        r = await client.post(path, json=body)
        assert r.status_code == 401, path
    assert engine_state(redis_client) == before


async def test_admin_deposit_is_idempotent_by_ref(
    client: AsyncTestClient[Litestar], admin: User, alice: User
) -> None:
    """A deposit credits the account; repeating its ref changes nothing and says duplicate."""
    body = {"account_id": alice.id, "asset": "BTC", "amount": "0.5", "ref": "dep-1"}
    r = await client.post("/api/admin/deposits", json=body, headers=admin.headers)
    assert r.status_code == 201, r.text
    assert r.json()["available"] == "2.5" and r.json()["duplicate"] is False
    r = await client.post("/api/admin/deposits", json=body, headers=admin.headers)
    assert r.status_code == 201 and r.json()["duplicate"] is True
    balances = {b["asset"]: b for b in (await client.get("/api/balances", headers=alice.headers)).json()}
    assert balances["BTC"]["available"] == "2.5"
    r = await client.post("/api/admin/deposits", json={**body, "amount": "1"}, headers=admin.headers)
    assert r.status_code == 409 and error_code(r) == "DUPLICATE_REF"


async def test_admin_withdrawal_needs_funds(
    client: AsyncTestClient[Litestar], admin: User, alice: User
) -> None:
    """A withdrawal above the available balance is 409 INSUFFICIENT_FUNDS, said in BTC; within it, it
    debits."""
    r = await client.post(
        "/api/admin/withdrawals",
        json={"account_id": alice.id, "asset": "BTC", "amount": "5", "ref": "wd-1"},
        headers=admin.headers,
    )
    assert r.status_code == 409 and error_code(r) == "INSUFFICIENT_FUNDS"
    assert r.json()["error"]["message"] == "insufficient BTC: 2 available, 5 asked"  # not minor units
    r = await client.post(
        "/api/admin/withdrawals",
        json={"account_id": alice.id, "asset": "BTC", "amount": "0.25", "ref": "wd-2"},
        headers=admin.headers,
    )
    assert r.status_code == 201 and r.json()["available"] == "1.75"


async def test_admin_wallet_errors(client: AsyncTestClient[Litestar], admin: User, alice: User) -> None:
    """Unknown asset, unknown account, too many decimals and unknown fields are refused."""
    base = {"account_id": alice.id, "asset": "USDT", "amount": "1", "ref": "e-1"}
    cases = [
        ({**base, "asset": "XYZ"}, 400, "UNKNOWN_ASSET"),
        ({**base, "account_id": 999999}, 404, "UNKNOWN_ACCOUNT"),
        ({**base, "amount": "0.0000001"}, 400, "TOO_MANY_DECIMALS"),
        ({**base, "memo": "hi"}, 422, "VALIDATION_ERROR"),
        ({**base, "amount": "-1"}, 422, "VALIDATION_ERROR"),
    ]
    for body, status, code in cases:
        r = await client.post("/api/admin/deposits", json=body, headers=admin.headers)
        assert r.status_code == status and error_code(r) == code, (body, r.text)


async def test_market_status_changes_what_is_allowed(
    client: AsyncTestClient[Litestar], admin: User, alice: User
) -> None:
    """cancel_only refuses new orders (409 MARKET_NOT_TRADING); with cancel_orders resting orders go."""
    order = {"symbol": "BTC-USDT", "side": "buy", "type": "limit", "price": "100", "qty": "0.1"}
    assert (await client.post("/api/orders", json=order, headers=alice.headers)).status_code == 201
    r = await client.post(
        "/api/admin/markets/BTC-USDT/status",
        json={"status": "cancel_only", "cancel_orders": True},
        headers=admin.headers,
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"symbol": "BTC-USDT", "status": "cancel_only", "cancelled": 1}
    markets = {m["symbol"]: m for m in (await client.get("/api/markets")).json()}
    assert markets["BTC-USDT"]["status"] == "cancel_only"
    r = await client.post("/api/orders", json=order, headers=alice.headers)
    assert r.status_code == 409 and error_code(r) == "MARKET_NOT_TRADING"
    r = await client.post(
        "/api/admin/markets/BTC-USDT/status", json={"status": "trading"}, headers=admin.headers
    )
    assert r.status_code == 200
    assert (await client.post("/api/orders", json=order, headers=alice.headers)).status_code == 201


async def test_halted_market_refuses_cancels_and_a_cancel_all_naming_it(
    client: AsyncTestClient[Litestar], admin: User, alice: User
) -> None:
    """In a halted market a cancel is 409 MARKET_HALTED, and so is a cancel-all naming that market (not
    `cancelled: 0`, which reads as "no open orders there"); a cancel-all of every market skips it."""
    order = {"symbol": "BTC-USDT", "side": "buy", "type": "limit", "price": "100", "qty": "0.1"}
    placed = (await client.post("/api/orders", json=order, headers=alice.headers)).json()
    r = await client.post(
        "/api/admin/markets/BTC-USDT/status", json={"status": "halted"}, headers=admin.headers
    )
    assert r.status_code == 200
    r = await client.delete(f"/api/orders/{placed['id']}", headers=alice.headers)
    assert r.status_code == 409 and error_code(r) == "MARKET_HALTED"
    r = await client.delete("/api/orders", params={"symbol": "BTC-USDT"}, headers=alice.headers)
    assert r.status_code == 409 and error_code(r) == "MARKET_HALTED", r.text
    assert r.json()["error"]["message"] == "market BTC-USDT is halted: its orders cannot be cancelled"
    r = await client.delete("/api/orders", headers=alice.headers)
    assert r.status_code == 200 and r.json() == {"cancelled": 0}
    r = await client.get(f"/api/orders/{placed['id']}", headers=alice.headers)
    assert r.json()["status"] == "open"


async def test_a_deposit_with_a_number_in_a_string_is_refused(
    client: AsyncTestClient[Litestar], admin: User, alice: User, redis_client: object
) -> None:
    """`account_id` must be a JSON integer: `"2"` or `2.0` is 422 VALIDATION_ERROR and credits nothing."""
    before = engine_state(redis_client)
    for account_id in (str(alice.id), float(alice.id)):
        body = {"account_id": account_id, "asset": "USDT", "amount": "5", "ref": f"loose-{account_id}"}
        r = await client.post("/api/admin/deposits", json=body, headers=admin.headers)
        assert r.status_code == 422 and error_code(r) == "VALIDATION_ERROR", r.text
        assert r.json()["error"]["message"].startswith("account_id: Expected an integer")
    assert engine_state(redis_client) == before


async def test_a_non_admin_is_refused_before_the_body_is_judged(
    client: AsyncTestClient[Litestar], alice: User, redis_client: object
) -> None:
    """A normal account posting a malformed body to an admin route is 403 FORBIDDEN, as with a valid one
    (the admin check runs before the body's strict check), and nothing changes."""
    before = engine_state(redis_client)
    for body in (
        {"account_id": str(alice.id), "asset": "USDT", "amount": "5", "ref": "x"},
        {"colour": "red"},
    ):
        r = await client.post("/api/admin/deposits", json=body, headers=alice.headers)
        assert r.status_code == 403 and error_code(r) == "FORBIDDEN", r.text
    assert engine_state(redis_client) == before


async def test_an_admin_status_change_ends_a_pending_reconciliation_freeze(
    client: AsyncTestClient[Litestar], admin: User, api_settings: Settings
) -> None:
    """Reconciliation froze ETH-USDT; an admin who then sets its status has decided it: the market leaves
    `reconcile:frozen` (and its recorded previous status goes), so neither `exchange reconcile --clear` nor a
    restore changes it back. Another frozen market stays frozen."""
    r = redis.Redis.from_url(api_settings.redis_url, decode_responses=True, protocol=2)
    assert freeze_markets(r, ["ETH-USDT", "BNB-USDT"]) == ["ETH-USDT", "BNB-USDT"]
    answer = await client.post(
        "/api/admin/markets/ETH-USDT/status", json={"status": "trading"}, headers=admin.headers
    )
    assert answer.status_code == 200, answer.text
    assert r.smembers("reconcile:frozen") == {"BNB-USDT"}
    assert r.hgetall("reconcile:frozen:previous") == {"BNB-USDT": "trading"}
    assert clear_markets(r, ["ETH-USDT"]) == []
    r.close()


async def test_a_deposit_of_nothing_is_told_in_words_not_in_minor_units(
    client: AsyncTestClient[Litestar], admin: User, alice: User, redis_client: object
) -> None:
    """`amount` "0" is INVALID_AMOUNT "amount must be above 0", not the engine's "a positive integer below
    2^53" (its minor units), and credits nothing."""
    before = engine_state(redis_client)
    for amount in ("0", "0.000000"):
        body = {"account_id": alice.id, "asset": "USDT", "amount": amount, "ref": f"none-{amount}"}
        r = await client.post("/api/admin/deposits", json=body, headers=admin.headers)
        assert error_code(r) == "INVALID_AMOUNT", r.text
        assert r.json()["error"]["message"] == f'amount must be above 0, got "{amount}"'
    assert engine_state(redis_client) == before
