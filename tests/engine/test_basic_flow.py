"""Place, match, cancel and deposit through the Engine API."""

from __future__ import annotations

import pytest

from exchange.engine import errors
from tests.engine.conftest import Exchange


def test_resting_limit_order_holds_funds_and_shows_in_book(ex: Exchange) -> None:
    """A non-crossing limit buy rests, holds qty * per-lot hold and appears as a book level."""
    ex.fund(1, "XQ", 10_000)
    r = ex.place(1, "buy", price=100, qty=10)
    o = r["order"]
    assert (o["status"], o["filled"], o["hold"], o["hold_asset"]) == ("open", 0, 10 * 101, "XQ")
    assert r["fills"] == [] and r["stp"] == [] and r["duplicate"] is False
    assert ex.balance(1, "XQ") == (10_000 - 1010, 1010)
    assert ex.engine.book("XB-XQ") == {"seq": 1, "bids": [[100, 10, 1]], "asks": []}
    assert ex.engine.get_order(o["id"]) == o
    assert ex.engine.open_orders(1) == [o]


def test_crossing_buy_trades_at_maker_prices_and_rests_nothing_when_filled(ex: Exchange) -> None:
    """A buy sweeping two ask levels trades at each maker's price and settles both sides with fees."""
    ex.fund(1, "XQ", 100_000)
    ex.fund(2, "XB", 1_000)
    a = ex.place(2, "sell", price=100, qty=10)["order"]
    b = ex.place(2, "sell", price=101, qty=10)["order"]
    r = ex.place(1, "buy", price=101, qty=15)
    assert [(f["price"], f["qty"], f["maker_order_id"], f["notional"], f["fee"]) for f in r["fills"]] == [
        (100, 10, a["id"], 1000, 2),
        (101, 5, b["id"], 505, 2),
    ]
    assert r["order"]["status"] == "filled" and r["order"]["hold"] == 0
    assert ex.balance(1, "XB") == (15, 0)
    assert ex.balance(1, "XQ") == (100_000 - 1002 - 507, 0)
    assert ex.balance(2, "XQ") == (999 + 504, 0)
    assert ex.balance(0, "XQ") == (3 + 3, 0)
    assert ex.engine.book("XB-XQ")["asks"] == [[101, 5, 1]]
    assert ex.engine.get_order(b["id"])["status"] == "partially_filled"


def test_cancel_releases_hold_and_second_cancel_is_order_closed(ex: Exchange) -> None:
    """Cancel returns the cancelled order and releases the hold; cancelling again raises ORDER_CLOSED."""
    ex.fund(1, "XQ", 10_000)
    o = ex.place(1, "buy", price=100, qty=10)["order"]
    c = ex.engine.cancel(1, o["id"], ex.ts())
    assert (c["status"], c["reason"], c["hold"]) == ("cancelled", "user", 0)
    assert ex.balance(1, "XQ") == (10_000, 0)
    assert ex.engine.book("XB-XQ")["bids"] == []
    with pytest.raises(errors.OrderClosed):
        ex.engine.cancel(1, o["id"], ex.ts())


def test_deposit_with_same_ref_is_idempotent(ex: Exchange) -> None:
    """A repeated deposit ref returns the original result with duplicate true and credits once."""
    first = ex.engine.deposit(7, "XQ", 500, "dep-1", 1)
    again = ex.engine.deposit(7, "XQ", 500, "dep-1", 2)
    assert first == {
        "account": 7,
        "asset": "XQ",
        "amount": 500,
        "available": 500,
        "held": 0,
        "duplicate": False,
    }
    assert again == {**first, "duplicate": True}
    assert ex.balance(7, "XQ") == (500, 0)
