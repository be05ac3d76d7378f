"""`exchange bench engine` at a tiny size: it runs end to end and reports every figure."""

from __future__ import annotations

import argparse
import json

import pytest

from exchange.bench import engine as bench_engine

KEYS = (
    "place_us_mean", "place_us_p99", "cancel_us_mean", "ref_script_us_mean", "place_vs_ref",
    "capacity_orders_per_s", "depth_cost_ratio", "bytes_per_resting_order", "slowest_call_us",
    "slowest_call_us_at_10k", "spin_slowest_us",
)  # fmt: skip
EXTRA = ("calls_over_1ms_at_10k",)  # a count that may be 0


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
    assert set(figures) == set(KEYS) | set(EXTRA)
    for key in KEYS:
        assert isinstance(figures[key], int | float) and figures[key] > 0, (key, figures[key])
    for key in EXTRA:
        assert isinstance(figures[key], int) and figures[key] >= 0, (key, figures[key])
    assert figures["calls_over_1ms_at_10k"] <= 1000  # a count of the mix's calls
    assert figures["capacity_orders_per_s"] == round(1e6 / figures["place_us_mean"])
    table = "\n".join(lines[:-1])
    for kind in ("gtc_passive", "gtc_cross", "ioc", "market", "cancel", "ref script"):
        assert kind in table


def test_engine_benchmark_refuses_a_database_that_is_not_empty(redis_url: str) -> None:
    """Given a URL, the benchmark never writes into a database that already holds keys."""
    import redis

    client = redis.Redis.from_url(redis_url, decode_responses=True, protocol=2)
    client.set("someone-else", "1")
    args = argparse.Namespace(which="engine", size=10, redis_url=redis_url)
    assert bench_engine.main(args) == 2
    assert client.dbsize() == 1
    client.close()
