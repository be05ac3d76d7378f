"""Order entry over REST: place, get, cancel, cancel all, balances, and every rejection."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
import redis
from litestar import Litestar
from litestar.testing import AsyncTestClient

from exchange.api.app import create_app
from exchange.api.auth import TokenService
from exchange.api.settings import Settings
from tests.api.conftest import DeadPool, User, error_code

SYMBOL = "BTC-USDT"


async def place(client: AsyncTestClient[Litestar], user: User, **fields: Any) -> Any:
    body = {"symbol": SYMBOL, **fields}
    return await client.post("/api/orders", json=body, headers=user.headers)


async def balances(client: AsyncTestClient[Litestar], user: User) -> dict[str, dict[str, str]]:
    r = await client.get("/api/balances", headers=user.headers)
    assert r.status_code == 200
    return {b["asset"]: b for b in r.json()}


async def fees(client: AsyncTestClient[Litestar]) -> tuple[Decimal, Decimal]:
    markets = {m["symbol"]: m for m in (await client.get("/api/markets")).json()}
    return Decimal(markets[SYMBOL]["maker_fee"]), Decimal(markets[SYMBOL]["taker_fee"])


async def test_a_limit_order_rests_and_holds_quote(client: AsyncTestClient[Litestar], alice: User) -> None:
    """A non-crossing limit buy answers 201 open with decimal strings and moves its hold to held."""
    r = await place(client, alice, side="buy", type="limit", price="50000", qty="0.1")
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["status"] == "open"
    assert (order["price"], order["qty"], order["filled_qty"], order["remaining_qty"]) == (
        "50000",
        "0.1",
        "0",
        "0.1",
    )
    assert order["avg_price"] is None and order["fills"] == []
    assert order["time_in_force"] == "gtc" and order["side"] == "buy" and order["type"] == "limit"
    assert isinstance(order["created_at"], int) and order["created_at"] == order["updated_at"]
    _maker, taker = await fees(client)
    usdt = (await balances(client, alice))["USDT"]
    held = Decimal(usdt["held"])
    assert Decimal("5000") * (1 + taker) <= held < Decimal("5000") * (1 + taker) + Decimal("0.01")
    assert Decimal(usdt["available"]) + held == Decimal("100000")


async def test_a_crossing_order_trades_at_the_maker_price_with_fees(
    client: AsyncTestClient[Litestar], alice: User, bob: User
) -> None:
    """A sell below a resting bid fills at the bid's price; the taker fill carries the taker fee in quote."""
    maker = (await place(client, alice, side="buy", type="limit", price="50000", qty="0.1")).json()
    r = await place(client, bob, side="sell", type="limit", price="49000", qty="0.04")
    assert r.status_code == 201, r.text
    taker = r.json()
    assert taker["status"] == "filled" and taker["filled_qty"] == "0.04" and taker["remaining_qty"] == "0"
    assert taker["avg_price"] == "50000"
    [fill] = taker["fills"]
    _maker_fee, taker_fee = await fees(client)
    assert fill["price"] == "50000" and fill["qty"] == "0.04" and fill["liquidity"] == "taker"
    assert fill["fee_asset"] == "USDT" and Decimal(fill["fee"]) == Decimal("2000") * taker_fee
    r = await client.get(f"/api/orders/{maker['id']}", headers=alice.headers)
    assert r.status_code == 200
    assert r.json()["status"] == "partially_filled" and r.json()["filled_qty"] == "0.04"
    assert r.json()["remaining_qty"] == "0.06"
    btc = (await balances(client, bob))["BTC"]
    assert Decimal(btc["available"]) == Decimal("2") - Decimal("0.04")


async def test_a_market_buy_by_quote_spends_at_most_the_budget(
    client: AsyncTestClient[Litestar], alice: User, bob: User
) -> None:
    """A market buy with quote_qty buys what the budget pays for (fees included) and releases the rest."""
    await place(client, bob, side="sell", type="limit", price="40000", qty="1")
    r = await place(client, alice, side="buy", type="market", quote_qty="1000")
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["type"] == "market" and order["quote_qty"] == "1000" and order["price"] is None
    assert order["status"] in {"filled", "expired"}
    bought = Decimal(order["filled_qty"])
    assert bought > 0
    usdt = (await balances(client, alice))["USDT"]
    spent = Decimal("100000") - Decimal(usdt["available"])
    assert usdt["held"] == "0" and 0 < spent <= Decimal("1000")


