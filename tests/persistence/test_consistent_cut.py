"""Every persistence commit is a consistent cut of the engine's history: the streams are persisted together up
to one snapshot of all heads, or for a large backlog up to one engine call number, so PostgreSQL never holds a
withdrawal without the trade that paid it (a restore from it would rebuild a negative balance)."""

from __future__ import annotations

import psycopg
import pytest
import redis

import workers.persist as persist
from tests.persistence.flow import fail_batches_of, setup_engine
from workers.events import EventError
from workers.persist import Persister
from workers.reconcile import reconcile


def trade_then_withdraw_the_proceeds(client: redis.Redis) -> None:
    """Account 2 sells 2 PA at 5 to account 1, then withdraws the 10 PQ it got: the withdrawal (wallet
    stream) depends on the trade (PA-PQ stream), which depends on account 1's deposit (wallet stream)."""
    engine = setup_engine(client)
    engine.deposit(1, "PQ", 1_000, "d1", ts_ms=1_000)
    engine.deposit(2, "PA", 2, "d2", ts_ms=1_001)
    engine.place(2, "PA-PQ", "sell", "limit", price=5, qty=2, ts_ms=1_002)
    engine.place(1, "PA-PQ", "buy", "limit", price=5, qty=2, ts_ms=1_003)
    engine.withdraw(2, "PQ", 9, "w1", ts_ms=1_004)  # 10 PQ less the maker fee, rounded down: at least 9


def ledger_minimum(pg_url: str) -> int:
    """The lowest available or held sum of any (account, asset) in the ledger (0 when empty)."""
    with psycopg.connect(pg_url) as conn:
        row = conn.execute(
            "SELECT min(least(a, h)) FROM (SELECT sum(delta_available) AS a, sum(delta_held) AS h FROM ledger"
            " GROUP BY account, asset) AS sums"
        ).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def cursors(pg_url: str) -> dict[str, int]:
    with psycopg.connect(pg_url) as conn:
        return {str(s): int(v) for s, v in conn.execute("SELECT stream, last_seq FROM stream_cursors")}


def test_a_round_that_fails_on_one_stream_commits_none_of_them(
    redis_client: redis.Redis, redis_url: str, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The market stream's batch fails after the wallet stream's was written: nothing is committed (per
    stream, the withdrawal would have been, and the ledger would show account 2 at -9 PQ). Once the fault
    is gone, one round persists all of it, and the ledger never went negative."""
    trade_then_withdraw_the_proceeds(redis_client)
    undo = fail_batches_of(monkeypatch, "events:PA-PQ")
    with Persister.connect(redis_url, pg_url) as worker, pytest.raises(EventError, match="injected"):
        worker.persist_round()
    assert set(cursors(pg_url).values()) == {0}
    assert ledger_minimum(pg_url) == 0
    undo()
    events = int(redis_client.get("seq:wallet") or 0) + int(redis_client.hget("market:PA-PQ", "seq") or 0)
    with Persister.connect(redis_url, pg_url) as worker:
        assert worker.persist_round() == (events, 0)  # every stream in one commit
    assert ledger_minimum(pg_url) >= 0
    with psycopg.connect(pg_url, autocommit=True) as conn:
        assert reconcile(redis_client, conn, freeze=False).ok


def persisted_calls_form_a_cut(client: redis.Redis, pg_url: str) -> int:
    """The call numbers PostgreSQL holds are every call up to some n (no call persisted in one stream and
    missing from another, none half persisted): returns that n."""
    done = cursors(pg_url)
    persisted: set[int] = set()
    pending: set[int] = set()
    for stream, cursor in done.items():
        for eid, fields in client.xrange(stream):
            (persisted if int(eid.split("-")[0]) <= cursor else pending).add(int(fields["call"]))
    n = max(persisted, default=0)
    assert not pending & set(range(1, n + 1)), f"calls {sorted(pending & set(range(1, n + 1)))} split"
    return n


def test_a_backlog_above_the_cut_limit_is_caught_up_in_bounded_cuts(
    redis_client: redis.Redis, redis_url: str, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With more pending events than CUT_LIMIT (after an outage), each round reads at most CUT_SHARE entries
    of a stream (more only to hold one whole call) and commits the calls every stream holds in full: every
    commit is still a consistent cut (the ledger never negative, no call split), and the rounds get on to
    the heads."""
    trade_then_withdraw_the_proceeds(redis_client)
    monkeypatch.setattr(persist, "CUT_LIMIT", 4)
    monkeypatch.setattr(persist, "CUT_SHARE", 2)
    market_head = int(redis_client.hget("market:PA-PQ", "seq") or 0)
    heads = {"events:wallet": int(redis_client.get("seq:wallet") or 0), "events:PA-PQ": market_head}
    cuts = []
    with Persister.connect(redis_url, pg_url) as worker:
        for _ in range(20):
            n, skipped = worker.persist_round()
            assert skipped == 0 and n <= 2 * 2 + 4  # a share per stream (the buy's call: 4 events)
            assert ledger_minimum(pg_url) >= 0
            cuts.append(persisted_calls_form_a_cut(redis_client, pg_url))
            if cursors(pg_url) == {**heads, "events:PB-PQ": 0}:
                break
    assert cursors(pg_url) == {**heads, "events:PB-PQ": 0}
    assert len(cuts) > 2 and cuts == sorted(cuts) and cuts[-1] == int(redis_client.get("seq:call") or 0)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        assert reconcile(redis_client, conn, freeze=False).ok


def _entry(seq: int, call: int | None) -> tuple[str, dict[str, str]]:
    return f"{seq}-0", ({"type": "x"} if call is None else {"type": "x", "call": str(call)})


def test_bounded_cut_keeps_the_calls_every_cut_short_read_holds_whole() -> None:
    """A read stopped short of its head may end inside a call: the cut is the calls before the lowest such
    last call; reads that reached their heads keep only the calls up to it too."""
    reads = {
        "a": [_entry(1, 1), _entry(2, 3), _entry(3, 3)],  # short of head 5: call 3 may go on
        "b": [_entry(1, 2), _entry(2, 4), _entry(3, 6)],  # short of head 9: call 6 may go on
        "w": [_entry(1, 5)],  # at its head
    }
    cut = persist.bounded_cut(reads, {"a": 5, "b": 9, "w": 1})
    assert cut == {"a": [_entry(1, 1)], "b": [_entry(1, 2)], "w": []}
    assert persist.bounded_cut(reads, {"a": 3, "b": 3, "w": 1}) == reads  # every read at its head: all
    assert persist.bounded_cut({"a": [_entry(1, None)], "w": [_entry(1, 5)]}, {"a": 9, "w": 1}) is None
