"""Engine invariants, checked after every engine test (and callable by any other suite).

`assert_invariants(client)` runs every check below against a Redis database holding engine state
(client with decode_responses=True). Each check is also a function of its own.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import redis

OPEN = {"open", "partially_filled"}


def _orders(client: redis.Redis) -> dict[int, dict[str, Any]]:
    from exchange.engine.codec import parse_order_record

    out: dict[int, dict[str, Any]] = {}
    keys = [k for k in client.scan_iter(match="order:*", count=1000)]
    pipe = client.pipeline(transaction=False)
    for k in keys:
        pipe.get(k)
    for k, text in zip(keys, pipe.execute(), strict=True):
        oid = int(k.split(":", 1)[1])
        order = parse_order_record(oid, text)
        assert order is not None
        out[oid] = order
    return out


def _balances(client: redis.Redis) -> dict[tuple[int, str], tuple[int, int]]:
    out: dict[tuple[int, str], tuple[int, int]] = {}
    for key in client.scan_iter(match="balance:*", count=1000):
        account = int(key.split(":", 1)[1])
        flat = client.hgetall(key)
        assets = {f.rsplit(":", 1)[0] for f in flat}
        for a in assets:
            out[(account, a)] = (int(flat.get(f"{a}:available", 0)), int(flat.get(f"{a}:held", 0)))
    return out


def _stream(client: redis.Redis, key: str) -> list[tuple[str, dict[str, str]]]:
    from exchange.engine.codec import event_fields

    return [
        (eid, {**event_fields(eid, fields), "call": fields.get("call", "")})
        for eid, fields in client.xrange(key)
    ]


def check_conservation(client: redis.Redis) -> None:
    """Per asset: sum(available + held) over all accounts (fee account 0 too) == deposits - withdrawals ==
    the engine's supply counter."""
    net: dict[str, int] = defaultdict(int)
    for _eid, f in _stream(client, "events:wallet"):
        sign = 1 if f["type"] == "deposit" else -1
        assert f["type"] in ("deposit", "withdrawal"), f
        net[f["asset"]] += sign * int(f["amount"])
    total: dict[str, int] = defaultdict(int)
    for (_account, asset), (available, held) in _balances(client).items():
        total[asset] += available + held
    for asset in set(net) | set(total):
        assert total[asset] == net[asset], (
            f"{asset}: balances {total[asset]} != deposits - withdrawals {net[asset]}"
        )
    for asset in client.smembers("assets"):
        supply = client.hget(f"asset:{asset}", "supply")
        assert supply is not None and int(supply) == net[asset], (
            f"{asset}: supply counter {supply} != deposits - withdrawals {net[asset]}"
        )


def check_no_negative(client: redis.Redis) -> None:
    """No available or held balance is negative."""
    for (account, asset), (available, held) in _balances(client).items():
        assert available >= 0 and held >= 0, f"negative balance {account} {asset}: {available} {held}"


def check_holds(client: redis.Redis) -> None:
    """For every (account, asset): held == sum of the remaining hold of its open orders in that asset."""
    want: dict[tuple[int, str], int] = defaultdict(int)
    for o in _orders(client).values():
        if o["status"] in OPEN:
            want[(o["account"], o["hold_asset"])] += o["hold"]
        else:
            assert o["hold"] == 0, f"closed order {o['id']} still holds {o['hold']}"
    for (account, asset), (_available, held) in _balances(client).items():
        assert held == want.get((account, asset), 0), (
            f"held {account} {asset}: {held} != open holds {want.get((account, asset), 0)}"
        )
    for (account, asset), hold in want.items():
        assert _balances(client).get((account, asset), (0, 0))[1] == hold


def check_books(client: redis.Redis) -> None:
    """Books hold exactly the open orders (right market, side, price), are never crossed, levels match."""
    orders = _orders(client)
    open_orders = {oid: o for oid, o in orders.items() if o["status"] in OPEN}
    seen: set[int] = set()
    for symbol in client.smembers("markets"):
        best: dict[str, int | None] = {}
        for side, order_side in (("bids", "buy"), ("asks", "sell")):
            members = client.zrange(f"book:{symbol}:{side}", 0, -1, withscores=True)
            levels: dict[int, list[int]] = {}
            for member, score in members:
                assert len(member) == 16, f"book member {member!r} is not 16 digits"
                oid = int(member)
                o = open_orders.get(oid)
                assert o is not None, f"book:{symbol}:{side} holds {oid}, which is not an open order"
                assert o["symbol"] == symbol and o["side"] == order_side and o["type"] == "limit"
                price = o["price"]
                assert int(score) == (-price if side == "bids" else price), (
                    f"order {oid} score {score} != price"
                )
                remaining = o["qty"] - o["filled"]
                assert remaining > 0
                lv = levels.setdefault(price, [0, 0])
                lv[0] += remaining
                lv[1] += 1
                seen.add(oid)
            prices = [(-int(s) if side == "bids" else int(s)) for _m, s in members]
            best[side] = prices[0] if prices else None
            prefix = f"level:{symbol}:{side}:"
            level_keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
            values = client.mget(level_keys) if level_keys else []
            stored = {int(k[len(prefix) :]): v for k, v in zip(level_keys, values, strict=True)}
            assert {p: f"{q} {n}" for p, (q, n) in levels.items()} == stored, f"{prefix}* != orders"
            depth = client.zrange(f"depth:{symbol}:{side}", 0, -1, withscores=True)
            assert sorted(int(m) for m, _s in depth) == sorted(levels), f"depth:{symbol}:{side} != levels"
            for m, s in depth:
                assert int(s) == (-int(m) if side == "bids" else int(m))
        if best["bids"] is not None and best["asks"] is not None:
            assert best["bids"] < best["asks"], f"{symbol} crossed: bid {best['bids']} >= ask {best['asks']}"
    assert seen == set(open_orders), f"open orders missing from books: {sorted(set(open_orders) - seen)}"