async def test_a_market_order_by_qty_is_worth_its_qty_at_the_best_price_against_min_notional(
    client: AsyncTestClient[Litestar], alice: User, bob: User
) -> None:
    """A market buy by qty is checked at the best ask: worth less than `min_notional` there it is 400
    NOTIONAL_TOO_SMALL in the market's units and changes nothing; worth exactly the minimum it fills."""
    m = next(x for x in (await client.get("/api/markets")).json() if x["symbol"] == SYMBOL)
    assert m["min_notional"] == "5"
    await place(client, bob, side="sell", type="limit", price="50000", qty="0.001")
    before = await balances(client, alice)
    r = await place(client, alice, side="buy", type="market", qty="0.00009")  # 4.5 USDT at 50,000
    assert r.status_code == 400 and error_code(r) == "NOTIONAL_TOO_SMALL", r.text
    assert r.json()["error"]["message"] == "order value below the market minimum of 5 USDT"
    assert await balances(client, alice) == before
    r = await place(client, alice, side="buy", type="market", qty="0.0001")  # 5 USDT: exactly the minimum
    assert r.status_code == 201, r.text
    assert (r.json()["status"], r.json()["filled_qty"]) == ("filled", "0.0001")


async def test_the_price_band_refuses_a_fat_finger_limit_order_and_stops_a_market_order(
    client: AsyncTestClient[Litestar], alice: User, bob: User
) -> None:
    """BTC-USDT has a 10 % band (`price_band` "0.1"). With the best ask at 50,000: a limit buy above 55,000
    is 400 PRICE_OUT_OF_BAND, in prices, and changes nothing; at 55,000 it fills. A market buy stops before
    an ask beyond 55,000 and the rest expires (reason `price_band`); the estimate stops there too."""
    m = next(x for x in (await client.get("/api/markets")).json() if x["symbol"] == SYMBOL)
    assert m["price_band"] == "0.1"
    await place(client, bob, side="sell", type="limit", price="50000", qty="0.001")
    await place(client, bob, side="sell", type="limit", price="55000.01", qty="0.001")
    before = await balances(client, alice)
    r = await place(client, alice, side="buy", type="limit", price="55000.01", qty="0.002")
    assert r.status_code == 400 and error_code(r) == "PRICE_OUT_OF_BAND", r.text
    message = r.json()["error"]["message"]
    assert message == "price above 55000: at most 10% above the best ask (50000)"
    assert await balances(client, alice) == before
    estimate = (await client.get(f"/api/markets/{SYMBOL}/estimate", params={"qty": "0.002"})).json()
    assert (estimate["buy"]["filled_qty"], estimate["buy"]["complete"]) == ("0.001", False)

    r = await place(client, alice, side="buy", type="market", qty="0.002")
    assert r.status_code == 201, r.text
    order = r.json()
    assert (order["status"], order["reason"], order["filled_qty"]) == ("expired", "price_band", "0.001")
    assert [f["price"] for f in order["fills"]] == ["50000"]
    assert (await balances(client, alice))["USDT"]["held"] == "0"
    # the band follows the touch: 55,000.01 now, so at most 60,500.011 (60,500.01 on the tick)
    r = await place(client, alice, side="buy", type="limit", price="60500.02", qty="0.001")
    assert r.status_code == 400 and error_code(r) == "PRICE_OUT_OF_BAND"
    r = await place(client, alice, side="sell", type="limit", price="5000", qty="0.001")  # no bids: no band
    assert r.status_code == 201, r.text


async def test_cancel_then_cancel_again_is_order_closed(
    client: AsyncTestClient[Litestar], alice: User
) -> None:
    """DELETE cancels (200, status cancelled, hold released); a second DELETE is 409 ORDER_CLOSED."""
    order = (await place(client, alice, side="buy", type="limit", price="30000", qty="0.01")).json()
    r = await client.delete(f"/api/orders/{order['id']}", headers=alice.headers)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled" and r.json()["reason"] == "user"
    assert (await balances(client, alice))["USDT"]["held"] == "0"
    r = await client.delete(f"/api/orders/{order['id']}", headers=alice.headers)
    assert r.status_code == 409 and error_code(r) == "ORDER_CLOSED"


async def test_unknown_order_is_404(client: AsyncTestClient[Litestar], alice: User) -> None:
    """GET and DELETE of an id that does not exist are 404 ORDER_NOT_FOUND."""
    for method in ("get", "delete"):
        r = await getattr(client, method)("/api/orders/987654321", headers=alice.headers)
        assert r.status_code == 404 and error_code(r) == "ORDER_NOT_FOUND"


