"""Restore: never writes a negative balance or hold, and brings closed orders back only as live Redis would
still hold them (within the workers' closed-order TTL, with what is left of it)."""

from __future__ import annotations

import argparse
from typing import Any

import psycopg
import pytest
import redis

from exchange.engine.state import state_snapshot
from tests.persistence.flow import Flow, setup_engine
from workers import cli
from workers.persist import DEFAULT_CLOSED_TTL_S, Persister, drain
from workers.reconcile import clear_markets, freeze_markets
from workers.restore import NegativeBalanceError, RestoreError, restore

DAY_MS = 86_400_000


def add_ledger_line(conn: psycopg.Connection, idx: int, account: int, da: int, dh: int) -> None:
    conn.execute(
        "INSERT INTO ledger (stream, seq, idx, account, asset, delta_available, delta_held, kind, ts_ms)"
        " VALUES ('events:wallet', 1, %s, %s, 'PQ', %s, %s, 'trade', 1000)",
        (idx, account, da, dh),
    )


def test_restore_refuses_a_ledger_with_a_negative_balance_and_leaves_redis_untouched(
    client: redis.Redis, redis_url: str, pg_url: str
) -> None:
    """Ledger sums with account 1 at -50 available and account 2 at -5 held: RestoreError naming both
    (account, asset, amounts), raised before the FLUSHDB of --force."""
    engine = setup_engine(client)
    engine.deposit(1, "PQ", 100, "d1", ts_ms=1_000)
    engine.deposit(2, "PQ", 100, "d2", ts_ms=1_001)
    drain(redis_url, pg_url)
    before = state_snapshot(client)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        add_ledger_line(conn, 10, 1, -150, 0)
        add_ledger_line(conn, 11, 2, 155, -5)
        with pytest.raises(NegativeBalanceError) as raised:
            restore(client, conn, force=True)
    message = str(raised.value)
    assert "account 1 asset PQ available -50 held 0" in message
    assert "account 2 asset PQ available 255 held -5" in message
    assert isinstance(raised.value, RestoreError)  # what `exchange restore` turns into a message
    assert state_snapshot(client) == before


