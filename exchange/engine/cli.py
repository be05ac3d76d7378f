"""`exchange book SYMBOL` and `exchange order ID`: read the live engine state in Redis."""

from __future__ import annotations

import argparse
import json
import sys
from decimal import Decimal

from exchange.engine.client import Engine, connect
from exchange.engine.errors import EngineError
from exchange.money import format_decimal

MAX_DEPTH = 1000  # the engine's ex_book bound


def _depth(text: str) -> int:
    try:
        depth = int(text)
    except ValueError:
        depth = 0
    if not 1 <= depth <= MAX_DEPTH:
        raise argparse.ArgumentTypeError(
            f"expected a whole number of levels from 1 to {MAX_DEPTH}; got {text!r}"
        )
    return depth


def add_book_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("symbol", type=str.upper, help="market symbol, e.g. BTC-USDT (any case)")
    p.add_argument("--depth", type=_depth, default=10, help="levels per side, 1..1000 (default 10)")
    p.add_argument(
        "--data-dir",
        default=None,
        help="the stack's data directory, to find its Redis URL (default: EXCHANGE_DATA_DIR or ./var)",
    )
    p.add_argument("--redis-url", default=None, help="Redis URL (default: EXCHANGE_REDIS_URL, then stack)")


def _places(step: Decimal) -> int:
    """Decimal places of a tick or lot size (0.01 -> 2, 1 -> 0, 1E+1 -> 0)."""
    return max(0, -int(step.normalize().as_tuple().exponent))


def format_book(market: dict[str, object], book: dict[str, object]) -> str:
    """The book as text: asks (worst first) above bids, decimal prices and quantities at the tick's and the
    lot's decimals (so the columns line up on the decimal point), spread, seq."""
    tick, lot = Decimal(str(market["tick_size"])), Decimal(str(market["lot_size"]))
    price_places, qty_places = _places(tick), _places(lot)

    def row(level: list[int]) -> str:
        price, qty, count = level
        return f"{price * tick:>18.{price_places}f}  {qty * lot:>18.{qty_places}f}  {count:>6}"

    bids: list[list[int]] = book["bids"]  # type: ignore[assignment]
    asks: list[list[int]] = book["asks"]  # type: ignore[assignment]
    lines = [
        f"{market['symbol']}  status {market['status']}  book seq {book['seq']}  event seq {market['seq']}",
        f"{'price':>18}  {'qty':>18}  {'orders':>6}",
    ]
    lines += [f"ask {row(level)}" for level in reversed(asks)] or ["ask (none)"]
    if bids and asks:
        spread = (asks[0][0] - bids[0][0]) * tick
        lines.append(f"--- spread {format_decimal(spread)}")
    else:
        lines.append("---")
    lines += [f"bid {row(level)}" for level in bids] or ["bid (none)"]
    return "\n".join(lines)


def run_book(args: argparse.Namespace) -> int:
    from exchange.seed import resolve_redis_url

    engine = Engine(connect(resolve_redis_url(args)))
    market = engine.market(args.symbol)
    if market is None:
        known = ", ".join(m["symbol"] for m in engine.markets()) or "none (run `exchange seed`)"
        print(f"error: no market {args.symbol}; the markets are: {known}", file=sys.stderr)
        return 1
    try:
        book = engine.book(args.symbol, args.depth)
    except EngineError as exc:
        print(exc)
        return 1
    print(format_book(market, book))
    return 0


def add_order_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("order_id", type=int, help="order id")
    p.add_argument(
        "--data-dir",
        default=None,
        help="the stack's data directory, to find its Redis URL (default: EXCHANGE_DATA_DIR or ./var)",
    )
    p.add_argument("--redis-url", default=None, help="Redis URL (default: EXCHANGE_REDIS_URL, then stack)")


def run_order(args: argparse.Namespace) -> int:
    """Print one order as the engine holds it: the `order:{id}` record, then the order object as JSON."""
    from exchange.seed import resolve_redis_url

    engine = Engine(connect(resolve_redis_url(args)))
    record = engine.redis.get(f"order:{args.order_id}")
    if isinstance(record, bytes):
        record = record.decode()
    order = engine.get_order(args.order_id)
    if order is None:
        print(f"no order {args.order_id} in Redis (closed orders expire once persisted: see the history API)")
        return 1
    print(f"order:{args.order_id} {record}")
    print(json.dumps(order, indent=2))
    return 0
