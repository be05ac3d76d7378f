"""Operations around persistence: lag, CLI commands, RQ jobs and scheduler, trimming, closed-order expiry."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import psycopg
import pytest
import redis
from rq import Queue

from tests.persistence.flow import Flow, settled_flow
from tests.persistence.streams import assert_pg_equals_streams
from workers import cli
from workers.jobs import QUEUE_NAME, JobWorker, Scheduler, trim_streams
from workers.lag import lag, reconcile_counters, render_metrics
from workers.persist import Persister, drain, redis_cursor_key


@pytest.fixture
def flow(client: redis.Redis) -> Flow:
    return settled_flow(client, seed=3, commands=150)


def _args(redis_url: str, pg_url: str, **extra: object) -> argparse.Namespace:
    return argparse.Namespace(data_dir=None, redis_url=redis_url, database_url=pg_url, **extra)


def test_lag_counts_events_and_seconds_behind_until_drained(
    client: redis.Redis, flow: Flow, redis_url: str, pg_url: str
) -> None:
    """Before a drain every event is behind (with an age); after it nothing is; metrics render both."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        before = lag(client, conn)
        heads = {s: v["head_seq"] for s, v in before["streams"].items()}
        assert before["events_behind"] == sum(heads.values()) > 0
        assert before["seconds_behind"] > 0
        drain(redis_url, pg_url)
        after = lag(client, conn)
    assert after["events_behind"] == 0 and after["seconds_behind"] == 0
    assert not any(s["regressed"] for s in after["streams"].values())
    text = render_metrics(before, reconcile_counters(client))
    assert 'exchange_persist_events_behind{stream="events:PA-PQ"}' in text
    assert "exchange_reconcile_differences_total 0" in text