def test_restore_command_exits_non_zero_naming_the_negative_balance(
    client: redis.Redis, redis_url: str, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`exchange restore --force` on such a ledger: exit 2, the account/asset/amount on stderr."""
    engine = setup_engine(client)
    engine.deposit(1, "PQ", 100, "d1", ts_ms=1_000)
    drain(redis_url, pg_url)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        add_ledger_line(conn, 10, 1, -101, 0)
    args = argparse.Namespace(
        data_dir=None, redis_url=redis_url, database_url=pg_url, force=True, open_orders_only=False
    )
    assert cli.run_restore(args) == 2
    err = capsys.readouterr().err
    assert "negative" in err and "account 1 asset PQ available -1 held 0" in err
    assert client.hget("balance:1", "PQ:available") == "100"


def test_restore_skips_closed_orders_older_than_the_ttl_and_expires_the_others_for_the_rest_of_it(
    client: redis.Redis, redis_url: str, pg_url: str
) -> None:
    """With a one-day TTL and the engine's clock at day 10: an order closed on day 1 is not restored, one
    closed an hour ago comes back expiring in ~23 h; an old closed order with a client_order_id and an
    open order come back without a TTL (the engine's retry check and the book need them)."""
    engine = setup_engine(client)
    now = 10 * DAY_MS
    engine.deposit(1, "PQ", 10_000, "fund", ts_ms=DAY_MS - 10)
    old = engine.place(1, "PA-PQ", "buy", "limit", price=5, qty=1, ts_ms=DAY_MS - 5)["order"]["id"]
    old_coid = engine.place(
        1, "PA-PQ", "buy", "limit", price=5, qty=1, client_order_id="keep", ts_ms=DAY_MS - 4
    )["order"]["id"]
    engine.cancel(1, old, ts_ms=DAY_MS)
    engine.cancel(1, old_coid, ts_ms=DAY_MS)
    recent = engine.place(1, "PA-PQ", "buy", "limit", price=6, qty=1, ts_ms=now - 3_700_000)["order"]["id"]
    engine.cancel(1, recent, ts_ms=now - 3_600_000)
    resting = engine.place(1, "PA-PQ", "buy", "limit", price=7, qty=1, ts_ms=now)["order"]["id"]
    drain(redis_url, pg_url)
    client.flushdb()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        restore(client, conn, closed_ttl_s=86_400)
    assert client.exists(f"order:{old}") == 0
    assert 86_400 - 3_600 - 5 <= client.ttl(f"order:{recent}") <= 86_400 - 3_600
    assert client.ttl(f"order:{old_coid}") == -1
    assert client.ttl(f"order:{resting}") == -1
    assert client.hget("coid:1", "keep") == str(old_coid)


def test_restore_with_the_workers_ttl_equals_the_live_state_including_which_keys_expire(
    client: redis.Redis, redis_url: str, pg_url: str
) -> None:
    """Persisted by a worker with the default TTL: the restored state equals the live one (plus the
    persister's restore markers), exactly the keys that expire live (closed orders without a
    client_order_id) expire after restore, within the TTL, and persistence continues."""
    flow = Flow(setup_engine(client), seed=7)
    flow.fund()
    flow.run(150)
    flow.settle_statuses()
    with Persister.connect(redis_url, pg_url) as p:
        p.closed_ttl_s = DEFAULT_CLOSED_TTL_S
        p.drain()
    live = state_snapshot(client, include_streams=False)
    live_expiring = {k for k in live if client.ttl(k) > 0}
    assert any(k.startswith("order:") for k in live_expiring)
    cursors = {k: v for k, v in live.items() if k.startswith("persist:cursor:")}
    client.flushdb()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        restore(client, conn)
    after = state_snapshot(client, include_streams=False)
    # the persister's marker (not part of a snapshot without streams): these streams restart after their
    # cursor (their last entry is not lost)
    markers = {k: ["string", client.get(k)] for k in client.scan_iter("persist:restored:*")}
    assert markers == {k.replace("persist:cursor:", "persist:restored:"): v for k, v in cursors.items()}
    assert after == live
    ttls = {k: client.ttl(k) for k in live}
    assert {k for k, t in ttls.items() if t > 0} == live_expiring
    assert all(t <= DEFAULT_CLOSED_TTL_S for t in ttls.values())
    flow.run(50)
    assert drain(redis_url, pg_url) > 0  # persistence goes on after the restore


def test_a_forced_restore_keeps_what_reconciliation_froze_so_clear_still_reopens_it(
    client: redis.Redis, redis_url: str, pg_url: str
) -> None:
    """Reconciliation froze PA-PQ (persisted) and PB-PQ (its freeze event lost with its regressed stream, so
    PostgreSQL has it trading): after `restore --force` both are cancel_only, `reconcile:*` (frozen set,
    previous statuses, counters) is as it was, and `--clear` puts both back to trading."""
    engine = setup_engine(client)
    engine.deposit(1, "PQ", 100, "d1", ts_ms=1_000)
    freeze_markets(client, ["PA-PQ"])
    drain(redis_url, pg_url)
    freeze_markets(client, ["PB-PQ"])  # not persisted: lost with Redis's writes
    client.set("reconcile:runs_total", 7)

    def reconcile_keys() -> dict[str, Any]:
        return {
            "frozen": client.smembers("reconcile:frozen"),
            "previous": client.hgetall("reconcile:frozen:previous"),
            "runs": client.get("reconcile:runs_total"),
            "keys": sorted(client.scan_iter(match="reconcile:*")),
        }

    kept = reconcile_keys()
    assert kept["frozen"] == {"PA-PQ", "PB-PQ"} and kept["runs"] == "7"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        restore(client, conn, force=True)
    assert reconcile_keys() == kept
    assert {sym: client.hget(f"market:{sym}", "status") for sym in ("PA-PQ", "PB-PQ")} == {
        "PA-PQ": "cancel_only",
        "PB-PQ": "cancel_only",
    }
    drain(redis_url, pg_url)  # PB-PQ's new freeze event is persisted like any other
    assert sorted(clear_markets(client, ["PA-PQ", "PB-PQ"])) == ["PA-PQ", "PB-PQ"]
    assert {client.hget(f"market:{sym}", "status") for sym in ("PA-PQ", "PB-PQ")} == {"trading"}


def test_a_restore_ends_every_access_token_issued_before_it(client: redis.Redis, pg_url: str) -> None:
    """`restore --force` (which flushes the revocation stream with the rest) writes one entry that ends every
    access token issued until then, of any account and session: a logged-out token stays refused, and after
    an older dump a token of an account created since cannot act as whoever gets its id next (QA passes).
    Tokens issued after it live; clients get them with refresh tokens, which PostgreSQL checks."""
    import time

    from exchange.api.revocation import STREAM, AccessClaims, Revocations

    setup_engine(client)
    client.xadd(STREAM, {"account": "7", "jti": "lone", "exp": "9999999999"})
    before_ms = int(time.time() * 1000)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        restore(client, conn, force=True)
    after_ms = int(time.time() * 1000) + 1
    view = Revocations(access_ttl_s=900)
    for _entry_id, fields in client.xrange(STREAM, "-", "+"):
        view.apply(fields)

    def revoked(account: int, iat_ms: int, sid: str = "s") -> bool:
        return view.revoked(AccessClaims(account, "j", iat_ms=iat_ms, exp=9_999_999_999, sid=sid))

    assert revoked(7, before_ms) and revoked(4, before_ms, sid="") and revoked(123_456, before_ms - 60_000)
    assert not revoked(7, after_ms) and not revoked(4, after_ms, sid="")