async def test_cancel_all_cancels_every_open_order_or_one_market(
    client: AsyncTestClient[Litestar], alice: User
) -> None:
    """DELETE /api/orders?symbol= cancels that market's orders; without symbol, all of them."""
    for price in ("30000", "30001", "30002"):
        assert (
            await place(client, alice, side="buy", type="limit", price=price, qty="0.001")
        ).status_code == 201
    r = await client.post(
        "/api/orders",
        json={"symbol": "ETH-USDT", "side": "buy", "type": "limit", "price": "1000", "qty": "0.1"},
        headers=alice.headers,
    )
    assert r.status_code == 201, r.text
    r = await client.delete("/api/orders", params={"symbol": SYMBOL}, headers=alice.headers)
    assert r.status_code == 200 and r.json() == {"cancelled": 3}
    r = await client.delete("/api/orders", headers=alice.headers)
    assert r.status_code == 200 and r.json() == {"cancelled": 1}
    assert (await balances(client, alice))["USDT"]["held"] == "0"


async def test_cancel_all_refuses_a_misspelt_filter_or_a_body_and_cancels_nothing(
    client: AsyncTestClient[Litestar], alice: User
) -> None:
    """`?symbl=BTC-USDT` or a JSON body naming the market would widen "cancel BTC" to every market if
    ignored: both are 422 VALIDATION_ERROR, and the orders stay open."""
    assert (
        await place(client, alice, side="buy", type="limit", price="30000", qty="0.001")
    ).status_code == 201
    r = await client.delete("/api/orders", params={"symbl": SYMBOL}, headers=alice.headers)
    assert r.status_code == 422 and error_code(r) == "VALIDATION_ERROR" and "symbl" in r.text
    r = await client.request("DELETE", "/api/orders", json={"symbol": SYMBOL}, headers=alice.headers)
    assert r.status_code == 422 and error_code(r) == "VALIDATION_ERROR"
    r = await client.get("/api/orders", params={"status": "open"}, headers=alice.headers)
    assert len(r.json()["items"]) == 1


async def test_validation_messages_say_what_is_expected_in_words_not_as_a_regex(
    client: AsyncTestClient[Litestar], alice: User
) -> None:
    """A malformed decimal, symbol or client_order_id (body or query) is 422 with the rule in words."""
    bad = {"price": "-5", "symbol": "btc-usdt", "client_order_id": "a b"}
    words = {"price": "a decimal string", "symbol": "a market symbol", "client_order_id": "1 to 36 letters"}
    good = {"side": "buy", "type": "limit", "price": "5", "qty": "1"}
    for field, value in bad.items():
        r = await place(client, alice, **{**good, field: value})
        message = r.json()["error"]["message"]
        assert r.status_code == 422 and words[field] in message and "regex" not in message, message
    r = await client.get("/api/orders", params={"status": "open", "symbol": "btc"}, headers=alice.headers)
    assert r.status_code == 422 and "a market symbol" in r.json()["error"]["message"]


async def test_a_decimal_with_too_many_digits_is_told_its_limit_not_that_it_is_no_decimal(
    client: AsyncTestClient[Litestar], alice: User
) -> None:
    """ "0.0010000000000000000" is a decimal string: it has 19 decimals where 18 are allowed, and a 38-digit
    price is too large. The message says that (in a body and in a query), not "Expected a decimal string"."""
    good = {"side": "buy", "type": "limit", "price": "50000", "qty": "0.01"}
    cases = {
        "qty": ("0.0010000000000000000", "qty: too many decimals: at most 18 (19 given)"),
        "price": ("9" * 38, "price: too large: at most 20 digits before the point (38 given)"),
        "quote_qty": ("1" * 45, "quote_qty: too large: at most 20 digits before the point (45 given)"),
    }
    for field, (value, message) in cases.items():
        r = await place(client, alice, **{**good, field: value})
        assert r.status_code == 422 and error_code(r) == "VALIDATION_ERROR", r.text
        assert r.json()["error"]["message"] == message
    r = await client.get(f"/api/markets/{SYMBOL}/estimate", params={"qty": "9" * 26})
    assert r.status_code == 422 and error_code(r) == "VALIDATION_ERROR"
    assert r.json()["error"]["message"] == "qty: too large: at most 20 digits before the point (26 given)"
    r = await place(client, alice, **{**good, "qty": "1e5"})  # not of the form: the rule in words, as before
    assert "a decimal string such as" in r.json()["error"]["message"]


async def test_the_side_filter_says_buy_or_sell_not_its_regex(
    client: AsyncTestClient[Litestar], alice: User
) -> None:
    """`?side=x` on the order history and its export: 422 naming the two values, with no regex in it."""
    for path in ("/api/orders", "/api/orders/export.csv"):
        r = await client.get(path, params={"side": "x"}, headers=alice.headers)
        assert r.status_code == 422 and error_code(r) == "VALIDATION_ERROR"
        assert r.json()["error"]["message"] == 'side: Expected "buy" or "sell"; got "x"', r.text


