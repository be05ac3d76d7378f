"""Unknown query parameters on the API are refused (422), as unknown body fields are, never ignored."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient

from exchange.api.app import ExchangeApp, create_app, openapi_document
from exchange.api.settings import Settings
from tests.api.conftest import User, error_code

SYMBOL = "BTC-USDT"


async def test_a_misspelt_query_parameter_is_422_naming_it_and_what_the_route_takes(
    client: AsyncTestClient[Litestar], alice: User
) -> None:
    """`?limt=5` would silently return the default 100 trades: it is 422 VALIDATION_ERROR instead, and
    the message names the parameter and the route's own ones."""
    r = await client.get(f"/api/markets/{SYMBOL}/trades", params={"limt": "5"})
    assert r.status_code == 422 and error_code(r) == "VALIDATION_ERROR"
    message = r.json()["error"]["message"]
    assert "'limt'" in message and "limit" in message
    r = await client.get(f"/api/markets/{SYMBOL}/book", params={"depth": "5", "levels": "5"})
    assert r.status_code == 422 and "'levels'" in r.json()["error"]["message"]
    r = await client.get("/api/orders", params={"status": "open", "stauts": "x"}, headers=alice.headers)
    assert r.status_code == 422 and "'stauts'" in r.json()["error"]["message"]
    r = await client.get("/api/me", params={"verbose": "1"}, headers=alice.headers)
    assert r.status_code == 422 and "takes none" in r.json()["error"]["message"]
    r = await client.get(f"/api/orders/{10**9}", params={"x": "1"}, headers=alice.headers)  # a path parameter
    assert r.status_code == 422 and "'x'" in r.json()["error"]["message"]


async def test_known_parameters_and_empty_values_still_work(
    client: AsyncTestClient[Litestar], alice: User
) -> None:
    """The parameters a route documents pass, and an empty unknown value (`?x=`) counts as absent."""
    r = await client.get(f"/api/markets/{SYMBOL}/trades", params={"limit": "5"})
    assert r.status_code == 200
    r = await client.get(f"/api/markets/{SYMBOL}/book", params={"depth": "5", "junk": ""})
    assert r.status_code == 200
    r = await client.get("/api/orders", params={"status": "open", "limit": "10"}, headers=alice.headers)
    assert r.status_code == 200


async def test_a_value_outside_a_closed_vocabulary_is_422_listing_the_values_it_takes(
    client: AsyncTestClient[Litestar], alice: User
) -> None:
    """`?interval=2m`, `?status=done`, `?sort=size`, a body's `"side": "hold"`: the message lists the values
    the parameter or field takes and quotes the one given, not a bare "Invalid enum value"."""
    r = await client.get(f"/api/markets/{SYMBOL}/candles", params={"interval": "2m"})
    assert r.status_code == 422 and error_code(r) == "VALIDATION_ERROR"
    assert r.json()["error"]["message"] == 'interval: must be one of 1m, 5m, 15m, 1h, 4h, 1d; got "2m"'
    r = await client.get("/api/orders", params={"status": "done"}, headers=alice.headers)
    assert r.json()["error"]["message"] == 'status: must be one of open, closed, all; got "done"', r.text
    r = await client.get("/api/orders", params={"status": "all", "sort": "size"}, headers=alice.headers)
    message = r.json()["error"]["message"]
    assert (
        r.status_code == 422
        and message.startswith("sort: must be one of id, created_at, ")
        and '"size"' in message
    )
    # a body's enum field is told the same way (the lean order route hands such a body to the same check)
    order = {"symbol": SYMBOL, "side": "hold", "type": "limit", "price": "1", "qty": "1"}
    r = await client.post("/api/orders", json=order, headers=alice.headers)
    assert (
        r.status_code == 422 and r.json()["error"]["message"] == 'side: must be one of buy, sell; got "hold"'
    )


async def test_type_and_length_errors_are_in_words_not_in_the_schema_librarys_notation(
    client: AsyncTestClient[Litestar], alice: User, admin: User
) -> None:
    """No backticked type names: `?limit=0`, a `post_only` string, a too long `ref`, a null `side` say
    "an integer", "true or false", "at most 64 characters", "a string, got null"."""
    r = await client.get(f"/api/markets/{SYMBOL}/trades", params={"limit": "0"})
    assert r.json()["error"]["message"] == "limit: Expected an integer >= 1", r.text
    order = {"symbol": SYMBOL, "side": "buy", "type": "limit", "price": "1", "qty": "1", "post_only": "yes"}
    r = await client.post("/api/orders", json=order, headers=alice.headers)
    assert r.json()["error"]["message"] == "post_only: Expected true or false, got a string", r.text
    r = await client.post(
        "/api/orders", json={**order, "post_only": False, "side": None}, headers=alice.headers
    )
    assert r.json()["error"]["message"] == "side: Expected a string, got null", r.text
    deposit = {"account_id": alice.id, "asset": "USDT", "amount": "1", "ref": "r" * 65}
    r = await client.post("/api/admin/deposits", json=deposit, headers=admin.headers)
    assert r.json()["error"]["message"] == "ref: Expected a string of at most 64 characters", r.text
    assert "`" not in r.text


async def test_a_required_parameter_left_out_or_sent_empty_is_422_saying_which(
    client: AsyncTestClient[Litestar],
) -> None:
    """`/estimate/buy` without `quote_qty`, or with `?quote_qty=`: 422 naming the parameter and that an
    empty value counts as left out (not "Missing ... for path ...")."""
    for params in ({}, {"quote_qty": ""}):
        r = await client.get(f"/api/markets/{SYMBOL}/estimate/buy", params=params)
        assert r.status_code == 422 and error_code(r) == "VALIDATION_ERROR"
        assert r.json()["error"]["message"] == (
            "query parameter 'quote_qty' is required (it was left out or sent empty)"
        ), r.text


