"""Seed assets and markets, and the `exchange seed` command.

Every market respects the engine's 2^53 rule (`max_price_ticks * max_lots * num < 2^53`), which bounds
max_price x max_qty once tick and lot are chosen.
"""

from __future__ import annotations

import argparse

import redis

from exchange.engine.client import Engine, connect
from exchange.engine.supply import count_missing_supply
from exchange.money import Asset, MarketSpec

SEED_ASSETS: tuple[Asset, ...] = (
    Asset("USDT", "Tether USD", 6),
    Asset("BTC", "Bitcoin", 8),
    Asset("ETH", "Ether", 8),
    Asset("BNB", "BNB", 8),
    Asset("MINA", "Mina", 8),
    Asset("ATOM", "Cosmos", 6),
    Asset("DOT", "Polkadot", 8),
)

SEED_BAND_BPS = 1000  # an order may trade at most 10 % away from the best opposite price (docs/engine.md)

SEED_MARKETS: tuple[MarketSpec, ...] = tuple(
    MarketSpec(*fields, price_band_bps=SEED_BAND_BPS)
    for fields in (
        # symbol, base, quote, tick, lot, min_qty, max_qty, min_notional, max_price, maker bps, taker bps
        ("BTC-USDT", "BTC", "USDT", "0.01", "0.00001", "0.00001", "900", "5", "1000000", 10, 20),
        ("ETH-USDT", "ETH", "USDT", "0.01", "0.0001", "0.0001", "9000", "5", "100000", 10, 20),
        ("BNB-USDT", "BNB", "USDT", "0.01", "0.001", "0.001", "9000", "5", "100000", 10, 20),
        ("MINA-USDT", "MINA", "USDT", "0.0001", "0.1", "0.1", "900000", "1", "1000", 10, 20),
        ("ATOM-USDT", "ATOM", "USDT", "0.001", "0.01", "0.01", "90000", "1", "10000", 10, 20),
        ("DOT-USDT", "DOT", "USDT", "0.001", "0.01", "0.01", "90000", "1", "10000", 10, 20),
    )
)


def seed_all(target: str | redis.Redis | Engine) -> Engine:
    """Load the library, count the supply of older data, and upsert every seed asset and market
    (idempotent)."""
    engine = (
        target
        if isinstance(target, Engine)
        else Engine(connect(target) if isinstance(target, str) else target)
    )
    engine.load()
    count_missing_supply(engine.redis)
    for asset in SEED_ASSETS:
        engine.create_asset(asset.symbol, asset.name, asset.decimals)
    for spec in SEED_MARKETS:
        engine.create_market(spec)
    return engine


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--redis-url", default=None, help="Redis URL (default: EXCHANGE_REDIS_URL, else the running stack)"
    )
    p.add_argument(
        "--data-dir",
        default=None,
        help="the stack's data directory, to find its Redis URL (default: EXCHANGE_DATA_DIR or ./var)",
    )


def resolve_redis_url(args: argparse.Namespace) -> str:
    """--redis-url, else EXCHANGE_REDIS_URL, else the running stack's (--data-dir); raises
    `exchange.config.StackNotFound`."""
    from exchange.config import find_stack_urls

    url, _ = find_stack_urls(
        getattr(args, "data_dir", None), redis_url=getattr(args, "redis_url", None), need=("redis",)
    )
    assert url  # find_stack_urls raises when it is unknown
    return url


def run(args: argparse.Namespace) -> int:
    url = resolve_redis_url(args)
    engine = seed_all(url)
    markets = engine.markets()
    names = ", ".join(m["symbol"] for m in markets)
    print(f"seeded {len(SEED_ASSETS)} assets and {len(SEED_MARKETS)} markets: {names}")
    return 0