async def test_client_order_id_retry_returns_the_same_order(
    client: AsyncTestClient[Litestar], alice: User
) -> None:
    """The same client_order_id with the same fields returns the original; other fields are 409."""
    fields = {
        "side": "buy",
        "type": "limit",
        "price": "30000",
        "qty": "0.01",
        "client_order_id": "my-order-1",
    }
    first = (await place(client, alice, **fields)).json()
    second = await place(client, alice, **fields)
    assert second.status_code == 201 and second.json()["id"] == first["id"]
    assert first["client_order_id"] == "my-order-1"
    r = await place(client, alice, **{**fields, "qty": "0.02"})
    assert r.status_code == 409 and error_code(r) == "DUPLICATE_CLIENT_ORDER_ID"


async def test_an_order_is_read_and_cancelled_by_its_client_order_id(
    client: AsyncTestClient[Litestar], alice: User, bob: User
) -> None:
    """`/api/orders/by-client-id/{client_order_id}` answers as `/api/orders/{id}` does: the order with its
    fills, a cancel (rate limited like one by id), 409 once closed; an id you never used is 404, one
    another account used with the same text is yours only (404 for bob, whose own order with it is his); a
    malformed one is 422 and cancels nothing."""
    coid = "bot-7_a"
    r = await place(client, alice, side="buy", type="limit", price="50000", qty="0.1", client_order_id=coid)
    placed = r.json()
    mine = await client.get(f"/api/orders/by-client-id/{coid}", headers=alice.headers)
    assert mine.status_code == 200, mine.text
    by_id = await client.get(f"/api/orders/{placed['id']}", headers=alice.headers)
    assert mine.json() == by_id.json() and mine.json()["client_order_id"] == coid
    for method in ("GET", "DELETE"):
        r = await client.request(method, f"/api/orders/by-client-id/{coid}", headers=bob.headers)
        assert r.status_code == 404 and error_code(r) == "ORDER_NOT_FOUND", r.text
        r = await client.request(method, "/api/orders/by-client-id/never-used", headers=alice.headers)
        assert r.status_code == 404 and error_code(r) == "ORDER_NOT_FOUND", r.text
        assert "never-used" in r.json()["error"]["message"]
        for bad in ("has%20space", "x" * 37, "%C3%A9t%C3%A9"):
            r = await client.request(method, f"/api/orders/by-client-id/{bad}", headers=alice.headers)
            assert r.status_code == 422 and error_code(r) == "VALIDATION_ERROR", (bad, r.text)
    bobs = await place(client, bob, side="sell", type="limit", price="90000", qty="0.1", client_order_id=coid)
    r = await client.get(f"/api/orders/by-client-id/{coid}", headers=bob.headers)
    assert r.json()["id"] == bobs.json()["id"] != placed["id"]
    r = await client.delete(f"/api/orders/by-client-id/{coid}", headers=alice.headers)
    assert r.status_code == 200 and r.json()["status"] == "cancelled" and r.json()["id"] == placed["id"]
    assert (await client.get(f"/api/orders/{bobs.json()['id']}", headers=bob.headers)).json()[
        "status"
    ] == "open"
    r = await client.delete(f"/api/orders/by-client-id/{coid}", headers=alice.headers)
    assert r.status_code == 409 and error_code(r) == "ORDER_CLOSED"
    r = await client.get(f"/api/orders/by-client-id/{coid}", headers=alice.headers)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    r = await client.get(f"/api/orders/by-client-id/{coid}")
    assert r.status_code == 401


