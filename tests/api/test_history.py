"""History endpoints: order list (open/closed/all, sort, keyset pages), CSV export, fills, positions."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from exchange.api.history import encode_cursor
from tests.api.conftest import User, error_code
from workers.persist import drain

Client = AsyncTestClient[Litestar]


async def _place(client: Client, user: User, **body: Any) -> dict[str, Any]:
    r = await client.post(
        "/api/orders", json={"symbol": "BTC-USDT", "type": "limit", **body}, headers=user.headers
    )
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def _page_ids(client: Client, user: User, **params: Any) -> list[int]:
    """The ids of every page of GET /api/orders with `params`, following next_cursor (at most 10 pages)."""
    seen: list[int] = []
    cursor = None
    for _ in range(10):
        query = {**params, "cursor": cursor} if cursor else params
        page = (await client.get("/api/orders", params=query, headers=user.headers)).json()
        seen += [o["id"] for o in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    return seen


async def _scenario(client: Client, alice: User, bob: User) -> dict[str, int]:
    """alice rests a sell, bob takes half of it, alice places and cancels a buy, bob rests a buy."""
    sell = await _place(client, alice, side="sell", price="60000", qty="0.001")
    await _place(client, bob, side="buy", price="60000", qty="0.0004")
    cancelled = await _place(client, alice, side="buy", price="50000", qty="0.002", client_order_id="x-1")
    r = await client.delete(f"/api/orders/{cancelled['id']}", headers=alice.headers)
    assert r.status_code == 200, r.text
    rest = await _place(client, bob, side="buy", price="55000", qty="0.003")
    return {"sell": sell["id"], "cancelled": cancelled["id"], "bob_rest": rest["id"]}


async def test_order_list_filters_sorts_and_pages(
    client: Client, alice: User, bob: User, redis_url: str, pg_url: str
) -> None:
    """status=all/open/closed, side and sort filters, and keyset pages that neither repeat nor skip."""
    ids = await _scenario(client, alice, bob)
    drain(redis_url, pg_url)
    r = await client.get("/api/orders", params={"status": "all"}, headers=alice.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert [o["id"] for o in body["items"]] == [ids["cancelled"], ids["sell"]]
    assert body["next_cursor"] is None
    sell = body["items"][1]
    assert (sell["status"], sell["filled_qty"], sell["remaining_qty"]) == (
        "partially_filled",
        "0.0004",
        "0.0006",
    )

    r = await client.get("/api/orders", params={"status": "open"}, headers=alice.headers)
    assert [o["id"] for o in r.json()["items"]] == [ids["sell"]]
    r = await client.get("/api/orders", params={"status": "closed"}, headers=alice.headers)
    assert [(o["id"], o["status"], o["client_order_id"]) for o in r.json()["items"]] == [
        (ids["cancelled"], "cancelled", "x-1")
    ]
    r = await client.get("/api/orders", params={"side": "sell"}, headers=alice.headers)
    assert [o["id"] for o in r.json()["items"]] == [ids["sell"]]
    r = await client.get("/api/orders", params={"sort": "price", "order": "asc"}, headers=alice.headers)
    assert [o["price"] for o in r.json()["items"]] == ["50000", "60000"]

    seen = await _page_ids(client, alice, limit=1, sort="created_at", order="asc")
    assert seen == [ids["sell"], ids["cancelled"]]

    # owner-scoped: bob sees only his own
    r = await client.get("/api/orders", params={"status": "all"}, headers=bob.headers)
    assert {o["id"] for o in r.json()["items"]} == {ids["bob_rest"], ids["sell"] + 1}


async def test_bad_cursor_and_unknown_market_are_clear_errors(client: Client, alice: User) -> None:
    """A forged cursor or one from another sort is VALIDATION_ERROR; an unknown symbol UNKNOWN_MARKET."""
    r = await client.get("/api/orders", params={"cursor": "not-a-cursor"}, headers=alice.headers)
    assert r.status_code == 422 and error_code(r) == "VALIDATION_ERROR"
    r = await client.get("/api/orders", params={"symbol": "NOPE-USDT"}, headers=alice.headers)
    assert r.status_code == 404 and error_code(r) == "UNKNOWN_MARKET"
    r = await client.get("/api/orders")
    assert r.status_code == 401


async def test_a_cursor_pages_only_the_query_it_came_from(
    client: Client, alice: User, redis_url: str, pg_url: str
) -> None:
    """A next_cursor is refused (422) with another market, side or status filter than its page's, and a fills
    cursor with another market: it would otherwise start the other query at a position it never had."""
    for price in ("50000", "50001", "50002"):
        await _place(client, alice, side="buy", price=price, qty="0.001")
    drain(redis_url, pg_url)
    first = await client.get(
        "/api/orders", params={"status": "all", "symbol": "BTC-USDT", "limit": 1}, headers=alice.headers
    )
    cursor = first.json()["next_cursor"]
    assert cursor
    same = {"status": "all", "symbol": "BTC-USDT", "limit": 1, "cursor": cursor}
    assert (await client.get("/api/orders", params=same, headers=alice.headers)).status_code == 200
    for other in ({"symbol": "ETH-USDT"}, {"symbol": None}, {"side": "buy"}, {"status": "closed"}):
        params = {k: v for k, v in (same | other).items() if v is not None}
        r = await client.get("/api/orders", params=params, headers=alice.headers)
        assert r.status_code == 422 and error_code(r) == "VALIDATION_ERROR", (other, r.text)
        assert "filters" in r.json()["error"]["message"]
    fills_cursor = encode_cursor({"k": "fills", "f": "BTC-USDT", "v": "taker", "id": 1})
    r = await client.get("/api/fills", params={"cursor": fills_cursor}, headers=alice.headers)
    assert r.status_code == 422 and error_code(r) == "VALIDATION_ERROR", r.text
    r = await client.get(
        "/api/fills", params={"cursor": fills_cursor, "symbol": "BTC-USDT"}, headers=alice.headers
    )
    assert r.status_code == 200, r.text


async def test_pages_by_updated_at_hold_every_order_once_while_one_is_not_persisted_yet(
    client: Client, alice: User, redis_url: str, pg_url: str
) -> None:
    """PostgreSQL pages by its own sort values; an open order it shows is refreshed from the engine, whose
    newer `updated_at` (a cancel the worker has not persisted) must not move the next page's start."""
    prices = ("50000", "50001", "50002")
    ids = [(await _place(client, alice, side="buy", price=p, qty="0.001"))["id"] for p in prices]
    drain(redis_url, pg_url)
    r = await client.delete(f"/api/orders/{ids[0]}", headers=alice.headers)  # not persisted yet
    assert r.status_code == 200, r.text
    for order in ("asc", "desc"):
        for sort in ("updated_at", "status", "id"):
            seen = await _page_ids(client, alice, status="all", sort=sort, order=order, limit=1)
            assert sorted(seen) == sorted(ids), (sort, order, seen)


