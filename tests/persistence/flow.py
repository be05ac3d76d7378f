"""A random but reproducible order flow against the real engine, for persistence tests."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis

from exchange.engine.client import Engine
from exchange.engine.errors import EngineError
from exchange.money import MarketSpec

# readable numbers: tick 1, lot 1, 0-decimal assets; the second market has num/den = 1/10 (rounding)
MARKETS = (
    MarketSpec("PA-PQ", "PA", "PQ", "1", "1", "1", "1000", "0", "1000", 10, 20),
    MarketSpec("PB-PQ", "PB", "PQ", "0.1", "1", "1", "1000", "0", "1000", 10, 20),
)
ACCOUNTS = (1, 2, 3, 4, 5)


def setup_engine(client: redis.Redis) -> Engine:
    engine = Engine(client)
    engine.load()
    for sym in ("PA", "PB", "PQ"):
        engine.create_asset(sym, f"persist test {sym}", 0)
    for spec in MARKETS:
        engine.create_market(spec)
    return engine


@dataclass
class Flow:
    """Random operations; every acknowledged result is recorded (for the durability tests)."""

    engine: Engine
    seed: int = 1
    rng: random.Random = field(init=False)
    ts: itertools.count[int] = field(default_factory=lambda: itertools.count(1_000_000))
    refs: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    acked_orders: dict[int, dict[str, Any]] = field(default_factory=dict)
    acked_wallet: list[dict[str, Any]] = field(default_factory=list)
    errors: int = 0
    statuses: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def fund(self) -> None:
        for account in ACCOUNTS:
            for asset, amount in (("PA", 5_000), ("PB", 5_000), ("PQ", 1_000_000)):
                self.deposit(account, asset, amount)

    def deposit(self, account: int, asset: str, amount: int) -> None:
        r = self.engine.deposit(account, asset, amount, f"dep-{self.seed}-{next(self.refs)}", next(self.ts))
        self.acked_wallet.append(r)

    def step(self) -> None:
        rng = self.rng
        roll = rng.random()
        try:
            if roll < 0.55:
                self._place()
            elif roll < 0.80:
                self._cancel()
            elif roll < 0.84:
                account = rng.choice(ACCOUNTS)
                sym = rng.choice([None, MARKETS[0].symbol])
                self.engine.cancel_all(account, next(self.ts), symbol=sym)
            elif roll < 0.90:
                self.deposit(rng.choice(ACCOUNTS), rng.choice(("PA", "PB", "PQ")), rng.randint(1, 500))
            elif roll < 0.95:
                r = self.engine.withdraw(
                    rng.choice(ACCOUNTS),
                    rng.choice(("PA", "PQ")),
                    rng.randint(1, 300),
                    f"wd-{self.seed}-{next(self.refs)}",
                    next(self.ts),
                )
                self.acked_wallet.append(r)
            elif roll < 0.97:
                self._status()
            else:
                self._retry_coid()
        except EngineError:
            self.errors += 1

    def _place(self) -> None:
        rng = self.rng
        spec = rng.choice(MARKETS)
        side = rng.choice(("buy", "sell"))
        account = rng.choice(ACCOUNTS)
        kw: dict[str, Any] = {
            "ts_ms": next(self.ts),
            "stp": rng.choice(("cancel_maker", "cancel_taker", "cancel_both")),
        }
        if rng.random() < 0.2:
            kw["client_order_id"] = f"c{rng.randint(1, 40)}"
        if rng.random() < 0.8:
            kw["tif"] = rng.choice(("gtc", "gtc", "gtc", "ioc", "fok"))
            kw["post_only"] = kw["tif"] == "gtc" and rng.random() < 0.15
            r = self.engine.place(
                account, spec.symbol, side, "limit", price=rng.randint(90, 110), qty=rng.randint(1, 8), **kw
            )
        elif side == "buy" and rng.random() < 0.5:
            r = self.engine.place(account, spec.symbol, side, "market", quote_qty=rng.randint(100, 900), **kw)
        else:
            r = self.engine.place(account, spec.symbol, side, "market", qty=rng.randint(1, 6), **kw)
        self.acked_orders[int(r["order"]["id"])] = r["order"]

    def _cancel(self) -> None:
        account = self.rng.choice(ACCOUNTS)
        orders = self.engine.open_orders(account)
        if orders:
            o = self.rng.choice(orders)
            r = self.engine.cancel(account, int(o["id"]), next(self.ts))
            self.acked_orders[int(r["id"])] = r

    def _status(self) -> None:
        sym = self.rng.choice(MARKETS).symbol
        current = self.statuses.get(sym, "trading")
        new = "trading" if current != "trading" else self.rng.choice(("cancel_only", "halted"))
        self.engine.set_market_status(sym, new, next(self.ts), cancel_orders=self.rng.random() < 0.5)
        self.statuses[sym] = new

    def _retry_coid(self) -> None:
        # a retry with a used client_order_id: duplicate or DUPLICATE_CLIENT_ORDER_ID, never a new order
        self.engine.place(
            self.rng.choice(ACCOUNTS),
            MARKETS[0].symbol,
            "buy",
            "limit",
            price=100,
            qty=1,
            client_order_id=f"c{self.rng.randint(1, 40)}",
            ts_ms=next(self.ts),
        )

    def run(self, n: int) -> None:
        for _ in range(n):
            self.step()

    def settle_statuses(self) -> None:
        """Put every market back to trading (so later steps can trade)."""
        for spec in MARKETS:
            if self.statuses.get(spec.symbol, "trading") != "trading":
                self.engine.set_market_status(spec.symbol, "trading", next(self.ts))
                self.statuses[spec.symbol] = "trading"


def settled_flow(client: redis.Redis, seed: int, commands: int) -> Flow:
    """A flow on a fresh engine: the accounts funded, `commands` random commands run, every market trading
    again."""
    f = Flow(setup_engine(client), seed=seed)
    f.fund()
    f.run(commands)
    f.settle_statuses()
    return f


def fail_batches_of(monkeypatch: pytest.MonkeyPatch, stream: str) -> Callable[[], None]:
    """Make the workers' batch of `stream` (and only it) fail with EventError("injected fault"); returns
    the undo."""
    import workers.persist as persist
    from workers.events import EventError

    real = persist.apply_entries

    def failing(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == stream:
            raise EventError("injected fault")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(persist, "apply_entries", failing)
    return lambda: monkeypatch.setattr(persist, "apply_entries", real)
