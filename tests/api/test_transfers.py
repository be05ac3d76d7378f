"""`GET /api/transfers`: the account's deposits and withdrawals from PostgreSQL, newest first, filterable
by asset and type, in keyset pages bound to their filters; owner-scoped."""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from exchange.api.routes_auth import DEMO_FUNDS
from tests.api.conftest import User, error_code
from workers.persist import drain

Client = AsyncTestClient[Litestar]


async def _wallet(
    client: Client, admin: User, op: str, user: User, asset: str, amount: str, ref: str
) -> None:
    body = {"account_id": user.id, "asset": asset, "amount": amount, "ref": ref}
    r = await client.post(f"/api/admin/{op}", json=body, headers=admin.headers)
    assert r.status_code in (200, 201), r.text


async def _transfers(client: Client, user: User, **params: Any) -> dict[str, Any]:
    r = await client.get("/api/transfers", params=params, headers=user.headers)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def test_transfers_list_deposits_and_withdrawals_newest_first_and_only_ones_own(
    client: Client, alice: User, bob: User, admin: User, redis_url: str, pg_url: str
) -> None:
    """Alice's demo funds (one deposit per asset), then an admin's withdrawal of 5 USDT and deposit of
    0.5 BTC: listed newest first with decimal amounts, types and refs; bob's list holds only his demo
    funds."""
    await _wallet(client, admin, "withdrawals", alice, "USDT", "5", "w-1")
    await _wallet(client, admin, "deposits", alice, "BTC", "0.5", "d-1")
    drain(redis_url, pg_url)
    items = (await _transfers(client, alice))["items"]
    assert [(t["type"], t["asset"], t["amount"], t["ref"]) for t in items[:2]] == [
        ("deposit", "BTC", "0.5", "d-1"),
        ("withdrawal", "USDT", "5", "w-1"),
    ]
    demo = {(t["asset"], t["amount"], t["ref"]) for t in items[2:]}
    assert demo == {(a, amount, f"demo:{alice.id}:{a}") for a, amount in DEMO_FUNDS.items()}
    ids = [t["id"] for t in items]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids)
    assert all(isinstance(t["ts"], int) and t["ts"] > 0 for t in items)
    theirs = (await _transfers(client, bob))["items"]
    assert {t["ref"] for t in theirs} == {f"demo:{bob.id}:{a}" for a in DEMO_FUNDS}


async def test_transfers_filter_by_asset_and_type_and_page_without_repeats(
    client: Client, alice: User, admin: User, redis_url: str, pg_url: str
) -> None:
    """asset=USDT and type=withdrawal filter; limit=3 pages cover the whole list once; a cursor is refused
    with other filters; an unlisted asset is 400 UNKNOWN_ASSET, an unknown type 422 listing the types."""
    await _wallet(client, admin, "withdrawals", alice, "USDT", "5", "w-2")
    drain(redis_url, pg_url)
    usdt = (await _transfers(client, alice, asset="USDT"))["items"]
    assert [(t["type"], t["amount"]) for t in usdt] == [("withdrawal", "5"), ("deposit", DEMO_FUNDS["USDT"])]
    out = (await _transfers(client, alice, type="withdrawal"))["items"]
    assert [t["ref"] for t in out] == ["w-2"]

    everything = [t["id"] for t in (await _transfers(client, alice))["items"]]
    paged: list[int] = []
    page = await _transfers(client, alice, limit=3)
    while True:
        paged += [t["id"] for t in page["items"]]
        if page["next_cursor"] is None:
            break
        page = await _transfers(client, alice, limit=3, cursor=page["next_cursor"])
    assert paged == everything and len(paged) == len(DEMO_FUNDS) + 1
    cursor = (await _transfers(client, alice, limit=1))["next_cursor"]
    r = await client.get("/api/transfers", params={"cursor": cursor, "asset": "BTC"}, headers=alice.headers)
    assert r.status_code == 422 and error_code(r) == "VALIDATION_ERROR", r.text

    r = await client.get("/api/transfers", params={"asset": "XYZ"}, headers=alice.headers)
    assert r.status_code == 400 and error_code(r) == "UNKNOWN_ASSET", r.text
    r = await client.get("/api/transfers", params={"type": "refund"}, headers=alice.headers)
    assert r.status_code == 422
    assert r.json()["error"]["message"] == 'type: must be one of deposit, withdrawal; got "refund"'
    for empty in ({"asset": ""}, {"type": " "}):  # a filter left empty is no filter: said, not ignored
        r = await client.get("/api/transfers", params=empty, headers=alice.headers)
        assert r.status_code == 422 and "is empty" in r.json()["error"]["message"], r.text
    assert (await client.get("/api/transfers")).status_code == 401