async def test_forged_cursors_are_validation_errors_never_500(client: Client, alice: User) -> None:
    """A cursor is client input: a value of the wrong type or out of range for its sort is 422."""
    forged = [
        ("open", "created_at", {"v": "x", "id": 1}),
        ("open", "status", {"v": 5, "id": 1}),
        ("all", "status", {"v": 5, "id": 1}),
        ("all", "created_at", {"v": "x", "id": 1}),
        ("all", "id", {"v": "x", "id": 1}),
        ("all", "price", {"v": 2**70, "id": 1}),
        ("all", "created_at", {"v": 1, "id": -(2**64)}),
        ("all", "created_at", {"v": True, "id": 1}),
        ("all", "status", {"v": "open" * 20, "id": 1}),
    ]
    for status, sort, payload in forged:
        cursor = encode_cursor({"s": sort, "o": "desc", "k": "orders", "f": f"||{status}", **payload})
        params = {"status": status, "sort": sort, "order": "desc", "cursor": cursor}
        r = await client.get("/api/orders", params=params, headers=alice.headers)
        assert r.status_code == 422 and error_code(r) == "VALIDATION_ERROR", (status, sort, payload, r.text)
    fills_cursor = encode_cursor({"k": "fills", "f": "", "v": 7, "id": 1})  # fills: v is the liquidity, text
    r = await client.get("/api/fills", params={"cursor": fills_cursor}, headers=alice.headers)
    assert r.status_code == 422 and error_code(r) == "VALIDATION_ERROR", r.text


