"""Reference data and the REST book."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.api.conftest import User, error_code


async def test_assets_list_every_seed_asset(client: AsyncTestClient[Litestar]) -> None:
    """GET /api/assets lists USDT (6 decimals) and BTC (8 decimals) among others."""
    r = await client.get("/api/assets")
    assert r.status_code == 200
    assets = {a["symbol"]: a for a in r.json()}
    assert assets["USDT"]["decimals"] == 6 and assets["BTC"]["decimals"] == 8


async def test_markets_carry_sizes_limits_and_fee_rates_as_strings(client: AsyncTestClient[Litestar]) -> None:
    """GET /api/markets gives decimal strings for sizes, limits and fee rates, and the status."""
    r = await client.get("/api/markets")
    assert r.status_code == 200
    markets = {m["symbol"]: m for m in r.json()}
    btc = markets["BTC-USDT"]
    assert btc["base"] == "BTC" and btc["quote"] == "USDT" and btc["status"] == "trading"
    assert btc["tick_size"] == "0.01" and btc["lot_size"] == "0.00001"
    assert (btc["base_decimals"], btc["quote_decimals"]) == (8, 6)
    for key in ("min_qty", "max_qty", "min_notional", "maker_fee", "taker_fee"):
        assert isinstance(btc[key], str)
    assert 0 <= float(btc["maker_fee"]) <= float(btc["taker_fee"]) < 0.1


async def test_the_book_shows_resting_orders_best_first(
    client: AsyncTestClient[Litestar], alice: User
) -> None:
    """The REST book aggregates resting orders per level, bids descending, asks ascending, with a seq."""
    orders = [("buy", "100", "0.1"), ("buy", "100", "0.2"), ("buy", "99.5", "0.1"), ("sell", "101", "0.3")]
    for side, price, qty in orders:
        r = await client.post(
            "/api/orders",
            json={"symbol": "BTC-USDT", "side": side, "type": "limit", "price": price, "qty": qty},
            headers=alice.headers,
        )
        assert r.status_code == 201, r.text
    r = await client.get("/api/markets/BTC-USDT/book", params={"depth": 10})
    assert r.status_code == 200
    book = r.json()
    assert book["symbol"] == "BTC-USDT" and book["seq"] >= 4
    assert book["bids"] == [["100", "0.3"], ["99.5", "0.1"]]
    assert book["asks"] == [["101", "0.3"]]
    r = await client.get("/api/markets/BTC-USDT/book", params={"depth": 1})
    assert r.json()["bids"] == [["100", "0.3"]]


async def test_book_of_an_unknown_market_is_404_and_depth_is_bounded(
    client: AsyncTestClient[Litestar],
) -> None:
    """An unknown market is 404 UNKNOWN_MARKET; depth outside 1..500 is a validation error."""
    r = await client.get("/api/markets/NOPE-USDT/book")
    assert r.status_code == 404 and error_code(r) == "UNKNOWN_MARKET"
    for depth in (0, 501, -1):
        r = await client.get("/api/markets/BTC-USDT/book", params={"depth": depth})
        assert r.status_code in {400, 422} and error_code(r) == "VALIDATION_ERROR"