@pytest.mark.parametrize(
    ("fields", "status", "code"),
    [
        ({"side": "buy", "type": "limit", "price": "50000.001", "qty": "0.1"}, 400, "PRICE_NOT_ON_TICK"),
        ({"side": "buy", "type": "limit", "price": "50000", "qty": "0.000001"}, 400, "QTY_NOT_ON_LOT"),
        ({"side": "buy", "type": "limit", "qty": "0.1"}, 400, "INVALID_PRICE"),
        ({"side": "buy", "type": "market", "price": "50000", "qty": "0.1"}, 400, "INVALID_PRICE"),
        ({"side": "buy", "type": "limit", "price": "0", "qty": "0.1"}, 400, "INVALID_PRICE"),
        ({"side": "buy", "type": "limit", "price": "50000", "qty": "0"}, 400, "INVALID_QTY"),
        ({"side": "buy", "type": "limit", "price": "1", "qty": "0.001"}, 400, "NOTIONAL_TOO_SMALL"),
        ({"side": "buy", "type": "limit", "price": "50000", "qty": "100000"}, 400, "QTY_TOO_LARGE"),
        ({"side": "buy", "type": "limit", "price": "99999999999", "qty": "0.1"}, 400, "PRICE_TOO_HIGH"),
        ({"side": "buy", "type": "limit", "price": "50000", "qty": "10"}, 409, "INSUFFICIENT_FUNDS"),
        ({"side": "sell", "type": "limit", "price": "50000", "qty": "3"}, 409, "INSUFFICIENT_FUNDS"),
        (
            {
                "side": "buy",
                "type": "limit",
                "price": "50000",
                "qty": "0.1",
                "time_in_force": "ioc",
                "post_only": True,
            },
            400,
            "INVALID_POST_ONLY",
        ),
        ({"side": "sell", "type": "market", "quote_qty": "9" * 20}, 400, "QTY_TOO_LARGE"),
        ({"side": "buy", "type": "market", "quote_qty": "9" * 20}, 400, "QTY_TOO_LARGE"),
        ({"side": "buy", "type": "market", "qty": "0.1", "quote_qty": "100"}, 400, "INVALID_QTY"),
        ({"side": "buy", "type": "market", "qty": "0.1", "time_in_force": "fok"}, 400, "INVALID_TIF"),
        ({"side": "sell", "type": "market", "qty": "0.1", "time_in_force": "gtc"}, 400, "INVALID_TIF"),
        ({"side": "buy", "type": "stop", "price": "1", "qty": "1"}, 422, "VALIDATION_ERROR"),
        ({"side": "up", "type": "limit", "price": "1", "qty": "1"}, 422, "VALIDATION_ERROR"),
        ({"side": "buy", "type": "limit", "price": "-1", "qty": "1"}, 422, "VALIDATION_ERROR"),
        ({"side": "buy", "type": "limit", "price": 50000, "qty": "1"}, 422, "VALIDATION_ERROR"),
        ({"side": "buy", "type": "limit", "price": "1e5", "qty": "1"}, 422, "VALIDATION_ERROR"),
        ({"side": "buy", "type": "limit", "price": "50000\n", "qty": "0.1"}, 422, "VALIDATION_ERROR"),
        (
            {"side": "buy", "type": "limit", "price": "50000", "qty": "0.1", "client_order_id": "a\n"},
            422,
            "VALIDATION_ERROR",
        ),
        (
            {"side": "buy", "type": "limit", "price": "1", "qty": "1", "leverage": 100},
            422,
            "VALIDATION_ERROR",
        ),
        (
            {"side": "buy", "type": "limit", "price": "1", "qty": "1", "client_order_id": "bad id!"},
            422,
            "VALIDATION_ERROR",
        ),
    ],
)
async def test_bad_orders_are_refused_with_a_stable_code(
    client: AsyncTestClient[Litestar], alice: User, fields: dict[str, Any], status: int, code: str
) -> None:
    """Each malformed or unaffordable order gets its status and code, and balances do not move."""
    before = await balances(client, alice)
    r = await place(client, alice, **fields)
    assert r.status_code == status, r.text
    assert error_code(r) == code
    assert await balances(client, alice) == before


async def test_json_nested_too_deeply_is_a_bad_request_not_a_500(
    client: AsyncTestClient[Litestar], alice: User
) -> None:
    """A body nested past what the JSON decoder recurses into is 400 BAD_REQUEST, on the order route (lean
    or not, it ends in Litestar's decoder) as on any other route with a body, and changes nothing."""
    before = await balances(client, alice)
    nested = "[" * 5000 + "]" * 5000
    for path, headers in (("/api/orders", alice.headers), ("/api/auth/login", {})):
        r = await client.post(path, content=nested, headers={**headers, "content-type": "application/json"})
        assert r.status_code == 400 and error_code(r) == "BAD_REQUEST", (path, r.text)
    body = (
        '{"symbol": "BTC-USDT", "side": "buy", "type": "limit", "price": "1", "qty": "1", "x": '
        + nested
        + "}"
    )
    r = await client.post(
        "/api/orders", content=body, headers={**alice.headers, "content-type": "application/json"}
    )
    assert r.status_code in (400, 422), r.text
    assert await balances(client, alice) == before


async def test_invalid_utf8_in_a_body_is_a_bad_request_not_a_500(
    client: AsyncTestClient[Litestar], alice: User
) -> None:
    """A JSON string holding bytes that are not UTF-8 is 400 BAD_REQUEST (msgspec raises
    UnicodeDecodeError, not a DecodeError, for it), on the order route and on any route with a body, and
    changes nothing."""
    before = await balances(client, alice)
    order = b'{"symbol":"BTC-USDT","side":"buy","type":"limit","price":"100","qty":"0.1",'
    order += b'"client_order_id":"a\xff"}'
    cases = (
        ("/api/orders", alice.headers, order),
        ("/api/orders", {}, order),
        ("/api/auth/login", {}, b'{"email":"a@example.com","password":"abcdefgh\xff\xfe"}'),
        ("/api/auth/register", {}, b'{"\xff":1}'),
    )
    for path, headers, body in cases:
        r = await client.post(path, content=body, headers={**headers, "content-type": "application/json"})
        assert r.status_code == 400 and error_code(r) == "BAD_REQUEST", (path, r.text)
        assert "UTF-8" in r.json()["error"]["message"]
    assert await balances(client, alice) == before


