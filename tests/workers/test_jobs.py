"""RQ jobs carry no connection URLs: each runs on the stack of the worker that runs it (finding #4 of the
QA pass: after `exchange up` restarted on the same data dir, the first persist job, left in Redis' AOF by the
previous run, connected to that run's ports)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator

import psycopg
import pytest
import redis
from rq import Queue
from rq.job import Job

from tests.persistence.flow import Flow, settled_flow
from tests.persistence.streams import assert_pg_equals_streams
from workers import jobs
from workers.jobs import QUEUE_NAME, JobStack, JobWorker, Scheduler

# the servers a previous run had: ports where nothing listens now (or, worse, another stack's servers)
STALE_REDIS = "redis://127.0.0.1:9/0"
STALE_DB = "postgresql://postgres@127.0.0.1:9/exchange"


@pytest.fixture
def rq_conn(redis_url: str) -> Iterator[redis.Redis]:
    c = redis.Redis.from_url(redis_url, decode_responses=False, protocol=2)
    yield c
    c.close()


@pytest.fixture
def flow(redis_client: redis.Redis) -> Flow:
    return settled_flow(redis_client, seed=5, commands=80)


def test_queued_jobs_carry_no_connection_urls(redis_url: str, rq_conn: redis.Redis) -> None:
    """What the scheduler queues names no server: not the URLs it was built with, in any argument."""
    sched = Scheduler(redis_url, STALE_DB, run_seconds=0.2, reconcile_interval_s=60, retain=None)
    sched.tick()
    queued = Queue(QUEUE_NAME, connection=rq_conn).get_jobs()
    assert [j.func_name.rsplit(".", 1)[-1] for j in queued] == [
        "persist_job",
        "reconcile_job",
        "purge_sessions_job",
    ]
    for job in queued:
        arguments = repr((job.args, job.kwargs))
        assert job.args == () and "redis://" not in arguments and "postgresql://" not in arguments, arguments


def test_a_job_queued_by_a_previous_run_runs_on_the_workers_own_stack(
    redis_client: redis.Redis, rq_conn: redis.Redis, flow: Flow, redis_url: str, pg_url: str
) -> None:
    """A persist job queued (as an earlier version did) with the previous run's URLs, next to the jobs this
    version queues, is run by a worker configured with other URLs: every job uses the worker's, so the
    events reach this stack's PostgreSQL and nothing tries the stale ports."""
    queue = Queue(QUEUE_NAME, connection=rq_conn)
    queue.enqueue(
        "workers.jobs.persist_job", STALE_REDIS, STALE_DB, run_seconds=0.3, closed_ttl_s=None, round_s=0.05
    )
    queue.enqueue("workers.jobs.reconcile_job", STALE_REDIS, STALE_DB, closed_ttl_s=None)
    queue.enqueue("workers.jobs.purge_sessions_job", STALE_DB)
    worker = JobWorker([queue], connection=rq_conn, redis_url=redis_url, database_url=pg_url)
    worker.work(burst=True)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        assert_pg_equals_streams(redis_client, conn)
    assert queue.failed_job_registry.count == 0
    assert int(redis_client.get("reconcile:runs_total") or 0) == 1


class _Rounds:
    """A stand-in Persister whose rounds find nothing to persist (the job pauses `idle_s` each time)."""

    batch_size = 100
    closed_ttl_s: int | None = None

    def __enter__(self) -> _Rounds:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def persist_round(self) -> tuple[int, int]:
        return 0, 0


def test_a_warm_stop_ends_a_running_persist_job_within_a_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker's stop request (first SIGTERM) ends a 30 s persist job at its next pause, so the worker
    exits before a second signal would make it a cold shutdown."""
    monkeypatch.setattr(jobs.Persister, "connect", classmethod(lambda cls, *a, **k: _Rounds()))
    stack = JobStack("redis://unused", "postgresql://unused")
    threading.Timer(0.2, stack.stopping.set).start()
    started = time.monotonic()
    with jobs.running_on(stack):
        jobs.persist_job(run_seconds=30.0, idle_s=0.05)
    assert time.monotonic() - started < 2.0


def test_a_cold_shutdown_inside_a_job_is_one_warning_line_not_a_traceback(
    rq_conn: redis.Redis, redis_url: str, pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The SystemExit RQ raises inside a job on a cold shutdown is logged as one warning; any other
    exception keeps RQ's error with its traceback."""
    worker = JobWorker([QUEUE_NAME], connection=rq_conn, redis_url=redis_url, database_url=pg_url)
    job = Job.create("workers.jobs.persist_job", connection=rq_conn)
    caplog.set_level(logging.WARNING)
    try:
        raise SystemExit()
    except SystemExit as exc:
        worker.handle_exception(job, SystemExit, exc, exc.__traceback__)
    assert "cold shutdown" in caplog.text and "Traceback" not in caplog.text
    caplog.clear()
    try:
        raise ValueError("boom")
    except ValueError as exc:
        worker.handle_exception(job, ValueError, exc, exc.__traceback__)
    assert "Traceback" in caplog.text and "boom" in caplog.text
