"""`GET /api/tickers`, `/api/markets/{symbol}/trades` and `/candles` through the app (real servers)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from exchange.api.app import create_app
from tests.api.conftest import DeadPool
from tests.api.test_ws_support import PRICE, SYMBOL, engine_for, fund, ws_settings

HOUR_MS = 3_600_000


def now_ms() -> int:
    return int(time.time() * 1000)


@pytest.fixture
def env(redis_url: str, pg_url: str) -> Iterator[tuple[TestClient[Any], Any, str, str]]:
    from exchange.seed import seed_all

    seed_all(redis_url)
    engine = engine_for(redis_url)
    fund(engine, 1)
    fund(engine, 2)
    app = create_app(ws_settings(redis_url, pg_url))
    with TestClient(app) as client:
        yield client, engine, redis_url, pg_url


def trade(engine: Any, price: int, qty: int, ts: int, taker_side: str = "buy") -> None:
    maker_side = "sell" if taker_side == "buy" else "buy"
    engine.place(1, SYMBOL, maker_side, "limit", price=price, qty=qty, ts_ms=ts)
    engine.place(2, SYMBOL, taker_side, "limit", price=price, qty=qty, ts_ms=ts)


def drain(redis_url: str, pg_url: str) -> None:
    from workers.persist import drain as persist_drain

    persist_drain(redis_url, pg_url)


def ticker(client: TestClient[Any], symbol: str = SYMBOL) -> dict[str, Any]:
    time.sleep(1.05)  # tickers are cached for one second per process
    response = client.get("/api/tickers")
    assert response.status_code == 200
    return next(t for t in response.json() if t["symbol"] == symbol)


def test_tickers_for_one_symbol_are_that_markets_ticker_alone_and_an_unknown_one_is_404(env):
    """`?symbol=` narrows the list to that market's ticker (the same object as in the full list); a
    symbol of no market is 404 UNKNOWN_MARKET, one of the wrong form 422, each with its words."""
    client, engine, _, _ = env
    engine.place(1, SYMBOL, "buy", "limit", price=PRICE - 100, qty=10, ts_ms=now_ms())
    every = {t["symbol"]: t for t in client.get("/api/tickers").json()}
    one = client.get("/api/tickers", params={"symbol": SYMBOL})
    assert one.status_code == 200 and one.json() == [every[SYMBOL]]
    unknown = client.get("/api/tickers", params={"symbol": "NOPE-USDT"})
    assert unknown.status_code == 404, unknown.text
    assert unknown.json()["error"] == {"code": "UNKNOWN_MARKET", "message": 'no market "NOPE-USDT"'}
    malformed = client.get("/api/tickers", params={"symbol": "btc/usdt"})
    assert malformed.status_code == 422 and "BASE-QUOTE" in malformed.json()["error"]["message"], (
        malformed.text
    )


def test_server_time_is_the_servers_clock_in_epoch_milliseconds(env):
    """`GET /api/time` answers the server's clock in epoch ms (what a client with a skewed clock measures
    timestamps and token expiry against)."""
    client = env[0]
    before = now_ms()
    r = client.get("/api/time")
    after = now_ms()
    assert r.status_code == 200 and list(r.json()) == ["server_time"]
    assert before <= r.json()["server_time"] <= after


def test_tickers_list_every_market_with_nulls_before_any_trade(env):
    """Every seeded market appears; no trades: null prices, zero volumes; best bid/ask from the book."""
    client, engine, _, _ = env
    engine.place(1, SYMBOL, "buy", "limit", price=PRICE - 100, qty=10, ts_ms=now_ms())
    engine.place(1, SYMBOL, "sell", "limit", price=PRICE + 100, qty=10, ts_ms=now_ms())
    rows = client.get("/api/tickers").json()
    assert len(rows) >= 6 and len({r["symbol"] for r in rows}) == len(rows)
    btc = next(r for r in rows if r["symbol"] == SYMBOL)
    assert btc == {
        "symbol": SYMBOL,
        "last": None,
        "open_24h": None,
        "high_24h": None,
        "low_24h": None,
        "volume_24h": "0",
        "quote_volume_24h": "0",
        "change_24h_pct": None,
        "best_bid": "59999",
        "best_ask": "60001",
    }


def test_ticker_24h_stats_are_live_before_persistence_and_unchanged_after_it(env):
    """A trade 25h ago is outside the window, one 23h ago opens it; numbers agree before and after drain."""
    client, engine, redis_url, pg_url = env
    now = now_ms()
    trade(engine, 5_000_000, 100, now - 25 * HOUR_MS)  # 50000, outside the window
    trade(engine, 5_500_000, 100, now - 23 * HOUR_MS)  # 55000, the 24h open
    trade(engine, 6_200_000, 200, now - HOUR_MS)  # 62000, the high
    trade(engine, 6_050_000, 300, now)  # 60500, the last
    expected = {
        "last": "60500",
        "open_24h": "55000",
        "high_24h": "62000",
        "low_24h": "55000",
        "volume_24h": "0.006",
        "quote_volume_24h": "360.5",  # 0.001*55000 + 0.002*62000 + 0.003*60500 = 55 + 124 + 181.5
        "change_24h_pct": "10",
    }
    live = ticker(client)
    assert {k: live[k] for k in expected} == expected
    drain(redis_url, pg_url)
    persisted = ticker(client)
    assert {k: persisted[k] for k in expected} == expected


def test_recent_trades_come_newest_first_from_redis_then_postgresql(env):
    """`limit` beyond the 200 trades kept in Redis continues from PostgreSQL without gaps or repeats."""
    client, engine, redis_url, pg_url = env
    start = now_ms() - 1000
    for i in range(205):
        trade(engine, PRICE + i, 100, start + i, taker_side="sell" if i % 2 else "buy")
    drain(redis_url, pg_url)
    page = client.get(f"/api/markets/{SYMBOL}/trades", params={"limit": 205}).json()
    assert len(page) == 205
    ids = [t["id"] for t in page]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 205
    assert page[0] == {"id": ids[0], "price": "60002.04", "qty": "0.001", "side": "buy", "ts": start + 204}
    assert page[-1]["price"] == "60000" and page[-1]["ts"] == start
    assert page[1]["side"] == "sell"
    default = client.get(f"/api/markets/{SYMBOL}/trades").json()
    assert default == page[:50]


def test_candles_endpoint_buckets_persisted_trades(env):
    """1m candles of persisted trades: one bar per minute with first/last by trade id."""
    client, engine, redis_url, pg_url = env
    base = (now_ms() // 60_000 - 10) * 60_000
    trade(engine, 6_000_000, 100, base + 5)
    trade(engine, 6_100_000, 100, base + 10)
    trade(engine, 5_900_000, 200, base + 20)
    trade(engine, 6_000_000, 100, base + 60_000)
    drain(redis_url, pg_url)
    bars = client.get(f"/api/markets/{SYMBOL}/candles", params={"interval": "1m", "limit": 5}).json()
    assert bars == [
        {"t": base, "o": "60000", "h": "61000", "l": "59000", "c": "59000", "v": "0.004"},
        {"t": base + 60_000, "o": "60000", "h": "60000", "l": "60000", "c": "60000", "v": "0.001"},
    ]
    older = client.get(
        f"/api/markets/{SYMBOL}/candles", params={"interval": "1m", "end": base + 60_000}
    ).json()
    assert [b["t"] for b in older] == [base]
    five = client.get(f"/api/markets/{SYMBOL}/candles", params={"interval": "5m"}).json()
    assert sum(float(b["v"]) for b in five) == pytest.approx(0.005)


@pytest.mark.parametrize(
    ("path", "params", "status", "code"),
    [
        ("/api/markets/NOPE-USDT/trades", {}, 404, "UNKNOWN_MARKET"),
        ("/api/markets/NOPE-USDT/candles", {}, 404, "UNKNOWN_MARKET"),
        (f"/api/markets/{SYMBOL}/trades", {"limit": 0}, 422, None),
        (f"/api/markets/{SYMBOL}/trades", {"limit": 501}, 422, None),
        (f"/api/markets/{SYMBOL}/candles", {"interval": "7m"}, 422, None),
        (f"/api/markets/{SYMBOL}/candles", {"limit": 1001}, 422, None),
        (f"/api/markets/{SYMBOL}/candles", {"end": -5}, 422, None),
    ],
)
def test_bad_market_data_requests_get_the_error_envelope(env, path, params, status, code):
    """Unknown markets are 404 UNKNOWN_MARKET; out-of-range parameters a 4xx error envelope, never a 500."""
    client = env[0]
    response = client.get(path, params=params)
    assert response.status_code in ((status,) if status != 422 else (400, 422)), response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"]
    if code:
        assert body["error"]["code"] == code


def test_tickers_and_recent_trades_stay_live_while_postgresql_is_down(redis_url):
    """Without PostgreSQL the ticker still shows Redis trades and the trades endpoint the Redis list."""
    from exchange.seed import seed_all

    seed_all(redis_url)
    engine = engine_for(redis_url)
    fund(engine, 1)
    fund(engine, 2)
    trade(engine, 6_000_000, 100, now_ms())
    app = create_app(ws_settings(redis_url, None), pool=DeadPool())
    with TestClient(app) as client:
        btc = next(t for t in client.get("/api/tickers").json() if t["symbol"] == SYMBOL)
        assert (btc["last"], btc["volume_24h"], btc["open_24h"]) == ("60000", "0.001", "60000")
        trades = client.get(f"/api/markets/{SYMBOL}/trades", params={"limit": 10}).json()
        assert [t["price"] for t in trades] == ["60000"]
        candles = client.get(f"/api/markets/{SYMBOL}/candles")
        assert candles.status_code == 503 and candles.json()["error"]["code"] == "UNAVAILABLE"


def test_one_market_is_what_the_list_says_of_it_and_an_unknown_one_is_404(env):
    """`GET /api/markets/{symbol}` is that market's entry of `GET /api/markets`; a symbol of no market is 404
    UNKNOWN_MARKET, one of the wrong form 422."""
    client, _, _, _ = env
    listed = {m["symbol"]: m for m in client.get("/api/markets").json()}
    one = client.get(f"/api/markets/{SYMBOL}")
    assert one.status_code == 200 and one.json() == listed[SYMBOL], one.text
    unknown = client.get("/api/markets/NOPE-USDT")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "UNKNOWN_MARKET", unknown.text
    assert client.get("/api/markets/btc_usdt").status_code == 422