async def test_an_empty_body_is_a_bad_request_that_says_so(
    client: AsyncTestClient[Litestar], alice: User
) -> None:
    """A route that takes a JSON body and gets none answers 400 BAD_REQUEST "request body required"."""
    for path in ("/api/orders", "/api/auth/register", "/api/auth/login"):
        r = await client.post(
            path, content=b"", headers={**alice.headers, "content-type": "application/json"}
        )
        assert r.status_code == 400 and error_code(r) == "BAD_REQUEST", (path, r.text)
        assert "request body required" in r.json()["error"]["message"]


@pytest.mark.parametrize("value", ["true", "1", 1])
async def test_body_fields_are_typed_as_strictly_as_websocket_frames(
    client: AsyncTestClient[Litestar], alice: User, value: Any
) -> None:
    """`post_only` must be a JSON boolean: a string or a number is 422 VALIDATION_ERROR naming the field,
    as the same order sent over the WebSocket is, and nothing is placed."""
    before = await balances(client, alice)
    r = await place(client, alice, side="buy", type="limit", price="100", qty="0.001", post_only=value)
    assert r.status_code == 422 and error_code(r) == "VALIDATION_ERROR", r.text
    assert r.json()["error"]["message"].startswith("post_only: Expected true or false, got ")
    assert await balances(client, alice) == before


async def test_engine_refusals_speak_in_prices_quantities_and_assets(
    client: AsyncTestClient[Litestar], alice: User
) -> None:
    """The engine refuses in ticks, lots and minor units; the API says the market's limits and the
    balances in decimals and assets (the codes stay)."""
    m = next(x for x in (await client.get("/api/markets")).json() if x["symbol"] == SYMBOL)
    need = (500000 * (1 + Decimal(m["taker_fee"]))).normalize()  # 10 BTC at 50,000 with the taker fee
    cases = [
        (
            {"side": "buy", "type": "limit", "price": "1", "qty": "0.001"},
            "NOTIONAL_TOO_SMALL",
            f"order value below the market minimum of {m['min_notional']} USDT",
        ),
        (
            {"side": "buy", "type": "limit", "price": "50000", "qty": "100000"},
            "QTY_TOO_LARGE",
            f"qty above the market maximum of {m['max_qty']} BTC",
        ),
        (
            {"side": "buy", "type": "limit", "price": "50000", "qty": "10"},
            "INSUFFICIENT_FUNDS",
            f"insufficient USDT: 100000 available, {need:f} needed (price times qty with the taker fee, "
            "rounded up per lot: the most the order can pay)",
        ),
        (
            {"side": "sell", "type": "limit", "price": "50000", "qty": "3"},
            "INSUFFICIENT_FUNDS",
            "insufficient BTC: 2 available, 3 needed",
        ),
        (
            {"side": "buy", "type": "market", "qty": "0.01", "quote_qty": "10"},
            "INVALID_QTY",
            "a market order needs exactly one of qty and quote_qty, positive",
        ),
        (
            {"side": "buy", "type": "limit", "price": "50000", "qty": "0"},
            "INVALID_QTY",
            "a limit order needs a positive qty and takes no quote_qty",
        ),
        (
            {"side": "buy", "type": "limit", "price": "0.00", "qty": "1"},
            "INVALID_PRICE",
            "a limit order needs a price greater than 0",
        ),
    ]
    for fields, code, message in cases:
        r = await place(client, alice, **fields)
        assert error_code(r) == code and r.json()["error"]["message"] == message, r.text


async def test_a_long_off_tick_price_is_quoted_exactly_and_a_huge_one_is_too_high(
    client: AsyncTestClient[Litestar], alice: User
) -> None:
    """A price past 2^53 ticks is PRICE_TOO_HIGH whatever its digits; an off-tick one with many digits is
    quoted in the message as sent (not rounded to 28 digits)."""
    huge = "99999999999999999999.999999999999999999"
    r = await place(client, alice, side="buy", type="limit", price=huge, qty="0.1")
    assert error_code(r) == "PRICE_TOO_HIGH", r.text
    long = "12345678901234.123456789012345678"  # 32 digits: the default context keeps 28
    r = await place(client, alice, side="buy", type="limit", price=long, qty="0.1")
    assert error_code(r) == "PRICE_NOT_ON_TICK" and long in r.json()["error"]["message"], r.text