async def test_unpersisted_changes_show_through_redis(
    client: Client, alice: User, bob: User, redis_url: str, pg_url: str
) -> None:
    """An order PostgreSQL still has open is shown in its live state (filled) before the worker catches up."""
    sell = await _place(client, alice, side="sell", price="60000", qty="0.001")
    drain(redis_url, pg_url)
    await _place(client, bob, side="buy", price="60000", qty="0.001")
    r = await client.get("/api/orders", params={"status": "all"}, headers=alice.headers)
    item = r.json()["items"][0]
    assert (item["id"], item["status"], item["filled_qty"]) == (sell["id"], "filled", "0.001")


async def test_csv_export_streams_every_matching_order(
    client: Client, alice: User, bob: User, redis_url: str, pg_url: str
) -> None:
    """The CSV has a header and one row per order with decimal strings."""
    ids = await _scenario(client, alice, bob)
    drain(redis_url, pg_url)
    r = await client.get("/api/orders/export.csv", params={"status": "all"}, headers=alice.headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert r.headers["content-disposition"] == 'attachment; filename="orders.csv"'
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [int(row["id"]) for row in rows] == [ids["cancelled"], ids["sell"]]
    assert rows[1]["price"] == "60000" and rows[1]["filled_qty"] == "0.0004"
    assert rows[1]["post_only"] == "false"  # as in the JSON API
    for row in rows:  # the ms timestamps again as ISO 8601 UTC, for spreadsheets
        for ms, text in ((row["created_at"], row["created_time"]), (row["updated_at"], row["updated_time"])):
            parsed = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z")
            assert text.endswith("Z") and round(parsed.timestamp() * 1000) == int(ms), (ms, text)


async def test_the_csv_file_name_says_which_orders_it_holds(client: Client, alice: User) -> None:
    """With filters the export's file name names them: market, side, then status unless it is all."""
    cases = [
        ({"symbol": "BTC-USDT"}, "orders-BTC-USDT.csv"),
        ({"symbol": "BTC-USDT", "side": "sell", "status": "open"}, "orders-BTC-USDT-sell-open.csv"),
        ({"status": "closed"}, "orders-closed.csv"),
    ]
    for params, name in cases:
        r = await client.get("/api/orders/export.csv", params=params, headers=alice.headers)
        assert r.status_code == 200, r.text
        assert r.headers["content-disposition"] == f'attachment; filename="{name}"', params


async def test_csv_export_neutralises_cells_a_spreadsheet_would_run(client: Client, alice: User) -> None:
    """A client_order_id starting with '-' (the one exported text a user chooses that can) gets a leading
    apostrophe, so a spreadsheet shows it instead of evaluating it (OWASP CSV injection)."""
    placed = await _place(client, alice, side="buy", price="50000", qty="0.001", client_order_id="-2-3")
    r = await client.get("/api/orders/export.csv", params={"status": "open"}, headers=alice.headers)
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [(int(row["id"]), row["client_order_id"]) for row in rows] == [(placed["id"], "'-2-3")]


async def test_fills_have_fee_and_liquidity_and_page(
    client: Client, alice: User, bob: User, redis_url: str, pg_url: str
) -> None:
    """alice's fill is maker (0.1 % fee), bob's taker (0.2 %), in quote; order detail includes them."""
    ids = await _scenario(client, alice, bob)
    drain(redis_url, pg_url)
    r = await client.get("/api/fills", headers=alice.headers)
    assert r.status_code == 200, r.text
    (fill,) = r.json()["items"]
    assert (fill["order_id"], fill["side"], fill["liquidity"], fill["price"], fill["qty"]) == (
        ids["sell"],
        "sell",
        "maker",
        "60000",
        "0.0004",
    )
    assert (fill["quote_qty"], fill["fee"], fill["fee_asset"]) == ("24", "0.024", "USDT")
    r = await client.get("/api/fills", headers=bob.headers)
    (bfill,) = r.json()["items"]
    assert (bfill["liquidity"], bfill["fee"]) == ("taker", "0.048")
    r = await client.get(f"/api/orders/{ids['sell']}", headers=alice.headers)
    assert [f["liquidity"] for f in r.json()["fills"]] == ["maker"]
    # paging over several fills
    for _ in range(3):
        await _place(client, bob, side="buy", price="60000", qty="0.0001")
    drain(redis_url, pg_url)
    first = (await client.get("/api/fills", params={"limit": 2}, headers=alice.headers)).json()
    second = (
        await client.get(
            "/api/fills", params={"limit": 2, "cursor": first["next_cursor"]}, headers=alice.headers
        )
    ).json()
    trade_ids = [f["trade_id"] for f in first["items"] + second["items"]]
    assert trade_ids == sorted(trade_ids, reverse=True) and len(set(trade_ids)) == 4
    assert second["next_cursor"] is None


async def test_positions_net_average_and_pnl(
    client: Client, alice: User, bob: User, redis_url: str, pg_url: str
) -> None:
    """bob buys 0.001 at 60000 and 0.001 at 62000, sells 0.001 at 64000: position, average, PnL exact."""
    await _place(client, alice, side="sell", price="60000", qty="0.001")
    await _place(client, bob, side="buy", price="60000", qty="0.001")
    await _place(client, alice, side="sell", price="62000", qty="0.001")
    await _place(client, bob, side="buy", price="62000", qty="0.001")
    await _place(client, alice, side="buy", price="64000", qty="0.001")
    await _place(client, bob, side="sell", price="64000", qty="0.001")
    drain(redis_url, pg_url)
    r = await client.get("/api/positions", headers=bob.headers)
    assert r.status_code == 200, r.text
    (pos,) = r.json()
    assert (pos["symbol"], pos["position"], pos["avg_entry_price"], pos["last_price"]) == (
        "BTC-USDT",
        "0.001",
        "61000",
        "64000",
    )
    # fees (taker 0.2 %): 0.12 + 0.124 + 0.128 = 0.372; realized = (64000 - 61000) * 0.001 - 0.372 = 2.628
    assert (pos["fees"], pos["realized_pnl"], pos["unrealized_pnl"]) == ("0.372", "2.628", "3")
    assert (pos["buy_qty"], pos["sell_qty"]) == ("0.002", "0.001")
    r = await client.get("/api/positions", headers=alice.headers)
    (apos,) = r.json()
    assert apos["position"] == "-0.001" and apos["avg_entry_price"] == "61000"


async def test_metrics_expose_persistence_lag(
    client: Client, alice: User, redis_url: str, pg_url: str
) -> None:
    """/metrics carries the lag gauges per stream: events behind before a drain, 0 after."""
    await _place(client, alice, side="sell", price="60000", qty="0.001")
    text = (await client.get("/metrics")).text
    assert 'exchange_persist_events_behind{stream="events:BTC-USDT"} 1' in text
    drain(redis_url, pg_url)
    text = (await client.get("/metrics")).text
    assert 'exchange_persist_events_behind{stream="events:BTC-USDT"} 0' in text
    assert "exchange_reconcile_differences_total 0" in text
