"""The workload of `exchange bench engine` (see exchange/bench/engine.py): the market, the fixed-seed
command mix, the client's view of the book, and per-call server-side timing (an `INFO commandstats`
after every call)."""

from __future__ import annotations

import math
import random
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import redis

from exchange.engine import codec
from exchange.engine.library import load_library
from exchange.money import MarketSpec

SYMBOL = "BTC-USDT"
# the seed market: tick 0.01, lot 0.00001 BTC, min notional 5 USDT, fees 10/20 bps
SPEC = MarketSpec(SYMBOL, "BTC", "USDT", "0.01", "0.00001", "0.00001", "900", "5", "1000000", 10, 20)
MIN_LOTS, MAX_LOTS = 10, 100  # 0.0001 .. 0.001 BTC, 6 .. 60 USDT at the mid
MID = 6_000_000  # 60,000.00 USDT in ticks
BAND = 500  # passive orders rest within MID +- BAND ticks
CROSS = 20  # crossing orders reach MID +- CROSS ticks into the other side
CHUNK = 500  # commands per pipeline
SLOW_US = 200  # SLOWLOG threshold while prefilling: catches any slow call without logging every one
SEED = 20_240_601
PLACE_KINDS = ("gtc_passive", "gtc_cross", "ioc", "market")
SPIN_SCRIPT = "local x = 0 for i = 1, tonumber(ARGV[1]) do x = x + i end return 1"
REF_SCRIPT = """
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZRANGE', KEYS[1], 0, 9)
redis.call('HSET', KEYS[2], ARGV[2], ARGV[1])
redis.call('HINCRBY', KEYS[3], 'n', 1)
redis.call('XADD', KEYS[4], '*', 'member', ARGV[2], 'score', ARGV[1])
redis.call('PUBLISH', KEYS[5], ARGV[2])
return 1
"""


@dataclass
class Book:
    """The client's view of the resting orders (from the replies), to pick live orders to cancel."""

    remaining: dict[int, int] = field(default_factory=dict)
    owner: dict[int, int] = field(default_factory=dict)
    ids: list[int] = field(default_factory=list)
    where: dict[int, int] = field(default_factory=dict)

    def add(self, order_id: int, account: int, lots: int) -> None:
        self.remaining[order_id] = lots
        self.owner[order_id] = account
        self.where[order_id] = len(self.ids)
        self.ids.append(order_id)

    def drop(self, order_id: int) -> None:
        if order_id not in self.remaining:
            return
        del self.remaining[order_id], self.owner[order_id]
        slot = self.where.pop(order_id)
        last = self.ids.pop()
        if last != order_id:
            self.ids[slot] = last
            self.where[last] = slot

    def fill(self, order_id: int, lots: int) -> None:
        if order_id in self.remaining:
            self.remaining[order_id] -= lots
            if self.remaining[order_id] <= 0:
                self.drop(order_id)

    def apply(self, result: dict[str, Any]) -> None:
        """Update from a place result: makers filled or STP-cancelled, the taker resting."""
        for fill in result["fills"]:
            self.fill(int(fill["maker_order_id"]), int(fill["qty"]))
        for order_id in result["stp"]:
            self.drop(int(order_id))
        order = result["order"]
        if order["status"] in ("open", "partially_filled"):
            self.add(int(order["id"]), int(order["account"]), int(order["qty"]) - int(order["filled"]))


@dataclass(frozen=True)
class Inner:
    """The timed calls' totals from one `INFO commandstats` (reset before them): how much of the calls' own
    server time went to the Redis commands they issued, the rest being the Lua around those commands."""

    calls: int  # calls of the timed command (FCALL, EVALSHA)
    usec: int  # their server time
    commands: int  # Redis commands they issued (every cmdstat but the timed command, INFO and CONFIG)
    commands_usec: int  # those commands' own server time

    @property
    def share(self) -> float:
        return self.commands_usec / self.usec if self.usec else 0.0

    def describe(self) -> str:
        n = max(1, self.calls)
        return (
            f"{self.commands / n:.1f} Redis commands per call, {self.commands_usec / n:.1f} us of "
            f"{self.usec / n:.1f}: {self.share:.0%} of the time is in the commands, the rest in Lua (the "
            "script's own work and the redis.call bridge: arguments in, replies out)"
        )


@dataclass
class Timings:
    """Server-side microseconds per command type."""

    by_kind: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    slowest: int = 0
    slowest_what: str = ""
    inner: Inner | None = None  # what the timed calls spent inside the Redis commands they issued

    def add(self, kind: str, micros: int) -> None:
        self.by_kind[kind].append(micros)

    def of(self, *kinds: str) -> list[int]:
        return [d for k in kinds for d in self.by_kind.get(k, [])]