async def test_unknown_market_is_404(client: AsyncTestClient[Litestar], alice: User) -> None:
    """An order on a market that does not exist is 404 UNKNOWN_MARKET."""
    r = await client.post(
        "/api/orders",
        json={"symbol": "DOGE-USDT", "side": "buy", "type": "limit", "price": "1", "qty": "1"},
        headers=alice.headers,
    )
    assert r.status_code == 404 and error_code(r) == "UNKNOWN_MARKET"


async def test_orders_need_a_token(client: AsyncTestClient[Litestar]) -> None:
    """Every trading route is 401 without a bearer token."""
    calls = [
        ("post", "/api/orders"),
        ("get", "/api/orders/1"),
        ("delete", "/api/orders/1"),
        ("delete", "/api/orders"),
        ("get", "/api/balances"),
    ]
    for method, path in calls:
        r = await client.request(method.upper(), path, json={} if method == "post" else None)
        assert r.status_code == 401, (method, path, r.text)
        assert error_code(r) == "UNAUTHORIZED"


async def test_an_order_lookup_while_postgresql_is_down_is_unavailable_not_not_found(
    api_settings: Settings,
) -> None:
    """An order Redis no longer holds is looked up in PostgreSQL: while it is down that is 503 UNAVAILABLE
    (retry), never a false 404; an order Redis holds is still served."""
    from exchange.engine.client import Engine

    engine = Engine(redis.Redis.from_url(api_settings.redis_url, decode_responses=True, protocol=2))
    engine.deposit(77, "USDT", 10**12, "dead-pool-77", ts_ms=1)
    live = engine.place(77, "BTC-USDT", "buy", "limit", price=5_000_000, qty=100, ts_ms=2)
    headers = {"Authorization": f"Bearer {TokenService(api_settings).issue_access(77)}"}
    async with AsyncTestClient(create_app(api_settings, pool=DeadPool())) as c:
        r = await c.get("/api/orders/987654321", headers=headers)
        assert r.status_code == 503 and error_code(r) == "UNAVAILABLE", r.text
        r = await c.get(f"/api/orders/{live['order']['id']}", headers=headers)
        assert r.status_code == 200 and r.json()["status"] == "open", r.text


async def test_cancel_all_with_an_empty_or_blank_symbol_is_422_and_cancels_nothing(
    client: AsyncTestClient[Litestar], alice: User
) -> None:
    """`DELETE /api/orders?symbol=` (a client whose market variable is empty) used to cancel in every
    market: an empty, blank or bare `symbol` is 422 VALIDATION_ERROR saying so, and every order stays."""
    for symbol, price in ((SYMBOL, "50000"), ("ETH-USDT", "1000")):
        body = {"symbol": symbol, "side": "buy", "type": "limit", "price": price, "qty": "0.01"}
        assert (await client.post("/api/orders", json=body, headers=alice.headers)).status_code == 201
    for query in ("symbol=", "symbol=%20", "symbol=+", "symbol", "%73ymbol="):
        r = await client.delete(f"/api/orders?{query}", headers=alice.headers)
        assert r.status_code == 422 and error_code(r) == "VALIDATION_ERROR", (query, r.text)
        assert "symbol is empty" in r.json()["error"]["message"], query
    r = await client.get("/api/orders", params={"status": "open"}, headers=alice.headers)
    assert len(r.json()["items"]) == 2
    r = await client.delete("/api/orders?symbol=", headers={})
    assert r.status_code == 401  # who asks comes first, as for any 422


async def test_a_query_parameter_given_twice_is_422_and_cancels_nothing(
    client: AsyncTestClient[Litestar], alice: User
) -> None:
    """`DELETE /api/orders?symbol=BTC-USDT&symbol=ETH-USDT` used to cancel in the last market named only:
    a parameter given twice is 422 VALIDATION_ERROR on every route (which one was meant is unknown), and
    every order stays."""
    for symbol, price in ((SYMBOL, "50000"), ("ETH-USDT", "1000")):
        body = {"symbol": symbol, "side": "buy", "type": "limit", "price": price, "qty": "0.01"}
        assert (await client.post("/api/orders", json=body, headers=alice.headers)).status_code == 201
    for method, url in (
        ("DELETE", f"/api/orders?symbol={SYMBOL}&symbol=ETH-USDT"),
        ("GET", "/api/orders?side=buy&side=sell"),
        ("GET", "/api/fills?limit=5&limit=6"),
        ("GET", f"/api/markets/{SYMBOL}/estimate/buy?quote_qty=100&quote_qty=5000"),
    ):
        r = await client.request(method, url, headers=alice.headers)
        assert r.status_code == 422 and error_code(r) == "VALIDATION_ERROR", (url, r.text)
        assert "given more than once" in r.json()["error"]["message"], url
    r = await client.get("/api/orders", params={"status": "open"}, headers=alice.headers)
    assert len(r.json()["items"]) == 2


