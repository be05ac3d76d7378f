"""Exact comparison of PostgreSQL with the engine's event streams (shared by the persistence tests)."""

from __future__ import annotations

from typing import Any

import psycopg
import redis

from exchange.engine.codec import event_fields


def stream_names(client: redis.Redis) -> list[str]:
    return ["events:wallet", *(f"events:{s}" for s in sorted(client.smembers("markets")))]  # type: ignore[union-attr]


def assert_pg_equals_streams(client: redis.Redis, conn: psycopg.Connection[Any]) -> None:
    """Every stream entry is in PostgreSQL exactly once: same trade ids, same ledger lines (so the same
    per-asset sums), one wallet op per wallet event, contiguous cursors at the stream heads."""
    expected_ledger: set[tuple[Any, ...]] = set()
    expected_trades: set[tuple[Any, ...]] = set()
    expected_wallet: set[tuple[Any, ...]] = set()
    heads: dict[str, int] = {}
    for stream in stream_names(client):
        entries = client.xrange(stream)
        seqs = [int(eid.split("-")[0]) for eid, _ in entries]  # type: ignore[union-attr]
        assert seqs == list(range(1, len(seqs) + 1)), f"{stream} is not contiguous"
        heads[stream] = len(seqs)
        for eid, raw in entries:  # type: ignore[union-attr]
            f = event_fields(eid, raw)
            seq = int(eid.split("-")[0])
            for idx, line in enumerate(filter(None, f.get("ledger", "").split(";"))):
                acct, asset, da, dh = line.split(",")
                expected_ledger.add((stream, seq, idx, int(acct), asset, int(da), int(dh)))
            if f["type"] == "trade":
                expected_trades.add((int(f["trade_id"]), stream.split(":", 1)[1], seq, int(f["qty"])))
            if stream == "events:wallet":
                expected_wallet.add((seq, f["type"], int(f["account"]), f["asset"], int(f["amount"])))
    ledger = conn.execute(
        "SELECT stream, seq, idx, account, asset, delta_available, delta_held FROM ledger"
    ).fetchall()
    assert len(ledger) == len(set(ledger))
    assert set(ledger) == expected_ledger
    trades = conn.execute("SELECT trade_id, symbol, seq, qty_lots FROM trades").fetchall()
    assert len(trades) == len(expected_trades)
    assert set(trades) == expected_trades
    wallet = conn.execute("SELECT seq, type, account, asset, amount_minor FROM wallet_ops").fetchall()
    assert set(wallet) == expected_wallet and len(wallet) == len(expected_wallet)
    cursors = dict(conn.execute("SELECT stream, last_seq FROM stream_cursors").fetchall())
    assert {s: cursors.get(s, 0) for s in heads} == heads
    # per-asset sums of the ledger equal the live balances
    sums = dict(
        conn.execute("SELECT asset, sum(delta_available + delta_held) FROM ledger GROUP BY asset").fetchall()
    )
    live: dict[str, int] = {}
    for key in client.scan_iter("balance:*"):
        for field, value in client.hgetall(key).items():  # type: ignore[union-attr]
            asset = field.rsplit(":", 1)[0]
            live[asset] = live.get(asset, 0) + int(value)
    assert {a: int(v) for a, v in sums.items()} == live
