"""Reconciliation: `--clear` puts back only what it froze, a regressed stream and a negative balance are
differences."""

from __future__ import annotations

import psycopg
import redis

from tests.persistence.flow import setup_engine
from tests.persistence.redis_loss import lose_market_writes, lose_wallet_writes
from workers.persist import drain
from workers.reconcile import RECONCILE_FROZEN_PREVIOUS_KEY, Report, clear_markets, reconcile


def status(client: redis.Redis, symbol: str) -> str:
    return str(client.hget(f"market:{symbol}", "status"))


def reconcile_a_pq_difference(client: redis.Redis, pg_url: str, preset: tuple[str, str]) -> Report:
    """Market `preset[0]` set by an operator to `preset[1]`, then a PQ deposit and one PQ minor unit too many
    in Redis: reconcile (freezing) finds the difference, which touches both PQ markets."""
    engine = setup_engine(client)
    engine.set_market_status(*preset, ts_ms=1)
    engine.deposit(1, "PQ", 100, "d1", ts_ms=2)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        client.hincrby("balance:1", "PQ:available", 1)
        return reconcile(client, conn)


def test_clear_restores_the_status_reconcile_found_and_never_reopens_an_operator_halted_market(
    client: redis.Redis, pg_url: str
) -> None:
    """A PQ balance difference hits both PQ markets: the halted PA-PQ is left halted and not recorded,
    the trading PB-PQ is switched and recorded with its previous status; --clear on both reopens PB-PQ
    only."""
    report = reconcile_a_pq_difference(client, pg_url, ("PA-PQ", "halted"))
    assert not report.ok
    assert report.frozen_markets == ["PB-PQ"]
    assert client.smembers("reconcile:frozen") == {"PB-PQ"}
    assert client.hgetall(RECONCILE_FROZEN_PREVIOUS_KEY) == {"PB-PQ": "trading"}
    assert (status(client, "PA-PQ"), status(client, "PB-PQ")) == ("halted", "cancel_only")

    client.hincrby("balance:1", "PQ:available", -1)
    assert clear_markets(client, ["PA-PQ", "PB-PQ"]) == ["PB-PQ"]
    assert (status(client, "PA-PQ"), status(client, "PB-PQ")) == ("halted", "trading")
    assert client.smembers("reconcile:frozen") == set()
    assert client.hgetall(RECONCILE_FROZEN_PREVIOUS_KEY) == {}


def test_reconcile_does_not_record_a_market_the_operator_set_to_cancel_only(
    client: redis.Redis, pg_url: str
) -> None:
    """An operator's cancel_only market is not reconciliation's to clear: it stays cancel_only."""
    report = reconcile_a_pq_difference(client, pg_url, ("PB-PQ", "cancel_only"))
    assert report.frozen_markets == ["PA-PQ"]
    assert clear_markets(client, ["PB-PQ"]) == []
    assert status(client, "PB-PQ") == "cancel_only"
    assert clear_markets(client, ["PA-PQ"]) == ["PA-PQ"]
    assert status(client, "PA-PQ") == "trading"


def test_clear_forgets_but_does_not_reopen_a_market_halted_after_the_freeze(
    client: redis.Redis, pg_url: str
) -> None:
    """Reconcile froze PB-PQ, then an operator halted it: --clear forgets it and leaves it halted."""
    engine = setup_engine(client)
    engine.deposit(1, "PB", 100, "d1", ts_ms=1)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        client.hincrby("balance:1", "PB:available", 1)
        assert reconcile(client, conn).frozen_markets == ["PB-PQ"]
    engine.set_market_status("PB-PQ", "halted", ts_ms=2)
    assert clear_markets(client, ["PB-PQ"]) == []
    assert status(client, "PB-PQ") == "halted"
    assert client.smembers("reconcile:frozen") == set()
    assert client.hgetall(RECONCILE_FROZEN_PREVIOUS_KEY) == {}


def test_clear_of_an_entry_written_before_previous_statuses_were_recorded_goes_back_to_trading(
    client: redis.Redis,
) -> None:
    """Backward compatibility: a set member without a recorded status (older versions only ever froze
    trading markets) is put back to trading, as before."""
    engine = setup_engine(client)
    engine.set_market_status("PA-PQ", "cancel_only", ts_ms=1)
    client.sadd("reconcile:frozen", "PA-PQ")
    assert clear_markets(client, ["PA-PQ"]) == ["PA-PQ"]
    assert status(client, "PA-PQ") == "trading"
    assert clear_markets(client, ["PA-PQ"]) == []


