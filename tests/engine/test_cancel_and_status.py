"""Cancel, cancel_all and market statuses (trading, cancel_only, halted, cancel_orders)."""

from __future__ import annotations

import pytest
import redis

from exchange.engine import errors
from exchange.engine.state import state_hash
from tests.engine.conftest import Exchange


def _two_markets(ex: Exchange) -> list[int]:
    ex.fund(1, "XQ", 100_000)
    return [
        ex.place(1, "buy", price=10, qty=1)["order"]["id"],
        ex.place(1, "buy", price=11, qty=1)["order"]["id"],
        ex.place(1, "buy", price=12, qty=1, symbol="YB-XQ")["order"]["id"],
    ]


def test_cancel_of_another_accounts_order_is_unknown_order(ex: Exchange) -> None:
    """Cancelling someone else's order looks exactly like cancelling a missing one: UNKNOWN_ORDER."""
    ids = _two_markets(ex)
    with pytest.raises(errors.UnknownOrder):
        ex.engine.cancel(2, ids[0], ex.ts())
    with pytest.raises(errors.UnknownOrder):
        ex.engine.cancel(1, 999_999, ex.ts())
    assert ex.engine.get_order(ids[0])["status"] == "open"


def test_cancel_all_cancels_every_open_order_of_the_account(ex: Exchange) -> None:
    """cancel_all without a symbol cancels the account's orders in every market and releases all holds."""
    ids = _two_markets(ex)
    assert ex.engine.cancel_all(1, ex.ts()) == {"cancelled": 3, "remaining": 0, "next": ids[2]}
    assert ex.engine.open_orders(1) == []
    assert [ex.engine.get_order(i)["reason"] for i in ids] == ["user"] * 3
    assert ex.balance(1, "XQ") == (100_000, 0)


def test_cancel_all_for_one_market_leaves_the_others(ex: Exchange) -> None:
    """cancel_all with a symbol touches only that market (it looks at the other's order and skips it)."""
    ids = _two_markets(ex)
    assert ex.engine.cancel_all(1, ex.ts(), symbol="XB-XQ") == {
        "cancelled": 2,
        "remaining": 0,
        "next": ids[2],
    }
    assert [o["id"] for o in ex.engine.open_orders(1)] == [ids[2]]
    with pytest.raises(errors.UnknownMarket):
        ex.engine.cancel_all(1, ex.ts(), symbol="NOPE-XQ")


def test_cancel_only_refuses_new_orders_but_allows_cancels(ex: Exchange) -> None:
    """In cancel_only a place is MARKET_NOT_TRADING while cancel works and the book is kept."""
    ids = _two_markets(ex)
    r = ex.engine.set_market_status("XB-XQ", "cancel_only", ex.ts())
    assert r == {"status": "cancel_only", "previous": "trading", "cancelled": 0, "remaining": 0}
    with pytest.raises(errors.MarketNotTrading):
        ex.place(1, "buy", price=10, qty=1)
    assert ex.engine.cancel(1, ids[0], ex.ts())["status"] == "cancelled"
    assert ex.engine.book("XB-XQ")["bids"] == [[11, 1, 1]]
    assert ex.events()[-2]["type"] == "market_status"


def test_halted_freezes_places_and_cancels(ex: Exchange) -> None:
    """A halted market refuses place (MARKET_NOT_TRADING) and cancel (MARKET_HALTED); cancel_all skips it."""
    ids = _two_markets(ex)
    ex.engine.set_market_status("XB-XQ", "halted", ex.ts())
    with pytest.raises(errors.MarketNotTrading):
        ex.place(1, "sell", price=10, qty=1)
    with pytest.raises(errors.MarketHalted):
        ex.engine.cancel(1, ids[0], ex.ts())
    assert ex.engine.cancel_all(1, ex.ts()) == {"cancelled": 1, "remaining": 0, "next": ids[2]}
    assert [o["id"] for o in ex.engine.open_orders(1)] == ids[:2]
    ex.engine.set_market_status("XB-XQ", "trading", ex.ts())
    assert ex.engine.cancel(1, ids[0], ex.ts())["status"] == "cancelled"


