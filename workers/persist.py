"""Move the engine's event streams into PostgreSQL, exactly once.

A round persists every stream (`events:wallet` and `events:{SYM}` for every market in `markets`) up to one
snapshot of all their heads, read in one MULTI after locking every cursor row, in one PostgreSQL
transaction (`persist_cut`): each commit is then a consistent cut of the engine's history, and a restore
from PostgreSQL never rebuilds a negative balance. A backlog above `CUT_LIMIT` events (after an outage) is
caught up in bounded cuts: every event carries the number of the engine call that wrote it, and a round
persists, of every stream, the calls up to one number that all its reads hold in full (`bounded_cut`).
Only entries written before the engine numbered its calls are caught up stream by stream, one transaction
per batch. Either way, for each stream the transaction:

1. locks the stream's row in `stream_cursors` (`FOR UPDATE SKIP LOCKED`: two workers never work on the
   same stream at once; the other one skips it),
2. reads the entries after the cursor with XRANGE (at most `batch_size`), starting at the cursor's own
   entry, which must still be the one persisted (same id and `ts`): else Redis lost writes PostgreSQL has,
   and the stream stops with `StreamRegressed` rather than mix the two histories,
3. inserts the rows (`ON CONFLICT DO NOTHING` on natural keys; orders are upserted forward-only by
   `last_seq`) and moves the cursor,
4. commits; only then the committed cursor is copied to Redis (`persist:cursor:{stream}`), which is what
   stream trimming reads.

A worker killed at any instant either committed the batch with its cursor or nothing, so the next worker
resumes exactly where the last commit left: nothing is lost, nothing is written twice.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import psycopg
import redis

from exchange.engine.codec import event_fields, parse_order_record
from workers.events import (
    OPEN_STATUSES,
    ORDER_COLUMNS,
    WALLET_STREAM,
    Batch,
    EventError,
    OrderRow,
    apply_entries,
    order_from_object,
    referenced_orders,
    stream_of,
    symbol_of,
)

log = logging.getLogger("exchange.persist")

DEFAULT_BATCH = 5000
# the most events one round persists up to a snapshot of the heads (in one transaction); a larger backlog is
# caught up by bounded cuts: each round reads at most CUT_SHARE entries of each stream and persists the calls
# all of them hold in full (`bounded_cut`)
CUT_LIMIT = 20_000
CUT_SHARE = 5_000
# how long a persisted closed order's `order:{id}` record stays in Redis (every persister sets it: the
# worker's job, `--burst`, drain() and reconcile's catch-up)
DEFAULT_CLOSED_TTL_S = 7 * 86400
REDIS_CURSOR_KEY = "persist:cursor:{stream}"
RESTORED_KEY = "persist:restored:{stream}"
# PUBLISHed after each commit, per account whose orders it wrote: {"orders": [order ids]}. The API relays it
# as the private WebSocket channel `history`: the account's history views can reload now, not on a timer.
PERSISTED_CHANNEL = "persisted:{account}"
# ids one notice names at most: a catch-up can write thousands of one account's orders in a commit; beyond
# this the notice names the first ones and adds "more": true (reload rather than track each)
PERSISTED_IDS_MAX = 500
REFERENCE_SYNC_S = 1.0  # how often a long-lived worker re-copies asset/market hashes
_COUNTER_KEYS = ("seq", "book_seq")

TRADE_COLUMNS = (
    "trade_id", "symbol", "seq", "price_ticks", "qty_lots", "notional_minor", "taker_side", "maker_order_id",
    "taker_order_id", "maker_account", "taker_account", "buyer_fee_minor", "seller_fee_minor", "ts_ms",
)  # fmt: skip
TRADE_TYPES = ("int8", "text", "int8", "int8", "int8", "int8", "text", "int8", "int8", "int8", "int8", "int8",
               "int8", "int8")  # fmt: skip
FILL_COLUMNS = (
    "trade_id", "liquidity", "order_id", "account", "symbol", "side", "price_ticks", "qty_lots",
    "notional_minor", "fee_minor", "fee_asset", "ts_ms",
)  # fmt: skip
FILL_TYPES = ("int8", "text", "int8", "int8", "text", "text", "int8", "int8", "int8", "int8", "text", "int8")
LEDGER_COLUMNS = (
    "stream",
    "seq",
    "idx",
    "account",
    "asset",
    "delta_available",
    "delta_held",
    "kind",
    "ts_ms",
)
LEDGER_TYPES = ("text", "int8", "int4", "int8", "text", "int8", "int8", "text", "int8")
ORDER_EVENT_COLUMNS = (
    "stream", "seq", "order_id", "type", "status", "filled_lots", "hold_minor", "reason", "trade_id", "ts_ms",
)  # fmt: skip
ORDER_EVENT_TYPES = ("text", "int8", "int8", "text", "text", "int8", "int8", "text", "int8", "int8")
WALLET_COLUMNS = ("seq", "type", "account", "asset", "amount_minor", "ref", "ts_ms", "result")
WALLET_TYPES = ("int8", "text", "int8", "text", "int8", "text", "int8", "text")
STATUS_COLUMNS = ("symbol", "seq", "status", "previous", "ts_ms")
STATUS_TYPES = ("text", "int8", "text", "text", "int8")
ORDER_TYPES = (
    "int8", "int8", "text", "text", "text", "text", "int8", "int8", "int8", "int8", "int8", "text", "text",
    "bool", "text", "text", "int8", "int8", "int8", "text", "int8", "int8",
)  # fmt: skip
assert len(ORDER_TYPES) == len(ORDER_COLUMNS)


def _reference_text(key: str, h: dict[str, str]) -> str:
    """Canonical JSON of an asset hash, or of a market hash without its counters (`seq`, `book_seq`)."""
    if key.startswith("market:"):
        h = {k: v for k, v in h.items() if k not in _COUNTER_KEYS}
    return json.dumps(h, sort_keys=True)


def redis_cursor_key(stream: str) -> str:
    return REDIS_CURSOR_KEY.format(stream=stream)


def _array_item(v: object) -> str:
    """One element of a PostgreSQL array literal."""
    if v is None:
        return "NULL"
    if v is True:
        return "t"
    if v is False:
        return "f"
    if isinstance(v, int):
        return str(v)
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _array_literal(kind: str, col: Sequence[object]) -> str:
    """A column as a PostgreSQL array literal. The common columns take a fast path: integers without NULL,
    and strings with no quote or backslash to escape (quoted as they are); the rest go item by item."""
    if kind in ("int8", "int4") and None not in col:
        return "{" + ",".join(map(str, col)) + "}"
    if kind == "text":
        try:
            plain = "".join(cast(Sequence[str], col))  # TypeError unless every item is a str
        except TypeError:
            plain = '"'
        if '"' not in plain and "\\" not in plain:
            return '{"' + '","'.join(cast(Sequence[str], col)) + '"}'
    return "{" + ",".join(map(_array_item, col)) + "}"


def _insert(
    cur: psycopg.Cursor[tuple[object, ...]],
    table: str,
    columns: Sequence[str],
    types: Sequence[str],
    rows: Sequence[tuple[object, ...]],
    conflict: str = "DO NOTHING",
) -> None:
    """One `INSERT ... SELECT FROM unnest(arrays) ON CONFLICT` for the whole batch.

    Each column travels as one text array literal built with str.join (no per-element adaptation by the
    driver), and the statement can be pipelined with the rest of the batch (one round trip per batch).
    """
    if not rows:
        return
    literals = []
    for kind, col in zip(types, zip(*rows, strict=True), strict=True):
        literals.append(_array_literal(kind, col))
    placeholders = ", ".join(f"%s::{t}[]" for t in types)
    names = ", ".join(columns)
    query = f"INSERT INTO {table} ({names}) SELECT * FROM unnest({placeholders}) ON CONFLICT {conflict}"
    cur.execute(query.encode(), literals)


_ORDER_UPSERT = "(order_id) DO UPDATE SET " + ", ".join(
    f"{c} = EXCLUDED.{c}" for c in ORDER_COLUMNS if c not in ("order_id", "created_seq")
) + " WHERE orders.last_seq < EXCLUDED.last_seq"  # fmt: skip


def write_batch(
    conn: psycopg.Connection[tuple[object, ...]], batch: Batch, wallet_results: list[str]
) -> None:
    """Insert every row of `batch` (inside the caller's transaction)."""
    with conn.cursor() as cur:
        _insert(cur, "trades", TRADE_COLUMNS, TRADE_TYPES, batch.trades)
        _insert(cur, "fills", FILL_COLUMNS, FILL_TYPES, batch.fills)
        _insert(cur, "ledger", LEDGER_COLUMNS, LEDGER_TYPES, batch.ledger)
        _insert(cur, "order_events", ORDER_EVENT_COLUMNS, ORDER_EVENT_TYPES, batch.order_events)
        if batch.orders:
            rows = [o.row() for o in sorted(batch.orders.values(), key=lambda o: o.order_id)]
            _insert(cur, "orders", ORDER_COLUMNS, ORDER_TYPES, rows, _ORDER_UPSERT)
        if batch.wallet_ops:
            rows = [(*op, res) for op, res in zip(batch.wallet_ops, wallet_results, strict=True)]
            _insert(cur, "wallet_ops", WALLET_COLUMNS, WALLET_TYPES, rows)
        _insert(cur, "market_status_changes", STATUS_COLUMNS, STATUS_TYPES, batch.status_changes)
        if batch.market_status is not None:
            symbol = symbol_of(batch.stream)
            cur.execute("UPDATE markets SET status = %s, updated_at = now() WHERE symbol = %s",
                        (batch.market_status, symbol))  # fmt: skip
        cur.execute(
            "UPDATE stream_cursors SET last_seq = %s, last_ts_ms = %s, updated_at = now() WHERE stream = %s",
            (batch.last_seq, batch.last_ts_ms, batch.stream),
        )


def load_orders(conn: psycopg.Connection[tuple[object, ...]], ids: Iterable[int]) -> dict[int, OrderRow]:
    wanted = sorted(ids)
    if not wanted:
        return {}
    query = f"SELECT {', '.join(ORDER_COLUMNS)} FROM orders WHERE order_id = ANY(%s)"
    rows = cast(list[tuple[Any, ...]], conn.execute(query.encode(), (wanted,)).fetchall())
    return {int(r[0]): OrderRow(*r) for r in rows}


@dataclass
class StreamResult:
    stream: str
    events: int
    last_seq: int


class StreamRegressed(EventError):
    """Redis no longer holds what PostgreSQL persisted from a stream: its head is behind the cursor, or
    the entry at the cursor is gone or another one (Redis lost writes, e.g. a crash with `appendfsync
    everysec`, and new events reused the lost sequence numbers). Persisting on would mix two histories, so
    the stream stops here until an operator restores Redis (docs/operations.md, "REGRESSED"). `streams`:
    every stream found so (a round persists the others first, then raises for all of them)."""

    def __init__(self, message: str, streams: list[str] | None = None) -> None:
        super().__init__(message)
        self.streams = streams or [message.split(": ", 1)[0]]

    @property
    def stream(self) -> str:
        return self.streams[0]


def _text(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def _seq_of(entry: Any) -> int:
    """The seq of a stream entry (id `{seq}-0`)."""
    return int(_text(entry[0]).split("-", 1)[0])


def _call_of(entry: Any) -> int | None:
    """The number of the engine call that wrote a stream entry (its `call` field), None for an entry
    written before the engine numbered its calls."""
    fields = entry[1]
    value = fields.get("call", fields.get(b"call"))
    return int(_text(value)) if value is not None else None


def bounded_cut(reads: Mapping[str, list[Any]], heads: Mapping[str, int]) -> dict[str, list[Any]] | None:
    """A consistent cut within `reads` (per stream, entries after its cursor; each read stopped at `CUT_SHARE`
    entries or at the stream's head in `heads`): of every stream, the entries of the calls numbered up to
    the last call that every cut-short read holds in full (the call before its last entry's: that call's
    other events may follow unread). The engine runs one call at a time and numbers calls in that order, so
    this is the state after call n, for one n. None when an entry has no call number (written before the
    engine numbered calls: no cut can be told from those)."""
    bound: int | None = None
    for stream, raw in reads.items():
        if any(_call_of(e) is None for e in raw):
            return None
        if raw and _seq_of(raw[-1]) < heads[stream]:  # more follow: only calls before the last are whole
            last_call = cast(int, _call_of(raw[-1])) - 1
            bound = last_call if bound is None else min(bound, last_call)
    if bound is None:
        return dict(reads)
    return {s: [e for e in raw if cast(int, _call_of(e)) <= bound] for s, raw in reads.items()}


def restored_key(stream: str) -> str:
    """`persist:restored:{stream}`: the cursor at which `exchange restore` rebuilt Redis (the stream starts
    after it, so the persisted entry itself is legitimately absent)."""
    return RESTORED_KEY.format(stream=stream)


def check_persisted_entry(
    stream: str, seq: int, ts_ms: int, entry: tuple[Any, Any] | None, restored_at: int | None = None
) -> None:
    """The entry at the cursor must be the one persisted: same id, same `ts` (the engine stamps each call's
    time; lost events replaced later carry a later one). Trimming always keeps it (`trim_streams`); after a
    restore at this very cursor (`restored_at`) there is none yet, rightly."""
    if entry is None or _text(entry[0]) != f"{seq}-0":
        if restored_at == seq:
            return
        raise StreamRegressed(f"{stream}: the persisted entry {seq} is no longer in Redis")
    fields = entry[1]
    ts = _text(fields.get("ts", fields.get(b"ts", b"")))
    if ts_ms and ts != str(ts_ms):
        raise StreamRegressed(f"{stream}: entry {seq} has ts {ts}, PostgreSQL persisted one with ts {ts_ms}")


class Persister:
    """Holds one Redis client and one PostgreSQL connection; `persist_once` moves one batch per stream."""

    def __init__(
        self,
        client: redis.Redis,
        conn: psycopg.Connection[tuple[object, ...]],
        batch_size: int = DEFAULT_BATCH,
    ) -> None:
        self.redis = client
        self.conn = conn
        self.batch_size = batch_size
        # EXPIRE set on the engine's `order:{id}` record of orders a batch closes (None: never)
        self.closed_ttl_s: int | None = DEFAULT_CLOSED_TTL_S
        self._known_streams: set[str] = set()
        self._quote: dict[str, str] = {}
        self._reference_seen: dict[str, str] = {}
        self._last_sync = 0.0
        self._cursors: dict[str, int] = {}  # last cursor this worker saw per stream (a hint, never trusted)

    @classmethod
    def connect(cls, redis_url: str, database_url: str, batch_size: int = DEFAULT_BATCH) -> Persister:
        client = redis.Redis.from_url(redis_url, decode_responses=True, protocol=2)
        conn: psycopg.Connection[tuple[object, ...]] = psycopg.connect(database_url, autocommit=True)
        return cls(client, conn, batch_size)

    def close(self) -> None:
        self.conn.close()
        self.redis.close()

    def __enter__(self) -> Persister:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- reference data -------------------------------------------------------------------------------
    def streams(self) -> list[str]:
        symbols = sorted(str(s) for s in self.redis.smembers("markets"))  # type: ignore[union-attr]
        streams = [WALLET_STREAM, *(stream_of(s) for s in symbols)]
        new = [s for s in streams if s not in self._known_streams]
        if new:
            with self.conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO stream_cursors (stream) VALUES (%s) ON CONFLICT DO NOTHING",
                    [(s,) for s in new],
                )
            self._known_streams.update(new)
        if new or time.monotonic() - self._last_sync >= REFERENCE_SYNC_S:
            self.sync_reference(symbols)
            self._last_sync = time.monotonic()
        return streams

    def heads(self, streams: list[str]) -> dict[str, int]:
        """The engine's last seq of each stream (one round trip: `snapshot` without the book seqs)."""
        return {s: seq for s, (seq, _book) in self.snapshot(streams).items()}

    def sync_reference(self, symbols: list[str]) -> None:
        """Copy asset and market hashes to PostgreSQL when they changed (restore rebuilds them from there)."""
        assets = sorted(str(a) for a in self.redis.smembers("assets"))  # type: ignore[union-attr]
        pipe = self.redis.pipeline(transaction=False)
        for a in assets:
            pipe.hgetall(f"asset:{a}")
        for s in symbols:
            pipe.hgetall(f"market:{s}")
        results = pipe.execute()
        if all(
            self._reference_seen.get(key) == _reference_text(key, h)
            for key, h in zip(
                [*(f"asset:{a}" for a in assets), *(f"market:{s}" for s in symbols)], results, strict=True
            )
            if h
        ):
            for s, h in zip(symbols, results[len(assets) :], strict=True):
                if h:
                    self._quote[s] = h.get("quote", "")
            return
        with self.conn.transaction(), self.conn.cursor() as cur:
            for a, h in zip(assets, results[: len(assets)], strict=True):
                key = f"asset:{a}"
                text = _reference_text(key, h)
                if not h or self._reference_seen.get(key) == text:
                    continue
                cur.execute(
                    "INSERT INTO assets (symbol, name, decimals) VALUES (%s, %s, %s) ON CONFLICT (symbol) DO "
                    "UPDATE SET name = EXCLUDED.name, decimals = EXCLUDED.decimals, updated_at = now()",
                    (a, h.get("name", a), int(h.get("decimals", 0))),
                )
                self._reference_seen[key] = text
            for s, h in zip(symbols, results[len(assets) :], strict=True):
                if not h:
                    continue
                self._quote[s] = h.get("quote", "")
                key = f"market:{s}"
                text = _reference_text(key, h)
                if self._reference_seen.get(key) == text:
                    continue
                cur.execute(
                    "INSERT INTO markets (symbol, base, quote, status, spec) VALUES (%s, %s, %s, %s, %s) "
                    "ON CONFLICT (symbol) DO UPDATE SET base = EXCLUDED.base, quote = EXCLUDED.quote, "
                    "status = EXCLUDED.status, spec = EXCLUDED.spec, updated_at = now()",
                    (s, h.get("base", ""), h.get("quote", ""), h.get("status", "trading"), text),
                )
                self._reference_seen[key] = text

    # --- one batch ------------------------------------------------------------------------------------
    def _missing_from_redis(self, ids: set[int]) -> dict[int, OrderRow]:
        """Orders never seen in PostgreSQL (e.g. rejected on arrival): read the engine's order record."""
        pipe = self.redis.pipeline(transaction=False)
        ordered = sorted(ids)
        for oid in ordered:
            pipe.get(f"order:{oid}")
        found: dict[int, OrderRow] = {}
        for oid, text in zip(ordered, pipe.execute(), strict=True):
            order = parse_order_record(oid, text)
            if order is not None:
                found[oid] = order_from_object(order, 0)
        return found

    def persist_stream(self, stream: str) -> StreamResult:
        """Persist at most one batch of `stream`; 0 events when caught up or locked by another worker."""
        return self._persist_stream(stream)

    def _persist_stream(self, stream: str) -> StreamResult:
        with self.conn.transaction():
            row = self.conn.execute(
                "SELECT last_seq, last_ts_ms FROM stream_cursors WHERE stream = %s FOR UPDATE SKIP LOCKED",
                (stream,),
            ).fetchone()
            if row is None:
                return StreamResult(stream, 0, -1)
            last, last_ts = int(cast(int, row[0])), int(cast(int, row[1]))
            head: tuple[int, int] | None = None  # (seq, book_seq) read atomically before the entries
            symbol = symbol_of(stream)
            if symbol is not None:
                pipe = self.redis.pipeline(transaction=False)
                pipe.hmget(f"market:{symbol}", "seq", "book_seq")
                pipe.get(redis_cursor_key(stream))
                (seq_text, book_text), noted = cast(list[Any], pipe.execute())
                head = (int(seq_text or 0), int(book_text or 0))
                self._expire_gap(stream, noted, last)
            batch = self._batch(stream, last, last_ts, head, self.batch_size)
            if batch is None:
                return StreamResult(stream, 0, last)
        self._after_commit([batch])
        return StreamResult(stream, batch.events, batch.last_seq)

    def _batch(
        self, stream: str, last: int, last_ts: int, head: tuple[int, int] | None, count: int
    ) -> Batch | None:
        """Inside the caller's transaction, with the stream's cursor row locked: read up to `count` entries
        after the cursor (up to `head`, the (seq, book_seq) read before them, for a market), check the
        cursor's own entry, and write their rows and the new cursor. None when there is nothing to write."""
        raw = self._read(stream, last, last_ts, head, count)
        return self._write(stream, last, head, raw) if raw else None

    def _read(
        self, stream: str, last: int, last_ts: int, head: tuple[int, int] | None, count: int
    ) -> list[Any]:
        """The entries of `_batch`: up to `count` after the cursor, up to `head`; the cursor's own entry
        checked (`StreamRegressed` when Redis lost what PostgreSQL has)."""
        end = "+"
        if head is not None:
            end = f"{head[0]}-0"
            if head[0] < last:
                raise StreamRegressed(f"{stream}: the engine's head {head[0]} is behind the persisted {last}")
            if head[0] == last:
                return []
        # from the persisted entry itself: it must still be there, as persisted (see StreamRegressed)
        start = f"{last}-0" if last > 0 else "-"
        raw = cast(list[Any], self.redis.xrange(stream, start, end, count=count + (last > 0)))
        if last > 0:
            first = raw[0] if raw else None
            if first is not None and _text(first[0]) == f"{last}-0":
                check_persisted_entry(stream, last, last_ts, first)
                raw = raw[1:]
            else:  # absent: fine only right after a restore at this cursor
                at = self.redis.get(restored_key(stream))
                check_persisted_entry(stream, last, last_ts, first, int(at) if at else None)
        return raw

    def _read_whole_call(self, stream: str, last: int, last_ts: int, head: tuple[int, int]) -> list[Any]:
        """`_read` of `CUT_SHARE` entries for a bounded cut, read further while a read that stops short of
        the head holds one call only (a call's events may go on past it): `bounded_cut` then always has a
        whole call of every stream, so each round gets on."""
        count = CUT_SHARE
        while True:
            raw = self._read(stream, last, last_ts, head, count)
            if not raw or _seq_of(raw[-1]) >= head[0]:
                return raw
            first = _call_of(raw[0])
            if first is None or first != _call_of(raw[-1]):  # (no number: bounded_cut declines)
                return raw
            count *= 2

    def _write(self, stream: str, last: int, head: tuple[int, int] | None, raw: list[Any]) -> Batch:
        """The rows of `raw` (entries after the cursor `last`) and the new cursor, in the caller's
        transaction; the market's book_seq too when they reach `head`."""
        symbol = symbol_of(stream)
        if symbol is not None and symbol not in self._quote:
            self._quote[symbol] = str(self.redis.hget(f"market:{symbol}", "quote") or "")
        entries: list[tuple[str, dict[str, str]]] = [(str(i), event_fields(i, f)) for i, f in raw]
        wanted = referenced_orders(entries)
        known = load_orders(self.conn, wanted)
        missing = wanted - known.keys()
        if missing:
            known.update(self._missing_from_redis(missing))
        batch = apply_entries(stream, entries, known, self._quote.get(symbol or "", ""), last)
        if batch.missing_orders:
            raise EventError(
                f"{stream}: orders {sorted(batch.missing_orders)} unknown to PostgreSQL and Redis"
            )
        wallet_results: list[str] = []
        if batch.wallet_refs:
            values = self.redis.hmget("wallet:refs", batch.wallet_refs)
            wallet_results = [str(v) if v is not None else "" for v in values]  # type: ignore[union-attr]
        with self.conn.pipeline():  # every write of the batch in one round trip
            write_batch(self.conn, batch, wallet_results)
            if symbol is not None and head is not None and batch.last_seq == head[0]:
                self.conn.execute(
                    "UPDATE markets SET book_seq = %s, book_seq_at = %s WHERE symbol = %s",
                    (head[1], head[0], symbol),
                )
        return batch

    def _expire_gap(self, stream: str, noted: object, last: int) -> None:
        """With the stream's cursor row locked: if Redis's copy of the cursor (`noted`, written after each
        commit) is behind PostgreSQL's (`last`), a worker committed up to `last` and did not get to its
        after-commit step (killed, or another worker is just there): give the closed orders of that gap their
        EXPIRE now, read back from PostgreSQL, so no record stays without its TTL. (Before the commit would be
        too early: a record can be all a retry has of an order, e.g. a rejected post-only one.)"""
        done = int(cast(str, noted)) if noted is not None else 0  # absent: no after-commit step yet
        if self.closed_ttl_s is None or done >= last:
            return
        rows = self.conn.execute(
            "SELECT DISTINCT e.order_id FROM order_events e JOIN orders o USING (order_id)"
            " WHERE e.stream = %s AND e.seq > %s AND e.seq <= %s AND e.status <> ALL(%s)"
            " AND o.status <> ALL(%s) AND o.client_order_id = ''",
            (stream, done, last, list(OPEN_STATUSES), list(OPEN_STATUSES)),
        ).fetchall()
        if rows:
            pipe = self.redis.pipeline(transaction=False)
            for (oid,) in rows:
                pipe.expire(f"order:{oid}", self.closed_ttl_s)
            pipe.execute()

    def _after_commit(self, batches: list[Batch]) -> None:
        """After one transaction: the committed cursors to Redis (what trimming reads), the closed orders'
        EXPIRE (a worker killed before this step: `_expire_gap`), and one `persisted:{account}` notice per
        account whose orders were written."""
        pipe = self.redis.pipeline(transaction=False)
        written: dict[int, list[int]] = {}
        for batch in batches:
            pipe.set(redis_cursor_key(batch.stream), batch.last_seq)
            for oid, o in batch.orders.items():
                written.setdefault(o.account, []).append(oid)
                # an order with a client_order_id stays: the engine's retry check reads its record
                if self.closed_ttl_s is not None and o.status not in OPEN_STATUSES and not o.client_order_id:
                    pipe.expire(f"order:{oid}", self.closed_ttl_s)
        for account, ids in written.items():
            ids.sort()
            notice: dict[str, object] = {"orders": ids[:PERSISTED_IDS_MAX]}
            if len(ids) > PERSISTED_IDS_MAX:
                notice["more"] = True
            pipe.publish(PERSISTED_CHANNEL.format(account=account), json.dumps(notice))
        pipe.execute()

    def snapshot(self, streams: list[str]) -> dict[str, tuple[int, int]]:
        """Every stream's head (seq, book_seq; the wallet's book_seq is 0) read in one MULTI: a consistent
        cut of the engine, as it executes one call at a time."""
        pipe = self.redis.pipeline(transaction=True)
        for s in streams:
            symbol = symbol_of(s)
            if symbol is None:
                pipe.get("seq:wallet")
            else:
                pipe.hmget(f"market:{symbol}", "seq", "book_seq")
        out: dict[str, tuple[int, int]] = {}
        for s, v in zip(streams, pipe.execute(), strict=True):
            seq, book = (v[0], v[1]) if isinstance(v, list) else (v, 0)
            out[s] = (int(cast(str, seq) or 0), int(cast(str, book) or 0))
        return out

    def persist_cut(self, streams: list[str]) -> tuple[int, int] | None:
        """Every stream up to one snapshot of all heads, in one transaction: each commit is then a consistent
        cut of the engine's history (no withdrawal persisted without the trade that paid it, no trade
        without the deposit or the other market's trade that funded it), so a restore never rebuilds a
        negative balance. A backlog above `CUT_LIMIT` events (after an outage) goes in bounded cuts: at most
        about `CUT_SHARE` entries of each stream, up to one call number (`bounded_cut`). Returns (events,
        skipped) like `persist_round`; None when the backlog holds entries without call numbers (written
        before the engine numbered its calls: per-stream batches catch those up)."""
        heads = self.heads(streams)
        if all(heads[s] == self._cursors.get(s, -1) for s in streams):
            return 0, 0  # caught up: no transaction needed
        with self.conn.transaction():
            rows = self.conn.execute(
                "SELECT stream, last_seq, last_ts_ms FROM stream_cursors WHERE stream = ANY(%s) "
                "ORDER BY stream FOR UPDATE SKIP LOCKED",
                (streams,),
            ).fetchall()
            if len(rows) < len(streams):
                return 0, 1  # another worker holds a stream: it persists; this round waits
            # with every cursor locked (no other worker moves one), so each is <= its head unless Redis lost
            # writes (then _batch raises StreamRegressed)
            snap = self.snapshot(streams)
            cursors = {str(r[0]): (int(cast(int, r[1])), int(cast(int, r[2]))) for r in rows}
            noted = self.redis.mget([redis_cursor_key(s) for s in streams])
            for s, value in zip(streams, cast(list[Any], noted), strict=True):
                if symbol_of(s) is not None:
                    self._expire_gap(s, value, cursors[s][0])
            behind = sum(max(0, snap[s][0] - cursors[s][0]) for s in streams)
            reads = {}
            for s in streams:
                last, last_ts = cursors[s]
                if behind <= CUT_LIMIT:
                    reads[s] = self._read(s, last, last_ts, snap[s], max(1, snap[s][0] - last))
                else:
                    reads[s] = self._read_whole_call(s, last, last_ts, snap[s])
            if behind > CUT_LIMIT:
                bounded = bounded_cut(reads, {s: snap[s][0] for s in streams})
                if bounded is None:
                    return None  # entries written before call numbers: per-stream batches catch them up
                reads = bounded
            batches = [self._write(s, cursors[s][0], snap[s], raw) for s, raw in reads.items() if raw]
        self._after_commit(batches)
        for s in streams:
            # (a head behind its cursor raised StreamRegressed in _read)
            self._cursors[s] = _seq_of(reads[s][-1]) if reads[s] else cursors[s][0]
        return sum(b.events for b in batches), 0

    def persist_round(self) -> tuple[int, int]:
        """Every stream up to a consistent cut (`persist_cut`), or when a stream regressed or the backlog
        predates call numbers, one batch of every stream on its own; returns (events persisted, streams
        skipped as locked elsewhere)."""
        streams = self.streams()
        try:
            cut = self.persist_cut(streams)
        except StreamRegressed:
            cut = None  # the per-stream pass below persists the others, then raises for the regressed
        if cut is not None:
            return cut
        total = skipped = 0
        heads = self.heads(streams)
        regressed: list[StreamRegressed] = []
        for stream in streams:
            head, done = heads[stream], self._cursors.get(stream, -1)
            if head < done:
                regressed.append(
                    StreamRegressed(f"{stream}: the engine's head {head} is behind persisted {done}")
                )
                continue
            if head == done:
                continue  # caught up: no transaction needed
            try:
                result = self.persist_stream(stream)
            except StreamRegressed as exc:
                regressed.append(exc)  # the other streams are still persisted
                continue
            total += result.events
            skipped += result.last_seq < 0
            if result.last_seq >= 0:
                self._cursors[stream] = result.last_seq
        if regressed:
            raise StreamRegressed("; ".join(map(str, regressed)), [e.stream for e in regressed])
        return total, skipped

    def persist_once(self) -> int:
        """One batch of every stream; returns the number of events persisted."""
        return self.persist_round()[0]

    def drain(self, max_seconds: float = 300.0, until: Mapping[str, int] | None = None) -> int:
        """Persist until every stream is caught up (or `max_seconds` passed); returns events persisted.
        With `until` (stream -> seq), stop as soon as each of those streams is persisted up to its seq:
        while orders keep coming, "caught up" may never happen, and the caller needs only those heads.

        A stream locked by another worker is retried until that worker lets go, so on return everything
        appended before the call is in PostgreSQL (unless the deadline passed).
        """
        deadline = time.monotonic() + max_seconds
        total = 0
        while time.monotonic() < deadline:
            n, skipped = self.persist_round()
            total += n
            if until is not None and all(self._cursors.get(s, -1) >= seq for s, seq in until.items()):
                break
            if n == 0 and skipped == 0:
                break
            if n == 0:
                time.sleep(0.02)
        return total


def persist_once(redis_url: str, database_url: str, batch_size: int = DEFAULT_BATCH) -> int:
    """One batch per stream (opens and closes its own connections)."""
    with Persister.connect(redis_url, database_url, batch_size) as p:
        return p.persist_once()


def drain(
    redis_url: str,
    database_url: str,
    batch_size: int = DEFAULT_BATCH,
    max_seconds: float = 300.0,
    closed_ttl_s: int | None = DEFAULT_CLOSED_TTL_S,
) -> int:
    """Persist everything pending; returns the number of events persisted by this call."""
    with Persister.connect(redis_url, database_url, batch_size) as p:
        p.closed_ttl_s = closed_ttl_s
        return p.drain(max_seconds)