def test_status_command_prints_lag(
    client: redis.Redis, flow: Flow, redis_url: str, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`exchange status --json` reports lag per stream, workers and reconciliation state."""
    assert cli.run_status(_args(redis_url, pg_url, json=True)) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["lag"]["events_behind"] > 0 and report["workers"] == 0
    assert cli.run_status(_args(redis_url, pg_url, json=False)) == 0
    assert "events:PA-PQ" in capsys.readouterr().out


def test_status_without_a_stack_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """No URL anywhere: exit 2 with a message naming the options."""
    from exchange.cli import main

    monkeypatch.delenv("EXCHANGE_REDIS_URL", raising=False)
    monkeypatch.delenv("EXCHANGE_DATABASE_URL", raising=False)
    assert main(["status", "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "--redis-url" in err and "--data-dir" in err and str(tmp_path) in err


def test_reconcile_command_exit_codes_and_clear(
    client: redis.Redis, flow: Flow, redis_url: str, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """0 when clean; 1 with the difference printed (once) and the market frozen; --clear puts it back."""
    assert cli.run_reconcile(_args(redis_url, pg_url, json=False, no_freeze=False, clear=None)) == 0
    client.hincrby("balance:2", "PA:held", -1)
    assert cli.run_reconcile(_args(redis_url, pg_url, json=False, no_freeze=False, clear=None)) == 1
    out, err = capsys.readouterr()
    assert '"account": 2' in out and '"asset": "PA"' in out and "PA-PQ" in out
    assert "reconciliation difference" not in err, err  # each difference once (stdout), not again on stderr
    assert flow.engine.market("PA-PQ")["status"] == "cancel_only"  # type: ignore[index]
    assert client.smembers("reconcile:frozen") == {"PA-PQ"}
    capsys.readouterr()
    assert cli.run_reconcile(_args(redis_url, pg_url, json=False, no_freeze=False, clear=["PA-PQ"])) == 0
    assert flow.engine.market("PA-PQ")["status"] == "trading"  # type: ignore[index]
    assert client.smembers("reconcile:frozen") == set()
    cleared = "PA-PQ: back to trading, the status it had when reconciliation froze it\n"
    assert capsys.readouterr().out == cleared


def test_reconcile_clear_says_plainly_when_there_was_nothing_to_clear(
    client: redis.Redis, flow: Flow, redis_url: str, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--clear` of a market reconciliation did not freeze changes nothing and says so, in words that cannot
    be read as "put back to trading"; a symbol in lower case is the same market."""
    args = _args(redis_url, pg_url, json=False, no_freeze=False, clear=["pa-pq"])
    assert cli.run_reconcile(args) == 0
    out = capsys.readouterr().out
    assert out == "nothing to clear: PA-PQ was not frozen by reconciliation\n"
    assert flow.engine.market("PA-PQ")["status"] == "trading"  # type: ignore[index]


def test_reconcile_clear_of_a_market_that_does_not_exist_is_an_error_naming_the_markets(
    client: redis.Redis, flow: Flow, redis_url: str, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--clear NOPE-X` (a typo) exits 2 naming the markets there are and clears nothing, even the valid
    symbols given with it, instead of "nothing to clear" and exit 0."""
    client.sadd("reconcile:frozen", "PA-PQ")
    args = _args(redis_url, pg_url, json=False, no_freeze=False, clear=["PA-PQ", "nope-x"])
    assert cli.run_reconcile(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no market NOPE-X: the markets are ") and "PA-PQ" in err, err
    assert client.smembers("reconcile:frozen") == {"PA-PQ"}


def test_a_closed_order_ttl_under_a_day_is_a_usage_error_not_quietly_a_day(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """`--closed-order-ttl 10` and EXCHANGE_CLOSED_ORDER_TTL=5 exit 2 saying 0 or at least 86400 (they were
    raised to a day without a word); `exchange up` refuses the variable before it starts anything."""
    from exchange import stack
    from exchange.cli import main

    for argv, env in ((["--closed-order-ttl", "10"], None), ([], "5"), ([], "soon")):
        if env is None:
            monkeypatch.delenv("EXCHANGE_CLOSED_ORDER_TTL", raising=False)
        else:
            monkeypatch.setenv("EXCHANGE_CLOSED_ORDER_TTL", env)
        with pytest.raises(SystemExit) as exit_info:
            main(["worker", "--burst", *argv])
        assert exit_info.value.code == 2
        assert "0 (forever) or at least 86400 seconds" in capsys.readouterr().err
    up = argparse.Namespace(host=None, port=None, data_dir=str(tmp_path), api_processes=None, no_mm=True)
    assert stack.run(up) == 2
    assert "EXCHANGE_CLOSED_ORDER_TTL" in capsys.readouterr().err


def test_reconcile_clear_help_says_what_the_docs_say(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--clear`'s help names the status before the freeze (operations.md), not "back to trading"."""
    from exchange.cli import main

    monkeypatch.setenv("COLUMNS", "300")  # no wrapping inside the phrases
    with pytest.raises(SystemExit):
        main(["reconcile", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "the status it had before" in out and "back to trading" not in out


def test_restore_command_refuses_a_non_empty_redis(
    client: redis.Redis, flow: Flow, redis_url: str, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --force a live Redis is never overwritten; with --force it is rebuilt."""
    drain(redis_url, pg_url)
    open_before = flow.engine.open_orders(1)
    assert cli.run_restore(_args(redis_url, pg_url, force=False)) == 2
    assert "not empty" in capsys.readouterr().err
    assert cli.run_restore(_args(redis_url, pg_url, force=True)) == 0
    assert flow.engine.open_orders(1) == open_before


def test_scheduler_feeds_rq_and_a_worker_persists(
    client: redis.Redis, flow: Flow, redis_url: str, pg_url: str
) -> None:
    """The scheduler keeps one persist job (and a reconcile job, and the session purge) queued; an RQ worker
    runs them."""
    sched = Scheduler(redis_url, pg_url, run_seconds=0.3, reconcile_interval_s=60, retain=None)
    sched.tick()
    sched.tick()  # a persist job is already waiting: no second one
    rq_conn = redis.Redis.from_url(redis_url, decode_responses=False, protocol=2)
    queue = Queue(QUEUE_NAME, connection=rq_conn)
    names = [job.func_name for job in queue.get_jobs()]
    assert names == [
        "workers.jobs.persist_job",
        "workers.jobs.reconcile_job",
        "workers.jobs.purge_sessions_job",
    ]
    JobWorker([queue], connection=rq_conn, redis_url=redis_url, database_url=pg_url).work(burst=True)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        assert_pg_equals_streams(client, conn)
    assert int(client.get("reconcile:runs_total") or 0) == 1
    assert json.loads(client.get("reconcile:last") or "{}")["ok"] is True


def test_trimming_keeps_everything_not_yet_persisted(
    client: redis.Redis, flow: Flow, redis_url: str, pg_url: str
) -> None:
    """Streams are trimmed only below the committed cursor (keeping `retain` persisted entries)."""
    drain(redis_url, pg_url)
    cursor = int(client.get(redis_cursor_key("events:PA-PQ")) or 0)
    flow.run(60)
    flow.settle_statuses()
    head = int(client.hget("market:PA-PQ", "seq") or 0)
    assert head > cursor > 20
    trim_streams(client, retain=10, approximate=False)
    ids = [int(i.split("-")[0]) for i, _ in client.xrange("events:PA-PQ")]  # type: ignore[union-attr]
    assert ids == list(range(cursor - 9, head + 1))
    assert drain(redis_url, pg_url) > 0  # the unpersisted tail is still there to persist


def test_closed_orders_expire_only_after_persisting(
    client: redis.Redis, flow: Flow, redis_url: str, pg_url: str
) -> None:
    """Persisted closed orders get the TTL; open ones and those with a client_order_id keep their hash."""
    with Persister.connect(redis_url, pg_url) as p:
        p.closed_ttl_s = 86400
        p.drain()
    seen = set()
    for oid in range(1, int(client.get("seq:order") or 0) + 1):
        o = flow.engine.get_order(oid)
        assert o is not None
        ttl = client.ttl(f"order:{oid}")
        closed = o["status"] not in ("open", "partially_filled")
        expected_ttl = closed and not o["client_order_id"]
        assert (0 < ttl <= 86400) if expected_ttl else ttl == -1, (oid, o["status"], ttl)
        seen.add((closed, bool(o["client_order_id"])))
    assert (True, False) in seen and (False, False) in seen


def test_status_lists_the_stack_processes(tmp_path: Path) -> None:
    """stack.json written by `exchange up` is read back with each process marked running or not."""
    (tmp_path / "stack.json").write_text(
        json.dumps(
            {
                "api_url": "http://127.0.0.1:1",
                "supervisor_pid": os.getpid(),
                "redis_pid": 2**22 + 7,
                "postgres_pid": None,
                "pids": {"worker-1": os.getpid()},
            }
        )
    )
    stack = cli.stack_processes(tmp_path)
    assert stack is not None and stack["api_url"] == "http://127.0.0.1:1"
    assert stack["processes"]["supervisor"]["alive"] is True
    assert stack["processes"]["worker-1"]["alive"] is True
    assert stack["processes"]["redis"]["alive"] is False
    assert "postgres" not in stack["processes"]
    assert cli.stack_processes(tmp_path / "nothing-here") is None


class _Rounds:
    """A stand-in Persister that counts rounds, each persisting `per_round` events."""

    batch_size = 100

    def __init__(self, per_round: int) -> None:
        self.per_round = per_round
        self.rounds = 0
        self.closed_ttl_s: int | None = None

    def __enter__(self) -> _Rounds:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def persist_round(self) -> tuple[int, int]:
        self.rounds += 1
        return self.per_round, 0


@pytest.mark.parametrize(("per_round", "at_most", "at_least"), [(5, 8, 3), (100, None, 30)])
def test_persist_job_paces_rounds_while_events_trickle_but_not_while_batches_fill(
    monkeypatch, per_round, at_most, at_least
):
    """round_s = 0.1 over 0.5 s: rounds that persist a few events start at most every 0.1 s (so the next
    one gathers a batch); rounds that fill a batch run back to back (persistence keeps up with a burst)."""
    from workers import jobs

    fake = _Rounds(per_round)
    monkeypatch.setattr(jobs.Persister, "connect", classmethod(lambda cls, *a, **k: fake))
    with jobs.running_on(jobs.JobStack("redis://unused", "postgresql://unused")):
        total = jobs.persist_job(run_seconds=0.5, round_s=0.1)
    assert total == fake.rounds * per_round
    if at_most is not None:
        assert at_least <= fake.rounds <= at_most
    else:
        assert fake.rounds >= at_least


def test_a_redis_that_times_out_is_an_outage_for_the_persist_job_not_a_failure(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A Redis read timeout (a stalled Redis) is handled like an unreachable one: a WARNING and a retry
    after 1 s, not an ERROR with a traceback and 5 s of extra lag (a restart QA pass)."""
    import redis as redis_lib

    from workers import jobs

    def stalled(cls: object, *args: object, **kwargs: object) -> object:
        raise redis_lib.TimeoutError("Timeout reading from socket")

    pauses: list[float] = []
    monkeypatch.setattr(jobs.Persister, "connect", classmethod(stalled))
    stack = jobs.JobStack("redis://unused", "postgresql://unused")
    monkeypatch.setattr(stack.stopping, "wait", lambda seconds: pauses.append(seconds))
    with caplog.at_level("WARNING", logger="exchange.jobs"), jobs.running_on(stack):
        assert jobs.persist_job(run_seconds=0.1) == 0
    assert pauses == [1.0]
    assert [r.levelname for r in caplog.records if r.name == "exchange.jobs"] == ["WARNING"]


def test_status_counts_only_the_workers_that_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker killed without its clean exit stays in RQ's registry for minutes: `exchange status` counts
    a worker of this host only while its pid runs (it said "workers: 4" after three kill -9s)."""
    import socket
    from types import SimpleNamespace

    here = socket.gethostname()
    dead_pid = 2**22 + 12345  # above any pid this machine hands out
    workers = [
        SimpleNamespace(hostname=here, pid=os.getpid()),
        SimpleNamespace(hostname=here, pid=dead_pid),
        SimpleNamespace(hostname="elsewhere", pid=dead_pid),
    ]
    assert cli._live(workers) == [workers[0], workers[2]]