def test_status_change_with_cancel_orders_empties_the_book(ex: Exchange) -> None:
    """set_market_status(cancel_orders=True) cancels every resting order (reason market_status) in book
    order: the bids best first, then the asks."""
    ids = _two_markets(ex)
    ex.fund(2, "XB", 5)
    sell = ex.place(2, "sell", price=20, qty=5)["order"]["id"]
    r = ex.engine.set_market_status("XB-XQ", "halted", ex.ts(), cancel_orders=True)
    assert r == {"status": "halted", "previous": "trading", "cancelled": 3, "remaining": 0}
    cancelled = [e for e in ex.events() if e["type"] == "order_cancelled"]
    assert [int(e["order_id"]) for e in cancelled] == [ids[1], ids[0], sell]
    assert {e["reason"] for e in cancelled} == {"market_status"}
    assert ex.engine.book("XB-XQ")["bids"] == [] and ex.engine.book("XB-XQ")["asks"] == []
    assert ex.balance(2, "XB") == (5, 0)


def test_unknown_status_is_invalid_argument(ex: Exchange) -> None:
    """A status outside trading/cancel_only/halted is refused."""
    with pytest.raises(errors.InvalidArgument):
        ex.engine.set_market_status("XB-XQ", "closed", ex.ts())
    with pytest.raises(errors.UnknownMarket):
        ex.engine.set_market_status("NOPE-XQ", "halted", ex.ts())


def _place_many(ex: Exchange, side: str, prices: list[int], account: int = 1, symbol: str = "XB-XQ") -> None:
    """One gtc limit order of 1 lot per price, in one pipeline (ids in list order)."""
    pipe = ex.redis.pipeline(transaction=False)
    for price in prices:
        pipe.fcall(
            "ex_place", 3, f"market:{symbol}", f"balance:{account}", f"coid:{account}",
            str(account), symbol, side, "limit", "gtc", str(price), "1", "0", "0", "", "", "5",
        )  # fmt: skip
    for reply in pipe.execute(raise_on_error=False):
        assert not isinstance(reply, Exception), reply


def test_cancel_all_works_in_short_calls_that_a_loop_finishes(ex: Exchange) -> None:
    """With 30 open orders each call cancels the 12 lowest ids above `after_id` and says where to go on;
    passing `next` back finishes in three calls (bounded work per call, like the maker cap)."""
    ex.fund(1, "XQ", 10_000_000)
    _place_many(ex, "buy", [1 + i % 7 for i in range(30)])
    ids = [o["id"] for o in ex.engine.open_orders(1)]
    first = ex.engine.cancel_all(1, ex.ts())
    assert first == {"cancelled": 12, "remaining": 18, "next": ids[11]}
    second = ex.engine.cancel_all(1, ex.ts(), after_id=first["next"])
    assert second == {"cancelled": 12, "remaining": 6, "next": ids[23]}
    third = ex.engine.cancel_all(1, ex.ts(), after_id=second["next"])
    assert third == {"cancelled": 6, "remaining": 0, "next": ids[29]}
    assert ex.engine.open_orders(1) == []
    assert ex.balance(1, "XQ") == (10_000_000, 0)


