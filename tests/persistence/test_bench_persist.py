"""`exchange bench persist` runs end to end on a tiny workload and ends with the documented JSON line."""

from __future__ import annotations

import argparse
import json

import pytest

from exchange.bench import persist

pytestmark = pytest.mark.slow


def test_bench_persist_prints_the_json_summary(capsys: pytest.CaptureFixture[str]) -> None:
    """A small run persists the whole backlog and reports throughput and lag percentiles."""
    args = argparse.Namespace(which="persist", size=400, redis_url=None, database_url=None, json=True)
    assert persist.main(args) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    result = json.loads(last)
    assert {"events_per_s_per_worker", "lag_p50_s", "lag_p99_s"} <= set(result)
    assert result["events_per_s_per_worker"] > 0
    assert result["backlog_events"] > 400
    assert 0 <= result["lag_p50_s"] <= result["lag_p99_s"]