def mean(values: list[int]) -> float:
    return sum(values) / len(values) if values else 0.0


def pct(values: list[int], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))])


class Bench:
    """One benchmark run against one Redis database."""

    def __init__(self, client: redis.Redis, accounts: int, out: Any = None) -> None:
        self.r = client
        self.accounts = accounts
        self.rng = random.Random(SEED)
        self.book = Book()
        self.ts = 1_700_000_000_000
        self.out = out
        self.errors: dict[str, int] = defaultdict(int)
        self.slowest = 0
        self.slowest_where = ""
        self.slowest_by_phase: dict[str, int] = {}  # "base" (mix at ~10,000 resting), "depth", "prefill"
        self._usec = 0  # cmdstat usec of the command being timed, as of the last INFO

    def say(self, text: str) -> None:
        print(text, file=self.out or sys.stdout, flush=True)

    # ---- setup --------------------------------------------------------------------------------------
    def setup(self) -> None:
        load_library(self.r)
        calls = [codec.create_asset("BTC", "Bitcoin", 8), codec.create_asset("USDT", "Tether", 6)]
        calls.append(codec.create_market(SPEC, 8, 6))
        # each asset's supply stays below 2^53 (the engine refuses more), however many accounts
        usdt, btc = min(10**12, (2**53 - 1) // self.accounts), min(10**11, (2**53 - 1) // self.accounts)
        for account in range(1, self.accounts + 1):
            calls.append(codec.wallet("deposit", account, "USDT", usdt, f"bench-u-{account}", self.ts))
            calls.append(codec.wallet("deposit", account, "BTC", btc, f"bench-b-{account}", self.ts))
        for start in range(0, len(calls), CHUNK):
            replies = self._send(calls[start : start + CHUNK])
            bad = [r for r in replies if isinstance(r, Exception)]
            if bad:
                raise RuntimeError(f"setup failed: {bad[0]}")

    def _send(self, calls: list[codec.Call]) -> list[Any]:
        pipe = self.r.pipeline(transaction=False)
        for call in calls:
            pipe.fcall(call.function, len(call.keys), *call.keys, *call.args)
        return pipe.execute(raise_on_error=False)  # type: ignore[no-any-return]

    # ---- the command mix ------------------------------------------------------------------------------
    def _tick(self) -> int:
        self.ts += 1
        return self.ts

    def _passive(self) -> tuple[str, codec.Call]:
        rng = self.rng
        side = rng.choice(("buy", "sell"))
        offset = rng.randint(1, BAND)
        price = MID - offset if side == "buy" else MID + offset
        return "gtc_passive", self._limit(side, price, "gtc")

    def _limit(self, side: str, price: int, tif: str) -> codec.Call:
        account = self.rng.randint(1, self.accounts)
        qty = self.rng.randint(MIN_LOTS, MAX_LOTS)
        return codec.place(
            account, SYMBOL, side, "limit", price=price, qty=qty, quote_qty=0, tif=tif, post_only=False,
            stp="cancel_maker", client_order_id="", ts_ms=self._tick(),
        )  # fmt: skip

    def _crossing_price(self, side: str) -> int:
        reach = self.rng.randint(1, CROSS)
        return MID + reach if side == "buy" else MID - reach

    def _next(self, picked: set[int]) -> tuple[str, codec.Call]:
        rng = self.rng
        r = rng.random()
        if r < 0.55:
            if rng.random() < 1 / 3:
                side = rng.choice(("buy", "sell"))
                return "gtc_cross", self._limit(side, self._crossing_price(side), "gtc")
            return self._passive()
        if r < 0.65:
            side = rng.choice(("buy", "sell"))
            return "ioc", self._limit(side, self._crossing_price(side), "ioc")
        if r < 0.70:
            side = rng.choice(("buy", "sell"))
            account = rng.randint(1, self.accounts)
            qty = rng.randint(MIN_LOTS, MAX_LOTS)
            call = codec.place(
                account, SYMBOL, side, "market", price=0, qty=qty, quote_qty=0, tif="ioc", post_only=False,
                stp="cancel_maker", client_order_id="", ts_ms=self._tick(),
            )  # fmt: skip
            return "market", call
        for _ in range(20):
            if not self.book.ids:
                break
            order_id = self.book.ids[rng.randrange(len(self.book.ids))]
            if order_id not in picked:
                picked.add(order_id)
                return "cancel", codec.cancel(self.book.owner[order_id], order_id, self._tick())
        return self._passive()

    def _absorb(self, kinds: list[str], calls: list[codec.Call], replies: list[Any]) -> None:
        for kind, call, reply in zip(kinds, calls, replies, strict=True):
            if isinstance(reply, Exception):
                code = str(reply).split(" ", 1)[0]
                self.errors[f"{kind}:{code}"] += 1
                if kind == "cancel":
                    self.book.drop(int(call.args[1]))
                continue
            if kind == "cancel":
                self.book.drop(int(call.args[1]))
            else:
                self.book.apply(codec.parse_place(reply))

    # ---- slowlog ------------------------------------------------------------------------------------
    def _slowlog(self, threshold_us: int, max_len: int) -> None:
        self.r.config_set("slowlog-log-slower-than", threshold_us)
        self.r.config_set("slowlog-max-len", max_len)
        self.r.slowlog_reset()

    def _check_slowlog(self, where: str) -> None:
        for _id, micros in self._drain("FCALL"):
            self._note_slowest(micros, where)

    def _drain(self, prefix: str) -> list[tuple[int, int]]:
        """(id, duration us) of the logged calls starting with `prefix`, oldest first; then reset."""
        entries = self.r.slowlog_get(CHUNK * 4)
        self.r.slowlog_reset()
        out = []
        for e in entries:
            command = e["command"]
            if isinstance(command, bytes):
                command = command.decode(errors="replace")
            if str(command).upper().startswith(prefix):
                out.append((int(e["id"]), int(e["duration"])))
        out.sort()
        return out

    def _note_slowest(self, micros: int, where: str) -> None:
        if micros > self.slowest:
            self.slowest, self.slowest_where = micros, where
        phase = where.split(" ", 1)[0]
        self.slowest_by_phase[phase] = max(self.slowest_by_phase.get(phase, 0), micros)

    # ---- phases -------------------------------------------------------------------------------------
    def prefill(self, target: int, label: str) -> float:
        """Add passive orders until `target` rest; returns the seconds it took (client time)."""
        self._slowlog(SLOW_US, CHUNK * 4)
        started = time.perf_counter()
        while len(self.book.ids) < target:
            want = min(CHUNK * 4, target - len(self.book.ids))
            kinds, calls = [], []
            for _ in range(want):
                kind, call = self._passive()
                kinds.append(kind)
                calls.append(call)
            self._absorb(kinds, calls, self._send(calls))
            self._check_slowlog(f"prefill {label}")
        return time.perf_counter() - started

    def prefill_tail(self, count: int, spread: int) -> float:
        """Add `count` passive orders beyond the band the mix trades in, BAND + 1 .. BAND + `spread` ticks
        from the mid (bids and asks alike); returns the seconds it took (client time).

        The tail deepens the book without changing what the mix meets: its crossing orders reach CROSS ticks,
        its market orders would reach the tail only if a side of the band ran empty, and its cancels pick
        from `book`, which the tail stays out of. So a mix over the band plus a tail does the same work per
        command as over the band alone, on a larger dataset.
        """
        self._slowlog(SLOW_US, CHUNK * 4)
        started = time.perf_counter()
        rng = self.rng
        done = 0
        while done < count:
            calls = []
            for _ in range(min(CHUNK * 4, count - done)):
                side = rng.choice(("buy", "sell"))
                offset = BAND + rng.randint(1, spread)
                calls.append(self._limit(side, MID - offset if side == "buy" else MID + offset, "gtc"))
            bad = [r for r in self._send(calls) if isinstance(r, Exception)]
            if bad:
                raise RuntimeError(f"tail prefill failed: {bad[0]}")
            done += len(calls)
            self._check_slowlog("prefill tail")
        return time.perf_counter() - started

    def _timed(self, pipe: Any, command: str, calls: list[tuple[Any, ...]]) -> tuple[list[Any], list[int]]:
        """Send `calls` with an `INFO commandstats` after each one; returns the replies and the server-side
        microseconds of each call (the growth of `cmdstat_{command}` usec across it)."""
        for args in calls:
            pipe.execute_command(*args)
            pipe.execute_command("INFO", "commandstats")
        replies = pipe.execute(raise_on_error=False)
        results, durations = [], []
        for i in range(0, len(replies), 2):
            stats = replies[i + 1].get(f"cmdstat_{command}", {})
            usec = int(stats.get("usec", 0))
            durations.append(usec - self._usec)
            self._usec = usec
            results.append(replies[i])
        return results, durations

    def _start_stats(self) -> None:
        self.r.config_resetstat()
        self._usec = 0

    def _inner(self, command: str) -> Inner:
        """Totals since `_start_stats` of `command` and of the commands its calls issued (Redis 7 and
        Valkey 8 count a script's commands in INFO commandstats too)."""
        stats = self.r.info("commandstats")
        own = stats.get(f"cmdstat_{command}", {})
        skip = (f"cmdstat_{command}", "cmdstat_info", "cmdstat_config", "cmdstat_slowlog")
        inner = [v for k, v in stats.items() if not k.startswith(skip)]
        return Inner(
            int(own.get("calls", 0)), int(own.get("usec", 0)),
            sum(int(v.get("calls", 0)) for v in inner), sum(int(v.get("usec", 0)) for v in inner),
        )  # fmt: skip

    def mix(self, commands: int, label: str) -> Timings:
        """Run `commands` of the standard mix, timing every call on the server."""
        timings = Timings()
        self._slowlog(SLOW_US, CHUNK * 4)
        self._start_stats()
        done = 0
        while done < commands:
            n = min(CHUNK, commands - done)
            picked: set[int] = set()
            kinds, calls = [], []
            for _ in range(n):
                kind, call = self._next(picked)
                kinds.append(kind)
                calls.append(call)
            pipe = self.r.pipeline(transaction=False)
            fcalls = [("FCALL", c.function, len(c.keys), *c.keys, *c.args) for c in calls]
            replies, durations = self._timed(pipe, "fcall", fcalls)
            for kind, micros in zip(kinds, durations, strict=True):
                timings.add(kind, micros)
                self._note_slowest(micros, f"{label} {kind}")
            self._absorb(kinds, calls, replies)
            done += n
        timings.inner = self._inner("fcall")
        self._check_slowlog(label)
        return timings

    def reference_script(self, calls: int) -> tuple[list[int], Inner]:
        """The 6-command reference script, EVALSHA'd `calls` times, timed on the server."""
        sha = self.r.script_load(REF_SCRIPT)
        keys = ("refbench:zset", "refbench:hash", "refbench:counter", "refbench:stream", "refbench:chan")
        self._start_stats()
        durations: list[int] = []
        done = 0
        while done < calls:
            n = min(CHUNK, calls - done)
            batch = []
            for i in range(done, done + n):
                score = MID + self.rng.randint(-BAND, BAND)
                batch.append(("EVALSHA", sha, len(keys), *keys, str(score), f"m{i:08d}"))
            _replies, timed = self._timed(self.r.pipeline(transaction=False), "evalsha", batch)
            durations.extend(timed)
            done += n
        inner = self._inner("evalsha")
        self.r.delete(*keys[:4])
        return durations, inner

    def spin_slowest(self, calls: int, target_us: float) -> tuple[int, float]:
        """(slowest, mean) microseconds of `calls` EVALSHAs of a script that only counts in a loop, sized
        to take about `target_us` (the mean place). Its calls do the same thing every time, so whatever
        makes one of them slower is this machine (preemption, interrupts, a hypervisor), not a script:
        the engine's slowest call can only be read against this one's. SLOWLOG, threshold 0."""
        sha = self.r.script_load(SPIN_SCRIPT)
        self._slowlog(0, CHUNK * 4)

        def spin(n: int, loops: int) -> list[int]:
            pipe = self.r.pipeline(transaction=False)
            for _ in range(n):
                pipe.evalsha(sha, 0, loops)
            pipe.execute()
            return [micros for _id, micros in self._drain("EVALSHA")]

        loops, slowest, total, done = 10_000, 0, 0, 0
        for _ in range(3):  # size the loop: three rounds of 500 calls
            took = spin(500, loops)
            loops = max(1, round(loops * target_us / max(1.0, sum(took) / max(1, len(took)))))
        while done < calls:
            n = min(CHUNK * 4, calls - done)
            took = spin(n, loops)
            slowest = max([slowest, *took])
            total += sum(took)
            done += n
            # keep the running mean on target (the machine's speed drifts): resize toward it, damped
            loops = max(1, round(loops * (1 + (target_us / max(1.0, total / done) - 1) / 2)))
        return slowest, total / max(1, calls)

    def resting(self) -> int:
        return int(self.r.zcard(f"book:{SYMBOL}:bids")) + int(self.r.zcard(f"book:{SYMBOL}:asks"))

    def memory(self) -> tuple[int, int]:
        """(used_memory, bytes of the market's event stream)."""
        used = int(self.r.info("memory")["used_memory"])
        stream = self.r.memory_usage(f"events:{SYMBOL}", samples=0) or 0
        return used, int(stream)
