"""RQ jobs and the scheduler loop of `exchange worker`.

- `persist_job`: persists batches (every stream) for up to `run_seconds`, then returns. When caught up it
  polls every `idle_s`; while events trickle in, a round starts at most every `round_s` (unless the last
  one filled a batch), so a busy market is written a round's worth of events at a time, not a few events
  per transaction (CPU per order at a steady 1,000 orders/s: worker 0.44 ms and PostgreSQL 0.32 ms back to
  back, 0.22 and 0.18 ms with 50 ms rounds). Exactly-once comes from `workers.persist` (one transaction
  per batch with the cursor, per-stream row locks), so RQ's at-least-once delivery, a job run twice, or a
  worker killed mid-batch changes nothing.
- `reconcile_job`: one `workers.reconcile.reconcile` run.
- `purge_sessions_job`: deletes expired refresh tokens and long-dead login sessions
  (`exchange.api.accounts.purge_sessions`).
- `Scheduler`: a thread in each `exchange worker` process that keeps one persist job waiting in the queue
  (so an idle worker picks the next one at once; a killed worker's job is simply replaced) and enqueues a
  reconcile job every `reconcile_interval_s` and a purge job every `purge_interval_s` (a Redis `SET NX EX`
  makes each once per interval across all workers). It also trims streams below the committed cursor.
- `JobWorker`: the RQ worker of `exchange worker`. Jobs carry no connection URLs: a job can outlive the
  run that queued it (the queue is in Redis, and so in its AOF: `exchange up` on the same data dir starts
  Redis and PostgreSQL on new ports), and URLs in it would point at servers that are gone, or by then
  another stack's. Each job works on the stack of the worker that runs it (`JobStack`, from the worker's
  own `--redis-url`/`--database-url`, environment or stack.json). Positional arguments are ignored, so the
  jobs an earlier version queued with `(redis_url, database_url)` run on the worker's stack too.
  A warm stop (the first SIGTERM or Ctrl-C) ends a running persist job within one pause (`idle_s`), so
  the worker exits before `exchange up` sends its second signal (a cold shutdown); one that comes anyway
  aborts the job (nothing uncommitted is kept: the next job redoes it) with a one-line warning.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, cast

import psycopg
import redis
from rq import Queue, SimpleWorker
from rq.job import Job

from workers.events import WALLET_STREAM, stream_of
from workers.persist import DEFAULT_CLOSED_TTL_S, Persister, redis_cursor_key

log = logging.getLogger("exchange.jobs")

QUEUE_NAME = "exchange"
PERSIST_SCHEDULE_LOCK = "persist:sched:persist"
RECONCILE_SCHEDULE_LOCK = "persist:sched:reconcile"
PURGE_SCHEDULE_LOCK = "persist:sched:purge"
DEFAULT_RETAIN = 100_000
MIN_CLOSED_TTL_S = 86400


@dataclass(frozen=True)
class JobStack:
    """The servers a worker's jobs work on, and the worker's stop request (set on a warm stop)."""

    redis_url: str
    database_url: str
    stopping: threading.Event = field(default_factory=threading.Event, compare=False)


_STACK: ContextVar[JobStack | None] = ContextVar("exchange_job_stack", default=None)


@contextlib.contextmanager
def running_on(stack: JobStack) -> Iterator[JobStack]:
    """Jobs called inside this block work on `stack` (what `JobWorker` does around each job; tests and
    benchmarks call jobs directly)."""
    token = _STACK.set(stack)
    try:
        yield stack
    finally:
        _STACK.reset(token)


def job_stack() -> JobStack:
    """The stack of the worker running the current job; outside a `JobWorker` (e.g. `rq worker`), the one
    `exchange worker` would find without options: the environment, else stack.json."""
    stack = _STACK.get()
    if stack is not None:
        return stack
    from workers.cli import resolve_urls

    redis_url, database_url = resolve_urls(argparse.Namespace())
    return JobStack(redis_url, database_url)


def _ignore_urls(job: str, stale: tuple[object, ...]) -> None:
    if stale:  # queued by an earlier version, maybe by another run: its URLs are not this stack's
        log.info("%s job: ignoring the %d connection arguments it was queued with", job, len(stale))


class JobWorker(SimpleWorker):
    """The RQ worker of `exchange worker`: runs each job on its own stack (`JobStack`), whatever process
    queued it and whenever (see the module docstring)."""

    def __init__(self, queues: Any, *, redis_url: str, database_url: str, **kwargs: Any) -> None:
        super().__init__(queues, **kwargs)
        self.stack = JobStack(redis_url, database_url)

    def execute_job(self, job: Job, queue: Queue) -> Any:
        with running_on(self.stack):
            return super().execute_job(job, queue)

    def request_stop(self, signum: int, frame: FrameType | None) -> None:
        self.stack.stopping.set()  # a running persist job returns at its next pause
        super().request_stop(signum, frame)

    def handle_exception(self, job: Job, *exc_info: Any) -> None:
        if len(exc_info) > 1 and isinstance(exc_info[1], SystemExit):
            # a cold shutdown (a second signal while a job ran) raises SystemExit inside the job: expected,
            # and harmless (persistence commits whole batches; the next job redoes this one)
            self.log.warning("job %s (%s) stopped by a cold shutdown", job.id, job.func_name)
            return
        super().handle_exception(job, *exc_info)


def persist_job(
    *stale: object,
    run_seconds: float = 5.0,
    idle_s: float = 0.05,
    closed_ttl_s: int | None = DEFAULT_CLOSED_TTL_S,
    round_s: float = 0.05,
) -> int:
    """Persist for up to `run_seconds` on the worker's stack (`job_stack`), or until the worker is asked to
    stop; returns the number of events persisted. Positional arguments (the URLs of jobs queued by an
    earlier version) are ignored."""
    _ignore_urls("persist", stale)
    stack = job_stack()
    pause = stack.stopping.wait  # time.sleep that a warm stop cuts short
    total = 0
    deadline = time.monotonic() + run_seconds
    try:
        with Persister.connect(stack.redis_url, stack.database_url) as p:
            p.closed_ttl_s = closed_ttl_s
            while time.monotonic() < deadline and not stack.stopping.is_set():
                started = time.monotonic()
                n, _skipped = p.persist_round()
                total += n
                if n == 0:
                    pause(idle_s)
                elif n < p.batch_size:  # no stream was left behind: let the next round gather a batch
                    pause(max(0.0, started + round_s - time.monotonic()))
    except (psycopg.OperationalError, redis.ConnectionError, redis.TimeoutError) as exc:
        # PostgreSQL (or Redis) unreachable or stalled: nothing was committed for the failed batch; the next
        # job retries.
        # Returning (not raising) keeps a long outage from filling RQ's failed-job registry.
        log.warning("persist job: %s unavailable (%s); retrying shortly", type(exc).__module__, exc)
        pause(1.0)
    except Exception:
        # e.g. a gap in a stream (EventError): nothing was committed; persistence stalls visibly (lag,
        # `exchange status`) instead of failing a job every tick
        log.exception("persist job failed; retrying in 5 s")
        pause(5.0)
    return total


def reconcile_job(*stale: object, closed_ttl_s: int | None = DEFAULT_CLOSED_TTL_S) -> dict[str, Any]:
    """One reconciliation on the worker's stack (positional arguments ignored, as by `persist_job`)."""
    from workers.reconcile import reconcile_urls

    _ignore_urls("reconcile", stale)
    stack = job_stack()
    return reconcile_urls(stack.redis_url, stack.database_url, closed_ttl_s=closed_ttl_s).to_dict()