def check_open_sets(client: redis.Redis) -> None:
    """open:{account} equals the set of that account's open orders."""
    want: dict[int, set[int]] = defaultdict(set)
    for oid, o in _orders(client).items():
        if o["status"] in OPEN:
            want[o["account"]].add(oid)
    got: dict[int, set[int]] = {}
    for key in client.scan_iter(match="open:*", count=1000):
        got[int(key.split(":", 1)[1])] = {int(i) for i in client.smembers(key)}
    assert {a: s for a, s in got.items() if s} == dict(want)


def check_streams(client: redis.Redis) -> None:
    """Every stream's seqs are contiguous from 1 with entry id {seq}-0; counters match the last seq; the call
    numbers are in order (`check_call_numbers`)."""
    streams: dict[str, list[tuple[str, dict[str, str]]]] = {}
    for symbol in client.smembers("markets"):
        entries = streams[f"events:{symbol}"] = _stream(client, f"events:{symbol}")
        for i, (eid, f) in enumerate(entries, start=1):
            assert eid == f"{i}-0" and f["seq"] == str(i), f"events:{symbol} entry {eid} is not seq {i}"
        assert int(client.hget(f"market:{symbol}", "seq") or 0) == len(entries)
    wallet = streams["events:wallet"] = _stream(client, "events:wallet")
    for i, (eid, f) in enumerate(wallet, start=1):
        assert eid == f"{i}-0" and f["seq"] == str(i)
    assert int(client.get("seq:wallet") or 0) == len(wallet)
    check_call_numbers(client, streams)


def check_call_numbers(client: redis.Redis, streams: dict[str, list[tuple[str, dict[str, str]]]]) -> None:
    """Every event carries the number of the engine call that wrote it (`call`, from seq:call): within a
    stream the numbers never go down and a call's events are one run, and seq:call is the largest number
    (a call takes one only when it writes an event)."""
    top = 0
    for key, entries in streams.items():
        assert all(f.get("call") for _eid, f in entries), f"{key}: an event without its call number"
        calls = [int(f["call"]) for _eid, f in entries]
        assert calls == sorted(calls), f"{key}: call numbers go down"
        runs = [c for i, c in enumerate(calls) if i == 0 or calls[i - 1] != c]
        assert len(runs) == len(set(runs)), f"{key}: a call's events are not together"
        top = max([top, *calls])
    assert int(client.get("seq:call") or 0) == top, "seq:call is not the last call's number"


def ledger_balances(client: redis.Redis) -> dict[tuple[int, str], tuple[int, int]]:
    """Balances rebuilt by summing the `ledger` field of every event of every stream."""
    acc: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0, 0])
    streams = ["events:wallet"] + [f"events:{s}" for s in client.smembers("markets")]
    for key in streams:
        for _eid, f in _stream(client, key):
            for entry in filter(None, f.get("ledger", "").split(";")):
                account, asset, da, dh = entry.split(",")
                cell = acc[(int(account), asset)]
                cell[0] += int(da)
                cell[1] += int(dh)
    return {k: (v[0], v[1]) for k, v in acc.items()}


def check_ledger(client: redis.Redis) -> None:
    """Summing every event's ledger reproduces every balance exactly."""
    stored = {k: v for k, v in _balances(client).items() if v != (0, 0)}
    rebuilt = {k: v for k, v in ledger_balances(client).items() if v != (0, 0)}
    assert stored == rebuilt


def assert_invariants(client: redis.Redis) -> None:
    """Run every engine invariant check."""
    check_conservation(client)
    check_no_negative(client)
    check_holds(client)
    check_books(client)
    check_open_sets(client)
    check_streams(client)
    check_ledger(client)
