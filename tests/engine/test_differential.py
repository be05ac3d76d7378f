"""Differential test: random command streams through the Lua engine and the pure-Python reference.

Every command (deposits, withdrawals, limit gtc/ioc/fok, post-only, market by qty (some sized at the edge of
the minimum notional at the touch) and by quote, orders at the edge of a market's price band and market
orders that sweep past it, cancels of own, foreign and unknown ids, cancel_all, client_order_id retries and
conflicts, market status changes and upserts (a band switched on, changed and off), malformed input) runs
through both
`exchange.engine.client.Engine` (real Redis/Valkey, fixture `redis_url_each`) and
`exchange.reference.Reference`; the two results (or error codes) must be identical.
Every `FULL_EVERY` commands and at the end, books, open orders, balances, orders and every event stream
must be identical too, and `tests/invariants.py` must pass on the engine's Redis.

Size (the issue asks CI for at least 20 seeds x 2,000 commands):
    EXCHANGE_DIFF_SEEDS=20       number of seeds (each one test case per Redis kind)
    EXCHANGE_DIFF_COMMANDS=2000  commands per seed
    EXCHANGE_DIFF_SEED=1234      run only this seed (replay a failure)
e.g.
    EXCHANGE_DIFF_SEEDS=200 EXCHANGE_DIFF_COMMANDS=20000 .venv/bin/pytest tests/engine/test_differential.py
(the seed count sets the number of cases, the command count their length).
A failure names its seed and command index and prints the last commands, so it can be replayed.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from typing import Any

import pytest
import redis

from exchange.engine.codec import event_fields, parse_order_record
from exchange.reference import MAX_MAKERS, Reference

SEEDS = int(os.environ.get("EXCHANGE_DIFF_SEEDS", "20"))
COMMANDS = int(os.environ.get("EXCHANGE_DIFF_COMMANDS", "2000"))
ONLY_SEED = os.environ.get("EXCHANGE_DIFF_SEED")
FULL_EVERY = 200
ACCOUNTS = range(1, 7)
MID = 1000  # every test market trades around 1000 ticks
SEED_LIST = [int(ONLY_SEED)] if ONLY_SEED else list(range(SEEDS))

ASSETS = [("USDT", "Tether", 6), ("BTC", "Bitcoin", 8), ("ETH", "Ether", 8), ("DOT", "Polkadot", 8)]
# two markets share the quote (USDT), ETH is a base twice, BTC is a base and a quote; every num/den is
# non-trivial: BTC-USDT 7/10, ETH-USDT 33/10, ETH-BTC 13/100
MARKETS: list[dict[str, Any]] = [
    dict(symbol="BTC-USDT", base="BTC", quote="USDT", tick_size="0.001", lot_size="0.0007",
         min_qty="0.0007", max_qty="0.035", min_notional="0.002", max_price="10",
         maker_fee_bps=7, taker_fee_bps=23),
    dict(symbol="ETH-USDT", base="ETH", quote="USDT", tick_size="0.0003", lot_size="0.011",
         min_qty="0.022", max_qty="1.1", min_notional="0", max_price="3",
         maker_fee_bps=0, taker_fee_bps=15, price_band_bps=100),
    dict(symbol="ETH-BTC", base="ETH", quote="BTC", tick_size="0.000001", lot_size="0.0013",
         min_qty="0.0013", max_qty="0.13", min_notional="0", max_price="0.01",
         maker_fee_bps=5, taker_fee_bps=5),
]  # fmt: skip


# alternative parameters for `create_market` upserts (the first of each list is the original value); the price
# band may change at any time, so the banded market (ETH-USDT, 100 bps: 10 ticks at MID) gets a narrower one
# or none, and the others one now and then
VARIANTS: dict[str, dict[str, list[Any]]] = {
    "BTC-USDT": {"min_qty": ["0.0007", "0.0014"], "min_notional": ["0.002", "0.005", "0"],
                 "maker_fee_bps": [7, 8], "max_qty": ["0.035", "0.07"], "price_band_bps": [0, 60]},
    "ETH-USDT": {"min_qty": ["0.022", "0.011"], "min_notional": ["0", "0.001"],
                 "taker_fee_bps": [15, 16], "max_qty": ["1.1", "0.55"], "price_band_bps": [100, 40, 0]},
    "ETH-BTC": {"min_qty": ["0.0013", "0.0026"], "min_notional": ["0", "0.00001"],
                "maker_fee_bps": [5, 4], "max_price": ["0.01", "0.02"], "price_band_bps": [0, 200]},
}  # fmt: skip


# about what one lot costs at MID, in quote minor units
PER_LOT = {"BTC-USDT": 700, "ETH-USDT": 3300, "ETH-BTC": 130}


def _specs() -> list[Any]:
    from exchange.money import MarketSpec

    return [MarketSpec(**m) for m in MARKETS]


Command = tuple[str, tuple[Any, ...], dict[str, Any]]


class Generator:
    """Draws commands from a seeded RNG, consulting the reference (which mirrors the engine) for ids."""

    def __init__(self, seed: int, ref: Reference) -> None:
        self.rng = random.Random(seed)
        self.ref = ref
        self.ts = 1_700_000_000_000
        self.refs: list[tuple[str, int, str, int, str]] = []
        self.coids: list[tuple[int, str, dict[str, Any]]] = []
        self.n_ref = 0
        self.n_coid = 0
        self.n = 0
        self.restore: dict[str, int] = {}
        self.pending: list[Command] = []

    def _ts(self) -> int:
        self.ts += self.rng.choice((0, 1, 7))
        return self.ts

    def funding(self) -> list[Command]:
        """A first deposit of every asset for every account."""
        out: list[Command] = []
        for account in ACCOUNTS:
            for asset, _, _ in ASSETS:
                out.append(self._wallet("deposit", account, asset, self.rng.randint(10**6, 10**8)))
        return out

    def _wallet(self, kind: str, account: int, asset: str, amount: int) -> Command:
        self.n_ref += 1
        ref = f"ref-{self.n_ref}"
        self.refs.append((kind, account, asset, amount, ref))
        name = "deposit" if kind == "deposit" else "withdraw"
        return (name, (account, asset, amount, ref, self._ts()), {})

    def next(self) -> Command:
        self.n += 1
        if self.pending:
            return self.pending.pop(0)
        if self.rng.random() < 0.0007:
            self._sweep()
            return self.pending.pop(0)
        if self.rng.random() < 0.01:
            self._band_sweep()
            return self.pending.pop(0)
        for market, due in sorted(self.restore.items()):
            if due <= self.n:
                del self.restore[market]
                return ("set_market_status", (market, "trading", self._ts()), {})
        r = self.rng.random()
        table: list[tuple[float, Callable[[], Command]]] = [
            (0.06, self._deposit), (0.03, self._withdraw), (0.02, self._wallet_retry),
            (0.30, self._limit), (0.05, self._ioc), (0.05, self._fok), (0.05, self._post_only),
            (0.06, self._market_qty), (0.04, self._market_quote), (0.11, self._cancel_own),
            (0.02, self._cancel_other), (0.02, self._cancel_all), (0.04, self._coid_retry),
            (0.02, self._status), (0.005, self._reconfigure), (0.05, self._invalid), (0.03, self._band_edge),
        ]  # fmt: skip
        for weight, make in table:
            if r < weight:
                return make()
            r -= weight
        return self._limit()

    def _sweep(self) -> None:
        """More than MAX_MAKERS one-lot makers on one side, then a by-quote market order (a buy or a sell) big
        enough to hit the cap."""
        price = MID + self.rng.randint(-3, 3)
        side = self.rng.choice(("buy", "sell"))
        maker_side = "sell" if side == "buy" else "buy"
        for _ in range(MAX_MAKERS + 10):
            self.pending.append(self._order(symbol="ETH-BTC", side=maker_side, price=price, qty=1))
        self.pending.append(self._order(symbol="ETH-BTC", side=side, type="market", quote_qty=10**6))

    # ---- the price band ---------------------------------------------------------------------------------
    def _banded(self) -> str | None:
        """A market whose band (in the reference, which mirrors the engine) is on now, or None."""
        banded = [m["symbol"] for m in MARKETS if self.ref.markets_by_symbol[m["symbol"]].price_band_bps]
        return self.rng.choice(banded) if banded else None

    def _band_edge(self) -> Command:
        """A limit order (gtc, ioc, fok or post-only) on a banded market at the last price inside its band
        around the touch, or one tick beyond (PRICE_OUT_OF_BAND). A plain limit order when no band is on or
        the opposite side is empty."""
        symbol, side = self._banded(), self.rng.choice(("buy", "sell"))
        if symbol is None:
            return self._limit()
        band = self.ref.markets_by_symbol[symbol].price_band_bps
        top = self.ref.book(symbol, 1)["asks" if side == "buy" else "bids"]
        if not top:
            return self._order(symbol=symbol, side=side, price=self._price(), qty=self._qty())
        touch, beyond = top[0][0], self.rng.random() < 0.5
        if side == "buy":
            price = touch * (10000 + band) // 10000 + beyond
        else:
            price = max(1, -(-touch * (10000 - band) // 10000) - beyond)
        extra = self.rng.choice(({}, {}, {"tif": "ioc"}, {"tif": "fok"}, {"post_only": True}))
        return self._order(symbol=symbol, side=side, price=price, qty=self._qty(), **extra)

    def _band_sweep(self) -> None:
        """On a banded market: a maker at the touch's side, one beyond the band from it, then a market order
        (by qty, or by quote for a buy) big enough to reach the second: it fills the makers within the band
        and expires (price_band). The touch when the taker arrives is at least as good as the first maker,
        so the second lies beyond the band from it too."""
        symbol = self._banded()
        if symbol is None:
            self._sweep()
            return
        band = self.ref.markets_by_symbol[symbol].price_band_bps
        side = self.rng.choice(("buy", "sell"))
        maker_side = "sell" if side == "buy" else "buy"
        near = MID + self.rng.randint(-3, 3)
        if side == "buy":
            far = near * (10000 + band) // 10000 + self.rng.randint(1, 3)
        else:
            far = -(-near * (10000 - band) // 10000) - self.rng.randint(1, 3)
        for price in (near, far):
            self.pending.append(self._order(symbol=symbol, side=maker_side, price=price, qty=self._qty()))
        if self.rng.random() < 0.4:
            budget = PER_LOT[symbol] * self.rng.randint(20, 60)
            self.pending.append(self._order(symbol=symbol, side=side, type="market", quote_qty=budget))
        else:
            qty = self.rng.randint(20, 50)
            self.pending.append(self._order(symbol=symbol, side=side, type="market", qty=qty))

    # ---- wallet -----------------------------------------------------------------------------------------
    def _deposit(self) -> Command:
        asset = self.rng.choice(ASSETS)[0]
        return self._wallet("deposit", self.rng.choice(ACCOUNTS), asset, self.rng.randint(1, 10**7))

    def _withdraw(self) -> Command:
        account, asset = self.rng.choice(ACCOUNTS), self.rng.choice(ASSETS)[0]
        available = self.ref.balances(account)[asset][0]
        amount = self.rng.choice((max(1, available // 3), available + 1, available or 1))
        return self._wallet("withdrawal", account, asset, amount)

    def _wallet_retry(self) -> Command:
        if not self.refs:
            return self._deposit()
        kind, account, asset, amount, ref = self.rng.choice(self.refs)
        if self.rng.random() < 0.4:
            amount += 1  # a conflict
        name = "deposit" if kind == "deposit" else "withdraw"
        return (name, (account, asset, amount, ref, self._ts()), {})

    # ---- orders -----------------------------------------------------------------------------------------
    def _market(self) -> dict[str, Any]:
        return self.rng.choice(MARKETS)

    def _qty(self) -> int:
        return self.rng.choice((1, 2, 3, 5, 8, 13)) if self.rng.random() < 0.8 else self.rng.randint(1, 50)

    def _stp(self) -> str:
        return self.rng.choice(("cancel_maker", "cancel_maker", "cancel_taker", "cancel_both"))

    def _order(self, **fields: Any) -> Command:
        account = fields.pop("account", self.rng.choice(ACCOUNTS))
        symbol = fields.pop("symbol", self._market()["symbol"])
        side = fields.pop("side", self.rng.choice(("buy", "sell")))
        type_ = fields.pop("type", "limit")
        kwargs = {"ts_ms": self._ts(), **fields}
        if "stp" not in kwargs and self.rng.random() < 0.5:
            kwargs["stp"] = self._stp()
        if self.rng.random() < 0.15:
            self.n_coid += 1
            kwargs["client_order_id"] = f"c-{self.n_coid}"
            self.coids.append(
                (
                    account,
                    kwargs["client_order_id"],
                    {"symbol": symbol, "side": side, "type": type_, **kwargs},
                )
            )
        return ("place", (account, symbol, side, type_), kwargs)

    def _price(self, spread: int = 12) -> int:
        return MID + self.rng.randint(-spread, spread)

    def _limit(self) -> Command:
        return self._order(price=self._price(), qty=self._qty())

    def _ioc(self) -> Command:
        return self._order(price=self._price(), qty=self._qty(), tif="ioc")

    def _fok(self) -> Command:
        return self._order(price=self._price(), qty=self._qty(), tif="fok")

    def _post_only(self) -> Command:
        return self._order(price=self._price(), qty=self._qty(), post_only=True)

    def _market_qty(self) -> Command:
        if self.rng.random() < 0.25:
            edge = self._touch_edge()
            if edge is not None:
                return edge
        return self._order(type="market", qty=self._qty())

    def _touch_edge(self) -> Command | None:
        """A market order by qty at the edge of the minimum notional at the touch (the best opposite price):
        the least qty whose floor(best * qty * num / den) reaches it, or one lot less. None when the market
        has no minimum or the opposite side is empty."""
        symbol = self._market()["symbol"]
        side = self.rng.choice(("buy", "sell"))
        below = self.rng.random() < 0.5
        market = self.ref.markets_by_symbol[symbol]
        top = self.ref.book(symbol, 1)["asks" if side == "buy" else "bids"]
        if not top or market.min_notional_minor == 0:
            return None
        best = top[0][0]
        least = -(-market.min_notional_minor * market.den // (best * market.num))
        return self._order(symbol=symbol, side=side, type="market", qty=max(1, least - below))

    def _market_quote(self) -> Command:
        market = self._market()
        quote_dec = {"USDT": 6, "BTC": 8}[market["quote"]]
        per_lot = PER_LOT[market["symbol"]]
        budget = per_lot * self.rng.randint(1, 40) + self.rng.randint(0, per_lot)
        if market["symbol"] == "BTC-USDT":
            budget = max(budget, 2 * 10 ** (quote_dec - 3))  # min_notional 0.002
        side = self.rng.choice(("buy", "sell"))
        return self._order(symbol=market["symbol"], side=side, type="market", quote_qty=budget)

    def _open_ids(self, account: int | None = None) -> list[int]:
        return [o.id for o in self.ref.orders.values() if o.is_open and account in (None, o.account)]

    def _cancel_own(self) -> Command:
        ids = self._open_ids()
        if not ids or self.rng.random() < 0.1:
            # a closed order of its owner (ORDER_CLOSED) or nothing at all
            closed = [o for o in self.ref.orders.values() if not o.is_open]
            if closed:
                o = self.rng.choice(closed)
                return ("cancel", (o.account, o.id, self._ts()), {})
            return ("cancel", (1, 10**9, self._ts()), {})
        order = self.ref.orders[self.rng.choice(ids)]
        return ("cancel", (order.account, order.id, self._ts()), {})

    def _cancel_other(self) -> Command:
        ids = self._open_ids()
        if not ids:
            return ("cancel", (1, self.ref.order_seq + 5, self._ts()), {})
        order = self.ref.orders[self.rng.choice(ids)]
        other = self.rng.choice([a for a in ACCOUNTS if a != order.account])
        return ("cancel", (other, order.id, self._ts()), {})

    def _cancel_all(self) -> Command:
        kwargs: dict[str, Any] = {}
        if self.rng.random() < 0.5:
            kwargs["symbol"] = self._market()["symbol"]
        if self.rng.random() < 0.3:  # a later call of a loop: from some id on
            kwargs["after_id"] = self.rng.randint(0, self.ref.order_seq + 1)
        return ("cancel_all", (self.rng.choice(ACCOUNTS), self._ts()), kwargs)

    def _coid_retry(self) -> Command:
        if not self.coids:
            return self._limit()
        account, _coid, fields = self.rng.choice(self.coids)
        fields = dict(fields)
        symbol, side, type_ = fields.pop("symbol"), fields.pop("side"), fields.pop("type")
        fields["ts_ms"] = self._ts()
        if self.rng.random() < 0.4:  # a conflict: one field differs
            if "price" in fields:
                fields["price"] += 1
            elif "qty" in fields:
                fields["qty"] += 1
            else:
                fields["quote_qty"] += 1
        return ("place", (account, symbol, side, type_), fields)

    def _status(self) -> Command:
        market = self._market()["symbol"]
        status = self.rng.choice(("trading", "cancel_only", "cancel_only", "halted"))
        if status != "trading":  # back to trading a few commands later
            self.restore[market] = self.n + self.rng.randint(5, 40)
        return ("set_market_status", (market, status, self._ts()), {"cancel_orders": self.rng.random() < 0.3})

    def _reconfigure(self) -> Command:
        """Upsert a market with one parameter changed (limits may change any time, units and fees only
        while nothing rests) or back to its original parameters."""
        from exchange.money import MarketSpec

        market = dict(self._market())
        field, values = self.rng.choice(list(VARIANTS[market["symbol"]].items()))
        market[field] = self.rng.choice(values)
        return ("create_market", (MarketSpec(**market),), {})

    def _invalid(self) -> Command:
        """One malformed field on an otherwise valid command (so the expected code is unambiguous)."""
        account, ts = self.rng.choice(ACCOUNTS), self._ts()
        limit = {"price": self._price(), "qty": self._qty(), "ts_ms": ts}
        sym = self._market()["symbol"]
        choices: list[Command] = [
            ("place", (account, "NOPE-USDT", "buy", "limit"), limit),
            ("place", (account, sym, "hold", "limit"), limit),
            ("place", (account, sym, "buy", "stop"), limit),
            ("place", (account, sym, "buy", "limit"), {**limit, "tif": "gfd"}),
            ("place", (account, sym, "buy", "limit"), {**limit, "stp": "none"}),
            ("place", (account, sym, "buy", "limit"), {**limit, "price": 0}),
            ("place", (account, sym, "sell", "market"), {"price": MID, "qty": 1, "ts_ms": ts}),
            ("place", (account, sym, "buy", "limit"), {**limit, "price": 10_001}),
            ("place", (account, sym, "sell", "limit"), {**limit, "qty": 0}),
            ("place", (account, sym, "buy", "market"), {"qty": 1, "quote_qty": 5000, "ts_ms": ts}),
            ("place", (account, "ETH-USDT", "buy", "limit"), {**limit, "qty": 1}),
            ("place", (account, sym, "sell", "limit"), {**limit, "qty": 101}),
            ("place", (account, "BTC-USDT", "buy", "limit"), {**limit, "qty": 51}),
            ("place", (account, "BTC-USDT", "buy", "limit"), {**limit, "qty": 1}),
            ("place", (account, sym, "buy", "limit"), {**limit, "tif": "ioc", "post_only": True}),
            ("place", (account, sym, "buy", "limit"), {**limit, "client_order_id": "bad id!"}),
            ("deposit", (account, "NOPE", 5, f"bad-{ts}", ts), {}),
            ("deposit", (account, "USDT", 0, f"bad-{ts}", ts), {}),
            ("withdraw", (account, "BTC", 10**15, f"bad-{ts}", ts), {}),
            ("cancel_all", (account, ts), {"symbol": "NOPE-USDT"}),
            ("cancel_all", (account, ts), {"symbol": "NOPE-USDT", "after_id": -1}),  # arguments first
            ("cancel_all", (account, ts), {"after_id": 2**53}),
            ("cancel_all", (0, ts), {}),
            ("set_market_status", (sym, "trading", -1), {}),
            ("place", (account, sym, "buy", "limit"), {**limit, "price": 2**53}),
            ("place", (account, sym, "buy", "limit"), {**limit, "qty": 10**17}),
        ]
        return self.rng.choice(choices)


def _call(target: Any, command: Command) -> tuple[str, Any]:
    name, args, kwargs = command
    try:
        return "ok", _norm(getattr(target, name)(*args, **kwargs))
    except Exception as exc:  # the engine's and the reference's errors both carry .code
        code = getattr(exc, "code", None)
        if code is None:
            raise
        return "error", str(getattr(code, "value", code))


def _norm(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _norm(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_norm(v) for v in value]
    return value


def _stream(client: redis.Redis, key: str) -> list[dict[str, str]]:
    entries = client.xrange(key, "-", "+")
    out = []
    for entry_id, fields in entries:
        assert entry_id.endswith("-0"), (key, entry_id, fields)
        out.append({**event_fields(entry_id, fields), "call": fields["call"]})
    return out


def _compare_state(engine: Any, ref: Reference, client: redis.Redis) -> None:
    """Books, open orders, balances, every order and every event stream: identical."""
    for market in MARKETS:
        sym = market["symbol"]
        assert _norm(engine.book(sym, 1000)) == _norm(ref.book(sym, 1000)), f"book {sym}"
        assert _stream(client, f"events:{sym}") == ref.events(f"events:{sym}"), f"events:{sym}"
        assert engine.recent_trades(sym, 200) == ref.recent_trades(sym, 200), f"trades:{sym}"
        live = engine.market(sym)
        mine = ref.markets_by_symbol[sym]
        assert (live["status"], live["seq"], live["book_seq"]) == (mine.status, mine.seq, mine.book_seq), sym
    assert _stream(client, "events:wallet") == ref.events("events:wallet"), "events:wallet"
    assert int(client.get("seq:call") or 0) == ref.call_seq, "seq:call"
    for account in [0, *ACCOUNTS]:
        assert _norm(engine.balances(account)) == _norm(ref.balances(account)), f"balances {account}"
        assert _norm(engine.open_orders(account)) == _norm(ref.open_orders(account)), f"open {account}"
    ids = range(1, ref.order_seq + 2)  # one past the last: absent in both
    pipe = client.pipeline(transaction=False)
    for order_id in ids:
        pipe.get(f"order:{order_id}")
    for order_id, text in zip(ids, pipe.execute(), strict=True):
        got = parse_order_record(order_id, text)  # what Engine.get_order returns, read in one pipeline
        assert _norm(got) == _norm(ref.get_order(order_id)), f"order {order_id}"


def _setup(engine: Any, ref: Reference) -> None:
    # the engine suite's autouse fixture has already seeded this database: mirror what is there
    for asset in engine.assets():
        ref.create_asset(asset["symbol"], asset["name"], asset["decimals"])
    for target in (engine, ref):
        for symbol, name, decimals in ASSETS:
            target.create_asset(symbol, name, decimals)
        for spec in _specs():
            target.create_market(spec)


def _invariants(client: redis.Redis) -> None:
    from tests.invariants import assert_invariants

    assert_invariants(client)


def run_stream(redis_url: str, seed: int, commands: int) -> None:
    """Run one seeded stream through the engine and the reference, comparing as it goes."""
    from exchange.engine.client import Engine

    client = redis.Redis.from_url(redis_url, decode_responses=True, protocol=2)
    engine = Engine(client)
    engine.load()
    ref = Reference()
    _setup(engine, ref)
    gen = Generator(seed, ref)
    history: list[Command] = []
    stream = gen.funding()
    try:
        i = 0
        while i < commands:
            command = stream.pop(0) if stream else gen.next()
            history.append(command)
            got, want = _call(engine, command), _call(ref, command)
            assert got == want, f"command {i}: {command}\n engine:    {got}\n reference: {want}"
            i += 1
            if i % FULL_EVERY == 0:
                _compare_state(engine, ref, client)
        _compare_state(engine, ref, client)
        _invariants(client)
    except AssertionError:
        tail = "\n".join(f"  {c}" for c in history[-15:])
        print(
            f"\nDIFFERENTIAL FAILURE: seed={seed} commands={commands}; replay with "
            f"EXCHANGE_DIFF_SEED={seed} EXCHANGE_DIFF_COMMANDS={len(history)}\nlast commands:\n{tail}"
        )
        raise
    finally:
        client.close()


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEED_LIST)
def test_engine_and_reference_agree_on_random_streams(redis_url_each: str, seed: int) -> None:
    """A seeded random command stream gives identical results, books, balances and events in both."""
    run_stream(redis_url_each, seed, COMMANDS)


# ---- engine deviations found by the differential test: minimal scenarios ----------------------------


def _both(redis_url: str) -> tuple[Any, Reference]:
    from exchange.engine.client import Engine

    engine = Engine(redis.Redis.from_url(redis_url, decode_responses=True, protocol=2))
    engine.load()
    ref = Reference()
    _setup(engine, ref)
    return engine, ref


def test_quote_market_buy_that_leaves_lots_on_the_last_maker_ends_filled(redis_url_each: str) -> None:
    """A by-quote buy whose budget runs out inside the last maker ends `filled` (the book did not run out).

    docs/engine.md: "It ends `filled` if it stopped because the budget could not pay for one more lot,
    `expired` if the book (or the cap) ran out first". Here the only maker keeps 3 of its 5 lots, so the
    budget stopped the order, not the book.
    """
    engine, ref = _both(redis_url_each)
    outcomes = []
    for target in (engine, ref):
        target.deposit(1, "ETH", 5 * 1_100_000, "seller", 1)
        target.deposit(2, "USDT", 10**6, "buyer", 1)
        target.place(1, "ETH-USDT", "sell", "limit", price=1000, qty=5, ts_ms=2)
        # one lot at 1000 ticks costs ceil(1000 * 33 * 10015 / 100000) = 3305; a budget of 7000 buys 2
        result = target.place(2, "ETH-USDT", "buy", "market", quote_qty=7000, ts_ms=3)
        order = result["order"]
        outcomes.append((order["filled"], order["status"], order["reason"]))
    assert outcomes[1] == (2, "filled", "")  # the reference, by the contract
    assert outcomes[0] == outcomes[1], f"engine {outcomes[0]} != contract {outcomes[1]}"
