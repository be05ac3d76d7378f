"""After each commit the workers PUBLISH `persisted:{account}` with the ids of the account's orders they
wrote, so the API's `history` channel can tell a client when its history views would show a change."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest
import redis

from tests.persistence.flow import fail_batches_of, setup_engine
from workers.events import EventError
from workers.persist import Persister


def listen(client: redis.Redis, accounts: tuple[int, ...]) -> Any:
    pubsub = client.pubsub()
    pubsub.subscribe(*(f"persisted:{a}" for a in accounts))
    for _ in accounts:  # every subscription confirmed: from here on each PUBLISH reaches us
        msg = pubsub.get_message(timeout=5.0)
        assert msg is not None and msg["type"] == "subscribe"
    return pubsub


def notices(pubsub: Any) -> dict[int, list[list[int]]]:
    """account -> the `orders` list of each notice received so far, in order."""
    out: dict[int, list[list[int]]] = {}
    while (msg := pubsub.get_message(timeout=0.5)) is not None:
        account = int(msg["channel"].split(":")[1])
        out.setdefault(account, []).append(json.loads(msg["data"])["orders"])
    return out


def persisted_ids(pg_url: str) -> set[int]:
    with psycopg.connect(pg_url) as conn:
        return {int(r[0]) for r in conn.execute("SELECT order_id FROM orders")}


def test_one_round_notifies_each_account_of_exactly_its_written_orders(
    redis_client: redis.Redis, redis_url: str, pg_url: str
) -> None:
    """A trade between accounts 1 and 2 in one market and a cancelled order of 1 in another, persisted in
    one round: account 1 hears once of its three orders, account 2 once of its maker order (filled by the
    trade), and account 3, which only received a deposit, hears nothing. The ids are in PostgreSQL."""
    engine = setup_engine(redis_client)
    engine.deposit(1, "PQ", 10_000, "d1", ts_ms=1_000)
    engine.deposit(2, "PA", 5, "d2", ts_ms=1_000)
    engine.deposit(3, "PQ", 7, "d3", ts_ms=1_000)
    pubsub = listen(redis_client, (1, 2, 3))
    maker = engine.place(2, "PA-PQ", "sell", "limit", price=5, qty=2, ts_ms=2_000)["order"]["id"]
    taker = engine.place(1, "PA-PQ", "buy", "limit", price=5, qty=2, ts_ms=2_001)["order"]["id"]
    other = engine.place(1, "PB-PQ", "buy", "limit", price=3, qty=1, ts_ms=2_002)["order"]["id"]
    engine.cancel(1, other, ts_ms=2_003)
    with Persister.connect(redis_url, pg_url) as worker:
        assert worker.persist_round()[0] > 0
    heard = notices(pubsub)
    assert heard == {1: [sorted([taker, other])], 2: [[maker]]}
    assert {maker, taker, other} <= persisted_ids(pg_url)


def test_a_maker_filled_later_is_notified_again_and_a_caught_up_round_is_silent(
    redis_client: redis.Redis, redis_url: str, pg_url: str
) -> None:
    """An order persisted while resting is notified again when a later commit writes its fill (a stream
    persisted on its own, `persist_stream`, notifies too); a round with nothing new publishes nothing."""
    engine = setup_engine(redis_client)
    engine.deposit(1, "PQ", 10_000, "d1", ts_ms=1_000)
    engine.deposit(2, "PA", 5, "d2", ts_ms=1_000)
    pubsub = listen(redis_client, (1, 2))
    maker = engine.place(2, "PA-PQ", "sell", "limit", price=5, qty=2, ts_ms=2_000)["order"]["id"]
    with Persister.connect(redis_url, pg_url) as worker:
        worker.persist_round()
        assert notices(pubsub) == {2: [[maker]]}
        taker = engine.place(1, "PA-PQ", "buy", "limit", price=5, qty=1, ts_ms=2_001)["order"]["id"]
        assert worker.persist_stream("events:PA-PQ").events > 0
        assert notices(pubsub) == {1: [[taker]], 2: [[maker]]}
        assert worker.persist_round() == (0, 0)
        assert notices(pubsub) == {}


def test_a_round_that_fails_publishes_nothing(
    redis_client: redis.Redis, redis_url: str, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Notices follow the commit: a round whose transaction rolls back (a fault in one stream) tells no
    account anything, although another stream's batch had been written inside it."""
    engine = setup_engine(redis_client)
    engine.deposit(1, "PQ", 10_000, "d1", ts_ms=1_000)
    pubsub = listen(redis_client, (1,))
    engine.place(1, "PA-PQ", "buy", "limit", price=5, qty=1, ts_ms=2_000)
    engine.place(1, "PB-PQ", "buy", "limit", price=5, qty=1, ts_ms=2_001)
    fail_batches_of(monkeypatch, "events:PB-PQ")
    with Persister.connect(redis_url, pg_url) as worker, pytest.raises(EventError, match="injected"):
        worker.persist_round()
    assert notices(pubsub) == {}
    assert persisted_ids(pg_url) == set()


def test_a_commit_of_more_than_500_orders_of_one_account_names_the_first_500_and_says_more(
    redis_client: redis.Redis, redis_url: str, pg_url: str
) -> None:
    """A catch-up commit that writes 501 orders of one account: the notice names the 500 lowest ids and adds
    `more`, so a frame stays small and a client reloads instead of tracking each id."""
    engine = setup_engine(redis_client)
    engine.deposit(1, "PQ", 1_000_000, "d1", ts_ms=1_000)
    pubsub = listen(redis_client, (1,))
    pipe = redis_client.pipeline(transaction=False)
    for _ in range(501):
        pipe.fcall(
            "ex_place", 3, "market:PA-PQ", "balance:1", "coid:1",
            "1", "PA-PQ", "buy", "limit", "gtc", "5", "1", "0", "0", "", "", "2000",
        )  # fmt: skip
    ids = sorted(int(str(r).split('"order":"')[1].split(" ")[0]) for r in pipe.execute())
    with Persister.connect(redis_url, pg_url) as worker:
        worker.persist_round()
    messages = []
    while (msg := pubsub.get_message(timeout=0.5)) is not None:
        messages.append(json.loads(msg["data"]))
    assert messages == [{"orders": ids[:500], "more": True}]