def test_a_wallet_stream_behind_its_persisted_cursor_is_a_regressed_difference_that_freezes_every_market(
    client: redis.Redis, redis_url: str, pg_url: str
) -> None:
    """Redis lost two persisted deposits: the wallet head (1) is behind the cursor (3). Reconcile does not
    count that as caught up: it reports the stream, cursor and head, and every market goes cancel_only."""
    engine = setup_engine(client)
    lose_wallet_writes(engine, redis_url, pg_url)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        report = reconcile(client, conn)
        assert conn.execute("SELECT count(*) FROM wallet_ops").fetchone() == (3,)
    assert not report.ok
    assert report.differences == [{"kind": "regressed", "stream": "events:wallet", "cursor": 3, "head": 1}]
    assert report.frozen_markets == ["PA-PQ", "PB-PQ"]
    assert (status(client, "PA-PQ"), status(client, "PB-PQ")) == ("cancel_only", "cancel_only")


def test_a_market_stream_behind_its_persisted_cursor_is_regressed_and_freezes_that_market(
    client: redis.Redis, redis_url: str, pg_url: str
) -> None:
    """Only the regressed market's stream is named and only that market is frozen."""
    engine = setup_engine(client)
    lose_market_writes(engine, redis_url, pg_url)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        report = reconcile(client, conn)
    assert report.differences == [{"kind": "regressed", "stream": "events:PA-PQ", "cursor": 2, "head": 0}]
    assert report.frozen_markets == ["PA-PQ"]
    assert (status(client, "PA-PQ"), status(client, "PB-PQ")) == ("cancel_only", "trading")


def test_a_regressed_stream_whose_head_passed_the_cursor_again_is_reported_not_raised(
    client: redis.Redis, redis_url: str, pg_url: str
) -> None:
    """After the loss, new deposits reused the lost seqs and the head passed the cursor: the persister
    refuses the stream, and reconcile reports that as a regressed difference (exit 1), not a crash."""
    engine = setup_engine(client)
    lose_wallet_writes(engine, redis_url, pg_url)
    for i, ts in enumerate((4_000, 5_000, 6_000), start=1):
        engine.deposit(2, "PQ", 7, f"b{i}", ts_ms=ts)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        report = reconcile(client, conn, freeze=False)
    assert not report.ok
    assert [(d["kind"], d["stream"], d["cursor"], d["head"]) for d in report.differences] == [
        ("regressed", "events:wallet", 3, 4)
    ]
    assert report.frozen_markets == []


def test_negative_balances_agreeing_in_redis_and_the_ledger_are_still_differences(
    client: redis.Redis, redis_url: str, pg_url: str
) -> None:
    """Account 1 at -50 PQ available and account 2 at -5 PQ held, with the other side compensating so
    every balance, total and supply agrees: the money invariant alone reports both sides of both."""
    engine = setup_engine(client)
    engine.deposit(1, "PQ", 100, "d1", ts_ms=1_000)
    engine.deposit(2, "PQ", 100, "d2", ts_ms=1_001)
    drain(redis_url, pg_url)
    moves = ((1, -150, 0), (2, 155, -5))  # sums to zero: totals and supply unchanged
    with psycopg.connect(pg_url, autocommit=True) as conn:
        for idx, (account, da, dh) in enumerate(moves, start=10):
            conn.execute(
                "INSERT INTO ledger (stream, seq, idx, account, asset, delta_available, delta_held, kind,"
                " ts_ms) VALUES ('events:wallet', 1, %s, %s, 'PQ', %s, %s, 'trade', 1000)",
                (idx, account, da, dh),
            )
            client.hincrby(f"balance:{account}", "PQ:available", da)
            client.hincrby(f"balance:{account}", "PQ:held", dh)
        report = reconcile(client, conn)
    assert not report.ok
    assert report.differences == [
        {"kind": "negative", "source": src, "account": acct, "asset": "PQ", "available": a, "held": h}
        for src in ("redis", "ledger")
        for acct, a, h in ((1, -50, 0), (2, 255, -5))
    ]
    assert report.frozen_markets == ["PA-PQ", "PB-PQ"]