def purge_sessions_job(*stale: object) -> dict[str, int]:
    """The session purge on the worker's database (positional arguments ignored, as by `persist_job`)."""
    from exchange.api.accounts import purge_sessions

    _ignore_urls("purge_sessions", stale)
    with psycopg.connect(job_stack().database_url) as conn:
        tokens, sessions = purge_sessions(conn)
    if tokens or sessions:
        log.info("purged %d expired refresh tokens and %d old sessions", tokens, sessions)
    return {"refresh_tokens": tokens, "sessions": sessions}


def trim_streams(
    client: redis.Redis, retain: int = DEFAULT_RETAIN, approximate: bool = True
) -> dict[str, int]:
    """XTRIM MINID each stream so that at most `retain` persisted entries stay below the committed cursor,
    and always the last persisted one (the persister checks that it is still the entry it persisted).

    The cursor read is `persist:cursor:{stream}`, written only after the PostgreSQL commit, so nothing
    unpersisted is ever trimmed. Approximate trimming (`~`) only ever removes less.
    """
    symbols = sorted(str(s) for s in cast(set[Any], client.smembers("markets")))
    streams = [WALLET_STREAM, *(stream_of(s) for s in symbols)]
    cursors = client.mget([redis_cursor_key(s) for s in streams])
    trimmed: dict[str, int] = {}
    for stream, raw in zip(streams, cast(list[Any], cursors), strict=True):
        if raw is None:
            continue
        min_seq = int(raw) - max(retain, 1) + 1
        if min_seq > 1:
            trimmed[stream] = int(
                cast(int, client.xtrim(stream, minid=f"{min_seq}-0", approximate=approximate))
            )
    return trimmed