async def test_an_empty_market_side_or_status_filter_is_422_on_every_route_that_takes_it(
    client: AsyncTestClient[Litestar], alice: User
) -> None:
    """The order history, its CSV export and the fills refuse an empty filter as cancel-all does: an empty
    `symbol`, `side` or `status` is a client bug, not "all"."""
    for path, names in (
        ("/api/orders", ("symbol", "side", "status")),
        ("/api/orders/export.csv", ("symbol", "side", "status")),
        ("/api/fills", ("symbol",)),
    ):
        for name in names:
            r = await client.get(f"{path}?{name}=", headers=alice.headers)
            assert r.status_code == 422 and error_code(r) == "VALIDATION_ERROR", (path, name, r.text)
            assert r.json()["error"]["message"].startswith(f"{name} is empty: "), (path, name)


async def test_other_empty_query_values_still_count_as_absent(
    client: AsyncTestClient[Litestar], alice: User
) -> None:
    """Parameters that are not filters (`depth`, `limit`, `cursor`) sent empty take their default, as the
    OpenAPI document (allowEmptyValue) says; so does an empty filter on a route that takes no such filter."""
    for side, price in (("buy", "50000"), ("sell", "90000")):
        r = await place(client, alice, side=side, type="limit", price=price, qty="0.01")
        assert r.status_code == 201
    r = await client.get("/api/orders?status=open&limit=&cursor=", headers=alice.headers)
    assert r.status_code == 200, r.text
    assert len(r.json()["items"]) == 2
    r = await client.get(f"/api/markets/{SYMBOL}/book?depth=")
    assert r.status_code == 200 and len(r.json()["bids"]) == 1
    r = await client.get(f"/api/markets/{SYMBOL}/book?depth=abc")
    assert r.status_code == 422  # a value that is not empty is still checked
    assert (await client.get("/api/markets?symbol=")).status_code == 200


async def test_at_2000_open_orders_a_resting_order_is_409_and_cancel_all_still_clears_them(
    client: AsyncTestClient[Litestar], alice: User, api_settings: Settings
) -> None:
    """An account at the engine's 2,000 open orders gets 409 TOO_MANY_OPEN_ORDERS for a gtc limit order
    (its balances unchanged); `DELETE /api/orders` cancels all 2,000 through the engine's 12-order calls."""
    r = redis.Redis.from_url(api_settings.redis_url, decode_responses=True, protocol=2)
    pipe = r.pipeline(transaction=False)
    for i in range(2000):  # 50 USDT x 0.1 BTC (the minimum notional, 5 USDT), in ticks and lots
        pipe.fcall(
            "ex_place", 3, "market:BTC-USDT", f"balance:{alice.id}", f"coid:{alice.id}",
            str(alice.id), "BTC-USDT", "buy", "limit", "gtc", str(5000 + i % 100), "10000", "0", "0", "", "",
            "1700000000000",
        )  # fmt: skip
    assert not [x for x in pipe.execute(raise_on_error=False) if isinstance(x, Exception)]
    before = await balances(client, alice)
    refused = await place(client, alice, side="buy", type="limit", price="40", qty="0.2")
    assert refused.status_code == 409 and error_code(refused) == "TOO_MANY_OPEN_ORDERS", refused.text
    assert await balances(client, alice) == before
    cleared = await client.delete("/api/orders", headers=alice.headers)
    assert cleared.status_code == 200 and cleared.json() == {"cancelled": 2000}
    assert r.scard(f"open:{alice.id}") == 0
    r.close()


async def test_cancel_all_stamps_each_engine_call_with_the_time_of_that_call() -> None:
    """The REST cancel-all loops over short engine calls: each takes the clock anew, so an order placed
    during the loop (and cancelled by a later call) is never cancelled before it was created."""
    from exchange.api.trading import cancel_all

    class Engine:
        def __init__(self) -> None:
            self.calls: list[tuple[int, int]] = []

        async def cancel_all(self, account: int, *, ts_ms: int, symbol: str | None, after_id: int) -> Any:
            self.calls.append((ts_ms, after_id))
            left = 3 - len(self.calls)
            return {"cancelled": 12, "remaining": 12 * left, "next": 100 * len(self.calls)}

    ticks = iter(range(1_000, 2_000))
    engine = Engine()
    assert await cancel_all(engine, 7, clock=lambda: next(ticks)) == 36
    assert engine.calls == [(1_000, 0), (1_001, 100), (1_002, 200)]