def test_cancel_all_for_one_market_looks_at_100_orders_per_call_and_moves_on(ex: Exchange) -> None:
    """150 orders in YB-XQ, then 5 in XB-XQ: cancel_all for XB-XQ looks at 100 (all of the other market)
    in its first call, cancels none and says how many it has not looked at; from `next` the second call
    reaches and cancels the 5. The skipped orders stay open."""
    ex.fund(1, "XQ", 10_000_000)
    _place_many(ex, "buy", [5] * 150, symbol="YB-XQ")
    _place_many(ex, "buy", [5] * 5)
    ids = [o["id"] for o in ex.engine.open_orders(1)]
    first = ex.engine.cancel_all(1, ex.ts(), symbol="XB-XQ")
    assert first == {"cancelled": 0, "remaining": 55, "next": ids[99]}
    second = ex.engine.cancel_all(1, ex.ts(), symbol="XB-XQ", after_id=first["next"])
    assert second == {"cancelled": 5, "remaining": 0, "next": ids[154]}
    assert [o["id"] for o in ex.engine.open_orders(1)] == ids[:150]


def test_a_bad_after_id_is_invalid_argument_and_changes_nothing(ex: Exchange) -> None:
    """after_id must be a canonical non-negative integer below 2^53, like every engine integer."""
    _two_markets(ex)
    before = state_hash(ex.redis)
    for bad in ("-1", "x", "01", str(2**53)):
        with pytest.raises(redis.ResponseError, match=r"^INVALID_ARGUMENT "):
            ex.redis.fcall("ex_cancel_all", 1, "open:1", "1", "", str(ex.ts()), bad)
    assert state_hash(ex.redis) == before


def test_status_change_cancels_12_orders_per_call_in_book_order(ex: Exchange) -> None:
    """cancel_orders works in calls of 12: the bids best first (FIFO within a price), then the asks; each
    call says how many rest, and calling again goes on until none does."""
    ex.fund(1, "XB", 10_000)
    ex.fund(2, "XQ", 10_000_000)
    _place_many(ex, "sell", [100 + i % 4 for i in range(10)])
    _place_many(ex, "buy", [50 + i % 3 for i in range(6)], account=2)
    asks = {o["id"]: o["price"] for o in ex.engine.open_orders(1)}
    bids = {o["id"]: o["price"] for o in ex.engine.open_orders(2)}
    book_order = sorted(bids, key=lambda i: (-bids[i], i)) + sorted(asks, key=lambda i: (asks[i], i))
    first = ex.engine.set_market_status("XB-XQ", "cancel_only", ex.ts(), cancel_orders=True)
    assert (first["cancelled"], first["remaining"]) == (12, 4)
    second = ex.engine.set_market_status("XB-XQ", "cancel_only", ex.ts(), cancel_orders=True)
    assert second == {"status": "cancel_only", "previous": "cancel_only", "cancelled": 4, "remaining": 0}
    cancelled = [int(e["order_id"]) for e in ex.events() if e["type"] == "order_cancelled"]
    assert cancelled == book_order


def test_an_account_holds_at_most_2000_open_orders(ex: Exchange) -> None:
    """The 2,001st open order of an account (a gtc limit one, post-only too) is TOO_MANY_OPEN_ORDERS and
    changes nothing; orders that cannot rest (ioc) still go, and once one order closes a gtc one goes again.
    The cap bounds what one account makes Redis keep and what cancel_all sorts per call."""
    ex.fund(1, "XQ", 10_000_000)
    ex.fund(1, "XB", 10)
    _place_many(ex, "buy", [1 + i % 50 for i in range(1000)])
    _place_many(ex, "buy", [1 + i % 50 for i in range(1000)], symbol="YB-XQ")
    before = state_hash(ex.redis)
    with pytest.raises(errors.TooManyOpenOrders):
        ex.place(1, "buy", price=10, qty=1)
    with pytest.raises(errors.TooManyOpenOrders):
        ex.place(1, "sell", price=100, qty=1, post_only=True, symbol="YB-XQ")
    assert state_hash(ex.redis) == before
    assert ex.place(1, "sell", price=100, qty=1, tif="ioc")["order"]["status"] == "expired"
    ex.engine.cancel(1, ex.engine.open_orders(1)[0]["id"], ex.ts())
    assert ex.place(1, "buy", price=10, qty=1)["order"]["status"] == "open"
