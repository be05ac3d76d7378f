"""`exchange bench engine`: a tiny run reports every figure; the deepening orders stay out of the mix."""

from __future__ import annotations

import argparse
import json

import pytest
import redis

from exchange.bench import engine as bench_engine
from exchange.bench.engine_workload import BAND, MID, SYMBOL, Bench

KEYS = (
    "place_us_mean", "place_us_p99", "cancel_us_mean", "ref_script_us_mean", "place_vs_ref",
    "capacity_orders_per_s", "depth_cost_ratio", "bytes_per_resting_order", "slowest_call_us",
    "slowest_call_us_at_10k", "spin_slowest_us",
)  # fmt: skip
EXTRA = ("calls_over_1ms_at_10k",)  # a count that may be 0
SHARES = ("mix_commands_share", "ref_commands_share")  # fractions of the calls' time


def test_engine_benchmark_prints_every_figure_as_a_positive_number(
    redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A tiny run (200 resting, 1,000 commands, 2,000 resting for the depth phase) ends with the JSON line."""
    args = argparse.Namespace(
        which="engine",
        size=1000,
        redis_url=redis_url,
        resting=200,
        depth=2000,
        accounts=50,
        depth_commands=500,
    )
    assert bench_engine.main(args) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    figures = json.loads(lines[-1])
    assert set(figures) == set(KEYS) | set(EXTRA) | set(SHARES)
    for key in SHARES:
        assert 0 < figures[key] < 1, (key, figures[key])
    for key in KEYS:
        assert isinstance(figures[key], int | float) and figures[key] > 0, (key, figures[key])
    for key in EXTRA:
        assert isinstance(figures[key], int) and figures[key] >= 0, (key, figures[key])
    assert figures["calls_over_1ms_at_10k"] <= 1000  # a count of the mix's calls
    assert figures["capacity_orders_per_s"] == round(1e6 / figures["place_us_mean"])
    table = "\n".join(lines[:-1])
    for kind in ("gtc_passive", "gtc_cross", "ioc", "market", "cancel", "ref script"):
        assert kind in table
    assert "inside the ref script: 6.0 Redis commands per call" in table


def test_inner_counts_the_commands_a_script_issues_and_their_time(redis_client: redis.Redis) -> None:
    """The reference script issues exactly its six commands per call, and they take part of its time."""
    bench = Bench(redis_client, 5)
    durations, inner = bench.reference_script(40)
    assert len(durations) == 40 and inner.calls == 40
    assert inner.commands == 6 * 40
    assert 0 < inner.commands_usec < inner.usec
    assert inner.share == inner.commands_usec / inner.usec


def test_engine_benchmark_refuses_a_database_that_is_not_empty(redis_url: str) -> None:
    """Given a URL, the benchmark never writes into a database that already holds keys."""
    import redis

    client = redis.Redis.from_url(redis_url, decode_responses=True, protocol=2)
    client.set("someone-else", "1")
    args = argparse.Namespace(which="engine", size=10, redis_url=redis_url)
    assert bench_engine.main(args) == 2
    assert client.dbsize() == 1
    client.close()


def test_engine_benchmark_refuses_a_depth_its_accounts_cannot_hold(
    redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A million resting orders over 100 accounts would pass the engine's 2,000 open orders per account:
    the benchmark says how many accounts it needs and writes nothing."""
    import redis

    args = argparse.Namespace(which="engine", size=10, depth=1_000_000, accounts=100, redis_url=redis_url)
    assert bench_engine.main(args) == 2
    assert "need at least 667 accounts" in capsys.readouterr().err
    client = redis.Redis.from_url(redis_url, decode_responses=True, protocol=2)
    assert client.dbsize() == 0
    client.close()


def _offsets(client: redis.Redis) -> list[int]:
    """Every resting order's distance from the mid in ticks (bids score -price, asks price)."""
    bids = client.zrange(f"book:{SYMBOL}:bids", 0, -1, withscores=True)
    asks = client.zrange(f"book:{SYMBOL}:asks", 0, -1, withscores=True)
    return [MID + int(score) for _, score in bids] + [int(score) - MID for _, score in asks]


def test_depth_tail_rests_beyond_the_band_and_stays_out_of_the_mix(redis_client: redis.Redis) -> None:
    """The orders that deepen the book rest BAND + 1 .. BAND + spread ticks from the mid; the mix's cancels
    never pick them and its orders never reach them, so the mix meets the same book near the mid."""
    bench = Bench(redis_client, 20)
    bench.setup()
    bench.prefill(400, "base")
    pool = sorted(bench.book.ids)
    assert all(0 < o <= BAND for o in _offsets(redis_client))

    bench.prefill_tail(300, 1500)
    assert bench.resting() == 400 + 300
    assert sorted(bench.book.ids) == pool  # not in the cancel pool
    far = [o for o in _offsets(redis_client) if o > BAND]
    assert len(far) == 300 and max(far) <= BAND + 1500

    deep = bench.mix(100, "depth")
    assert sum(len(v) for v in deep.by_kind.values()) == 100
    assert deep.of("cancel") and deep.of("gtc_cross")
    assert sorted(o for o in _offsets(redis_client) if o > BAND) == sorted(far)  # the tail is untouched