async def test_a_missing_token_is_401_before_an_unknown_parameter_is_422(
    client: AsyncTestClient[Litestar],
) -> None:
    """As for bodies: a caller without a token learns that first, not the route's parameters."""
    r = await client.get("/api/orders", params={"stauts": "open"})
    assert r.status_code == 401
    r = await client.get("/api/me", params={"x": "1"})
    assert r.status_code == 401


async def test_paths_outside_the_api_keep_ignoring_query_strings(client: AsyncTestClient[Litestar]) -> None:
    """Probes and the OpenAPI document take whatever monitoring or a browser adds (`?ts=`, cache busters)."""
    assert (await client.get("/healthz", params={"probe": "1"})).status_code == 200
    assert (await client.get("/schema/openapi.json", params={"v": "2"})).status_code == 200


def test_the_check_reads_every_api_operation_of_the_document() -> None:
    """The table of allowed names covers each `/api/` operation of the OpenAPI document, with exactly its
    query parameters (one source for the check and the document)."""
    app = create_app(Settings(jwt_secret="x" * 32, load_library=False))
    assert isinstance(app, ExchangeApp)
    document = openapi_document()
    expected = {
        (path, method.upper()): frozenset(p["name"] for p in op.get("parameters", []) if p["in"] == "query")
        for path, item in document["paths"].items()
        if path.startswith("/api/")
        for method, op in item.items()
    }
    assert app.query_params == expected
    assert app.query_params[("/api/markets/{symbol}/candles", "GET")] == {"interval", "limit", "end"}


async def test_missing_and_unknown_fields_wrong_query_types_and_broken_json_are_told_in_words(
    client: AsyncTestClient[Litestar], alice: User
) -> None:
    """A missing body field is "symbol: required field missing", an unknown one names the fields the body
    takes, a query value of the wrong type is quoted (every query value is text: "got a string" says
    nothing), a value outside a vocabulary is quoted as typed (not as UTF-16 escapes), and a body cut short
    says so in words, not in the JSON library's."""
    order = {"symbol": SYMBOL, "side": "buy", "type": "limit", "price": "1", "qty": "1"}
    cases = [
        ({k: v for k, v in order.items() if k != "symbol"}, "symbol: required field missing"),
        (
            {**order, "colour": "red"},
            "colour: unknown field; the fields are symbol, side, type, price, qty, quote_qty, time_in_force, "
            "post_only, client_order_id, stp",
        ),
        ({**order, "side": "💰"}, 'side: must be one of buy, sell; got "💰"'),
    ]
    for body, message in cases:
        r = await client.post("/api/orders", json=body, headers=alice.headers)
        assert r.status_code == 422 and r.json()["error"]["message"] == message, r.text
    r = await client.get("/api/orders", params={"limit": "1.5"}, headers=alice.headers)
    assert r.status_code == 422 and r.json()["error"]["message"] == 'limit: Expected an integer; got "1.5"'
    r = await client.get(f"/api/markets/{SYMBOL}/trades", params={"limit": "abc"})
    assert r.json()["error"]["message"] == 'limit: Expected an integer; got "abc"', r.text
    headers = {**alice.headers, "content-type": "application/json"}
    r = await client.post("/api/orders", content=b'{"symbol": "BTC-USDT"', headers=headers)
    assert r.status_code == 400 and error_code(r) == "BAD_REQUEST"
    assert r.json()["error"]["message"] == (
        "request body is not valid JSON: it ends before the JSON value does (cut short?)"
    )
    r = await client.post("/api/orders", content=b'{"symbol": "BTC-USDT"} x', headers=headers)
    assert r.json()["error"]["message"] == "request body is not valid JSON: trailing characters (byte 24)"
    # valid JSON, but a number no 64-bit integer holds: not "not valid JSON"
    r = await client.post(
        "/api/orders", content=b'{"symbol": "BTC-USDT", "price": 1' + b"0" * 5000 + b"}", headers=headers
    )
    assert r.status_code == 400 and r.json()["error"]["message"] == (
        "request body: the number has too many digits (prices and amounts are decimal strings)"
    ), r.text


async def test_a_path_or_query_value_of_the_wrong_form_is_quoted_in_its_message(
    client: AsyncTestClient[Litestar], alice: User
) -> None:
    """A pattern or length refusal of a path or query value quotes the value (the words alone do not show
    which part is wrong), and a market symbol's form is named: BASE-QUOTE."""
    r = await client.get("/api/orders/by-client-id/bad%20id", headers=alice.headers)
    assert (
        r.json()["error"]["message"]
        == "client_order_id: Expected 1 to 36 letters, digits, '_' or '-'; got \"bad id\""
    )
    r = await client.get(f"/api/orders/by-client-id/{'x' * 37}", headers=alice.headers)
    assert r.json()["error"]["message"].endswith(f'at most 36 characters; got "{"x" * 37}"'), r.text
    symbol_words = (
        'symbol: Expected a market symbol BASE-QUOTE such as "BTC-USDT" (capitals and digits, a dash between)'
    )
    r = await client.get("/api/markets/NOPE/book")
    assert r.status_code == 422 and r.json()["error"]["message"] == f'{symbol_words}; got "NOPE"'
    r = await client.get("/api/orders", params={"symbol": "btc-usdt"}, headers=alice.headers)
    assert r.json()["error"]["message"] == f'{symbol_words}; got "btc-usdt"'