class Scheduler(threading.Thread):
    """Keeps the persistence pipeline fed; one per `exchange worker` process (daemon thread)."""

    def __init__(
        self,
        redis_url: str,
        database_url: str,
        *,
        tick_s: float = 0.2,
        reconcile_interval_s: float = 60.0,
        purge_interval_s: float = 3600.0,
        retain: int | None = DEFAULT_RETAIN,
        trim_interval_s: float = 10.0,
        run_seconds: float = 5.0,
        closed_ttl_s: int | None = DEFAULT_CLOSED_TTL_S,
        round_s: float = 0.05,
    ) -> None:
        super().__init__(name="exchange-scheduler", daemon=True)
        self.round_s = round_s
        self.redis_url, self.database_url = redis_url, database_url
        self.tick_s = tick_s
        self.reconcile_interval_s = reconcile_interval_s
        self.purge_interval_s = purge_interval_s
        self.retain = retain
        self.trim_interval_s = trim_interval_s
        self.run_seconds = run_seconds
        self.closed_ttl_s = closed_ttl_s
        self.stop_event = threading.Event()
        self.rq_redis = redis.Redis.from_url(redis_url, decode_responses=False, protocol=2)
        self.client = redis.Redis.from_url(redis_url, decode_responses=True, protocol=2)
        self.queue = Queue(QUEUE_NAME, connection=self.rq_redis)

    def tick(self) -> None:
        """One scheduling step (public for tests)."""
        if self.queue.count == 0 and self.client.set(PERSIST_SCHEDULE_LOCK, "1", nx=True, px=500):
            self.queue.enqueue(
                persist_job,
                run_seconds=self.run_seconds,
                closed_ttl_s=self.closed_ttl_s,
                round_s=self.round_s,
                job_id=f"persist-{uuid.uuid4().hex[:12]}",
                result_ttl=0,
                failure_ttl=3600,
                job_timeout=max(60, int(self.run_seconds * 10)),
            )
        if self.reconcile_interval_s > 0 and self.client.set(
            RECONCILE_SCHEDULE_LOCK, "1", nx=True, ex=max(1, int(self.reconcile_interval_s))
        ):
            self.queue.enqueue(
                reconcile_job,
                closed_ttl_s=self.closed_ttl_s,
                result_ttl=600,
                failure_ttl=86400,
                job_timeout=600,
            )
        if self.purge_interval_s > 0 and self.client.set(
            PURGE_SCHEDULE_LOCK, "1", nx=True, ex=max(1, int(self.purge_interval_s))
        ):
            self.queue.enqueue(purge_sessions_job, result_ttl=600, failure_ttl=86400, job_timeout=600)

    def run(self) -> None:
        next_trim = time.monotonic() + self.trim_interval_s
        while not self.stop_event.is_set():
            try:
                self.tick()
                if self.retain is not None and time.monotonic() >= next_trim:
                    next_trim = time.monotonic() + self.trim_interval_s
                    trim_streams(self.client, self.retain)
            except redis.RedisError:
                log.warning("scheduler: Redis unavailable", exc_info=True)
                self.stop_event.wait(1.0)
            self.stop_event.wait(self.tick_s)

    def stop(self) -> None:
        self.stop_event.set()
