"""`exchange bench engine` (also `make bench`): the engine's standard benchmark, measured on the server.

Against a fresh Redis (its own throwaway server unless `--redis-url` names an empty database):
one market, 1,000 accounts funded by deposits, a book prefilled to 10,000 resting orders around the mid
price, then 100,000 commands (`--size`) of a fixed-seed mix: 55% limit GTC (about a third of them priced
through the spread), 10% IOC, 5% market, 30% cancel. Commands go out as pipelined FCALLs (the Python
client is the bottleneck, so nothing here is timed on the client).

Server-side figures:
- every call's own microseconds: each FCALL is pipelined with an `INFO commandstats` right after it, and
  the growth of `cmdstat_fcall` usec across the call is that call's server time (exact, per call, so
  mean / p50 / p99 / max per command type). SLOWLOG with a 0 threshold is not used for this: Redis 7 and
  Valkey 8 also log every command a function runs inside, which would slow the calls being measured;
- the same for a reference 6-command script (ZADD, ZRANGE, HSET, HINCRBY, XADD, PUBLISH) via EVALSHA;
- the book is then deepened to 1,000,000 resting orders and the mix measured again. The extra orders
  rest beyond the band the mix trades in, at the band's density: the book gets wider, as real books do,
  and the mix meets the same orders near the mid at both depths. (Piling them into the band made the mix
  busier, not only the book deeper: its crossing orders, which rest or expire once the few orders near
  the mid run out, then always traded, ~30% more events per call.) The depth cost ratio is the mean place
  cost of that mix over that of a mix of the same length (20,000 commands) run just before the book was
  deepened, from the same state of the band (the long mix's mean drifts with the band's state, so it is
  not the baseline). `INFO memory` gives bytes per resting order (the event stream's own growth, which
  persistence trims, is measured separately with `MEMORY USAGE` and left out of that figure);
- the slowest single call of the run: the largest per-call time of the measured mixes, and SLOWLOG
  (threshold SLOW_US) during the prefills; next to it, how many calls of the mix at 10,000 resting took
  1 ms or more, and the slowest of as many calls of a script that only counts in a loop for about the
  mean place time: it does the same work every call, so its slowest call is this machine's own hiccup,
  which no script can stay under.

- where a call's time goes: Redis 7 and Valkey 8 count the commands a script issues in INFO commandstats
  too, so the totals of a mix (or of the reference script) split its server time into the commands' own
  time and the rest, which is Lua: the script's work and the redis.call bridge (arguments in, replies out).
Ends with one JSON line: place_us_mean, place_us_p99, cancel_us_mean, ref_script_us_mean, place_vs_ref,
capacity_orders_per_s, depth_cost_ratio, bytes_per_resting_order, slowest_call_us, and
slowest_call_us_at_10k (the slowest call of the mix at ~10,000 resting orders, where the issue sets its
worst-call target; slowest_call_us also covers the prefill to 1,000,000, whose calls pay for the growth of
Redis's own tables); then calls_over_1ms_at_10k and spin_slowest_us (see above), and mix_commands_share and
ref_commands_share (the share of the calls' time spent inside their Redis commands, mix at ~10,000 resting
and reference script).
The server: `--redis-url`, else a throwaway `--server redis7|valkey8` (EXCHANGE_BENCH_SERVER; default the
first available), pinned to a CPU of its own while this client runs on the others. Smaller runs: `--size`
(commands), EXCHANGE_BENCH_RESTING (10000), EXCHANGE_BENCH_DEPTH (1000000), EXCHANGE_BENCH_ACCOUNTS (1000).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import redis

from exchange.bench.engine_workload import BAND, PLACE_KINDS, Bench, Timings, mean, pct
from exchange.reference import MAX_OPEN_ORDERS


def _row(name: str, values: list[int]) -> str:
    return (
        f"  {name:<14} {len(values):>8} {mean(values):>9.1f} {pct(values, 0.5):>8.0f} "
        f"{pct(values, 0.99):>8.0f} {max(values, default=0):>8}"
    )


def _report_mix(bench: Bench, title: str, timings: Timings) -> None:
    bench.say(f"\n{title}  (server-side microseconds per call, from INFO commandstats)")
    bench.say(f"  {'type':<14} {'calls':>8} {'mean':>9} {'p50':>8} {'p99':>8} {'max':>8}")
    for kind in (*PLACE_KINDS, "cancel"):
        bench.say(_row(kind, timings.of(kind)))
    bench.say(_row("place (all)", timings.of(*PLACE_KINDS)))
    if timings.inner:
        bench.say(f"  inside the calls (all types): {timings.inner.describe()}")


def run_bench(
    client: redis.Redis,
    *,
    commands: int,
    resting: int,
    depth: int,
    accounts: int,
    depth_commands: int,
    out: Any = None,
) -> dict[str, float]:
    """The whole benchmark on an empty database; returns the final figures."""
    bench = Bench(client, accounts, out)
    server = client.info("server")
    kind = "valkey" if "valkey_version" in server else "redis"
    bench.say(
        f"engine benchmark: {kind} {server.get('valkey_version') or server.get('redis_version')}, "
        f"{accounts} accounts, {resting} resting, "
        f"{commands} commands, depth phase {depth} resting"
    )
    saved = client.config_get("slowlog-*")
    try:
        bench.setup()
        seconds = bench.prefill(resting, "base")
        bench.say(f"prefill to {bench.resting()} resting orders: {seconds:.1f} s (client time)")

        ref, ref_inner = bench.reference_script(min(commands, 10_000))
        timings = bench.mix(commands, "base")
        _report_mix(bench, f"mix at ~{resting} resting ({commands} commands)", timings)
        bench.say(_row("ref script", ref))
        bench.say(f"  inside the ref script: {ref_inner.describe()}")
        bench.say(f"  resting after the mix: {bench.resting()}; refused commands: {dict(bench.errors) or 0}")

        # the depth ratio compares two mixes of the same length run back to back, this one and the one after
        # the tail: the band's state drifts during the long mix above, so its mean is not the baseline
        near = bench.mix(depth_commands, "base")
        title = f"mix at ~{bench.resting()} resting, before the tail ({depth_commands} commands)"
        _report_mix(bench, title, near)

        used0, stream0 = bench.memory()
        resting0 = bench.resting()
        # the extra orders go beyond the mix's band at the band's density (a wider book, not a denser one):
        # the mix then meets the same book near the mid, so the ratio measures depth, not a busier mix
        extra = max(0, depth - resting0)
        spread = max(1, math.ceil(extra * BAND / max(1, resting)))
        seconds = bench.prefill_tail(extra, spread)
        used1, stream1 = bench.memory()
        resting1 = bench.resting()
        added = max(1, resting1 - resting0)
        per_order = (used1 - used0 - (stream1 - stream0)) / added
        bench.say(
            f"\nprefill to {resting1} resting orders ({added} beyond the band, up to {BAND + spread} ticks "
            f"from the mid): {seconds:.1f} s (client time); memory "
            f"+{(used1 - used0) / 2**20:.1f} MiB for {added} orders = {(used1 - used0) / added:.0f} B/order, "
            f"of which the event stream {(stream1 - stream0) / added:.0f} B/order; "
            f"book state {per_order:.0f} B/order"
        )
        deep = bench.mix(depth_commands, "depth")
        _report_mix(bench, f"mix at ~{resting1} resting ({depth_commands} commands)", deep)

        place = timings.of(*PLACE_KINDS)
        place_mean = round(mean(place), 2)  # rounded once: capacity and ratios follow the printed mean
        ref_mean = mean(ref)
        near_mean, deep_mean = mean(near.of(*PLACE_KINDS)), mean(deep.of(*PLACE_KINDS))
        bench.say(f"\nslowest call: {bench.slowest} us ({bench.slowest_where})")
        bench.say(f"slowest call by phase: {bench.slowest_by_phase}")
        every = timings.of(*timings.by_kind)
        over, calls = sum(1 for micros in every if micros >= 1000), len(every)
        spin, spin_mean = bench.spin_slowest(calls, place_mean)
        bench.say(
            f"calls of 1 ms or more in the mix at ~{resting} resting: {over} of {calls}; the slowest of "
            f"{calls} calls of a script that only loops (mean {spin_mean:.0f} us): {spin} us"
        )
        return {
            "place_us_mean": place_mean,
            "place_us_p99": pct(place, 0.99),
            "cancel_us_mean": round(mean(timings.of("cancel")), 2),
            "ref_script_us_mean": round(ref_mean, 2),
            "place_vs_ref": round(place_mean / ref_mean, 3) if ref_mean else 0.0,
            "capacity_orders_per_s": round(1e6 / place_mean) if place_mean else 0,
            "depth_cost_ratio": round(deep_mean / near_mean, 3) if near_mean else 0.0,
            "bytes_per_resting_order": round(per_order, 1),
            "slowest_call_us": bench.slowest,
            # the worst-call target is at ~10,000 resting orders: the slowest call of that mix
            "slowest_call_us_at_10k": bench.slowest_by_phase.get("base", 0),
            "calls_over_1ms_at_10k": over,
            "spin_slowest_us": spin,
            # the share of the calls' server time spent in the Redis commands they issue (the rest is Lua)
            "mix_commands_share": round(timings.inner.share, 3) if timings.inner else 0.0,
            "ref_commands_share": round(ref_inner.share, 3),
        }
    finally:
        for name, value in saved.items():
            if value is not None:
                client.config_set(str(name), value)


def _pin_apart(server_pid: int | None) -> None:
    """Give the throwaway Redis a CPU of its own and keep this client on the others (when there are two or
    more): the Python client is busy the whole run, and a Redis call it preempts would count the wait as
    server time (the reference script is measured the same way). Linux only; a no-op elsewhere."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if server_pid is None or len(cpus) < 2:
        return
    os.sched_setaffinity(server_pid, {cpus[-1]})
    os.sched_setaffinity(0, set(cpus[:-1]))


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def main(args: argparse.Namespace) -> int:
    """`exchange bench engine`: print the table, then one JSON line."""
    commands = getattr(args, "size", None) or 100_000
    resting = getattr(args, "resting", None) or _env_int("EXCHANGE_BENCH_RESTING", 10_000)
    depth = getattr(args, "depth", None) or _env_int("EXCHANGE_BENCH_DEPTH", 1_000_000)
    accounts = getattr(args, "accounts", None) or _env_int("EXCHANGE_BENCH_ACCOUNTS", 1000)
    depth_commands = getattr(args, "depth_commands", None) or min(commands, 20_000)
    if depth > accounts * MAX_OPEN_ORDERS * 3 // 4:  # random accounts: keep each well under the cap
        need = -(-depth * 4 // (3 * MAX_OPEN_ORDERS))
        print(
            f"exchange bench engine: {depth:,} resting orders need at least {need:,} accounts (each account"
            f" holds at most {MAX_OPEN_ORDERS:,} open orders); got {accounts:,}",
            file=sys.stderr,
        )
        return 2
    url = getattr(args, "redis_url", None)
    if url:
        client = redis.Redis.from_url(url, decode_responses=True, protocol=2)
        if client.dbsize():
            print(f"exchange bench engine: {url} is not empty; give an empty database", file=sys.stderr)
            return 2
        result = run_bench(
            client, commands=commands, resting=resting, depth=depth, accounts=accounts,
            depth_commands=depth_commands,
        )  # fmt: skip
        client.close()
    else:
        from exchange.servers import RedisServer, available_redis_kinds

        kinds = available_redis_kinds()
        kind = getattr(args, "server", None) or os.environ.get("EXCHANGE_BENCH_SERVER") or kinds[0]
        if kind not in kinds:
            print(f"exchange bench engine: no {kind} server here (available: {kinds})", file=sys.stderr)
            return 2
        with (
            tempfile.TemporaryDirectory(prefix="exchange-bench-") as tmp,
            RedisServer(kind, Path(tmp)) as server,
        ):
            _pin_apart(server.pid)
            client = redis.Redis.from_url(server.url, decode_responses=True, protocol=2)
            try:
                result = run_bench(
                    client, commands=commands, resting=resting, depth=depth, accounts=accounts,
                    depth_commands=depth_commands,
                )  # fmt: skip
            finally:
                client.close()
    print(json.dumps(result))
    return 0
