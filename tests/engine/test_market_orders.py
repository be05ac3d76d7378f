"""Market orders: by base quantity (sell, and buy with a dry-run cost hold) and buy by quote budget."""

from __future__ import annotations

import pytest

from exchange.engine import errors
from tests.engine.conftest import Exchange


def _asks(ex: Exchange, *levels: tuple[int, int]) -> None:
    ex.fund(1, "XB", 10_000)
    for price, qty in levels:
        ex.place(1, "sell", price=price, qty=qty)


def test_market_sell_by_qty_sweeps_bids_and_expires_the_rest(ex: Exchange) -> None:
    """A market sell takes bids best first and expires its unfilled lots (reason market)."""
    ex.fund(1, "XQ", 100_000)
    ex.place(1, "buy", price=100, qty=2)
    ex.place(1, "buy", price=90, qty=2)
    ex.fund(2, "XB", 10)
    r = ex.place(2, "sell", qty=6)
    o = r["order"]
    assert [(f["price"], f["qty"]) for f in r["fills"]] == [(100, 2), (90, 2)]
    assert (o["type"], o["tif"], o["status"], o["reason"], o["filled"], o["hold"]) == (
        "market",
        "ioc",
        "expired",
        "market",
        4,
        0,
    )
    assert ex.balance(2, "XB") == (6, 0)


def test_market_buy_by_qty_holds_exactly_the_dry_run_cost(ex: Exchange) -> None:
    """A market buy by qty needs exactly the cost of its fills (fees included) and spends all of it."""
    _asks(ex, (100, 10), (110, 10))
    cost = 1002 + 552  # ceil(1000 * 1.002) + ceil(550 * 1.002)
    ex.fund(2, "XQ", cost)
    r = ex.place(2, "buy", qty=15)
    assert r["order"]["status"] == "filled" and r["order"]["filled"] == 15
    assert ex.balance(2, "XQ") == (0, 0)
    assert ex.balance(2, "XB") == (15, 0)
    accepted = [e for e in ex.events() if e["type"] == "order_accepted"][-1]
    assert accepted["hold"] == str(cost)


def test_market_buy_by_qty_one_unit_short_is_insufficient_funds(ex: Exchange) -> None:
    """A market buy by qty whose dry-run cost exceeds available by one unit is refused."""
    _asks(ex, (100, 10), (110, 10))
    ex.fund(2, "XQ", 1002 + 552 - 1)
    with pytest.raises(errors.InsufficientFunds):
        ex.place(2, "buy", qty=15)


def test_market_buy_by_quote_returns_the_unspent_budget(ex: Exchange) -> None:
    """A by-quote buy stops when the budget cannot pay one more lot, ends filled, and releases the rest."""
    _asks(ex, (100, 3), (110, 10))
    ex.fund(2, "XQ", 1_000)
    r = ex.place(2, "buy", quote_qty=1_000)
    o = r["order"]
    assert [(f["price"], f["qty"]) for f in r["fills"]] == [(100, 3), (110, 6)]
    assert (o["status"], o["reason"], o["filled"], o["hold"], o["qty"], o["quote_qty"]) == (
        "filled",
        "",
        9,
        0,
        0,
        1_000,
    )
    assert ex.balance(2, "XQ") == (1_000 - 301 - 662, 0)
    done = ex.events()[-1]
    assert (done["type"], done["released"]) == ("order_done", "37")


def test_market_buy_by_quote_spending_its_whole_budget_still_reports_filled(ex: Exchange) -> None:
    """A budget that pays its fills to the last unit leaves no hold to release, yet the order's `filled`
    status must reach the event stream (its trades say partially_filled): an order_done releasing 0."""
    _asks(ex, (100, 5))
    ex.fund(2, "XQ", 1_000)
    r = ex.place(2, "buy", quote_qty=301)  # 3 lots at 100 = 300, plus the 20 bps taker fee rounded up: 301
    o = r["order"]
    assert (o["status"], o["filled"], o["hold"]) == ("filled", 3, 0)
    assert ex.balance(2, "XQ") == (1_000 - 301, 0)
    trade, done = ex.events()[-2:]
    assert (trade["type"], trade["taker_status"]) == ("trade", "partially_filled")
    assert (done["type"], done["order_id"], done["status"], done["released"], done["ledger"]) == (
        "order_done",
        str(o["id"]),
        "filled",
        "0",
        "",
    )


def test_market_buy_by_quote_expires_when_the_book_runs_out(ex: Exchange) -> None:
    """A by-quote buy that empties the book before its budget ends expired (reason market)."""
    _asks(ex, (100, 2))
    ex.fund(2, "XQ", 1_000)
    o = ex.place(2, "buy", quote_qty=1_000)["order"]
    assert (o["status"], o["reason"], o["filled"]) == ("expired", "market", 2)
    assert ex.balance(2, "XQ") == (1_000 - 201, 0)


def test_market_buy_by_quote_too_small_for_one_lot_expires_unfilled(ex: Exchange) -> None:
    """A budget that cannot pay a single lot at the best ask expires with no fill (reason budget)."""
    _asks(ex, (100, 2))
    ex.fund(2, "XQ", 1_000)
    o = ex.place(2, "buy", quote_qty=100)["order"]  # one lot costs 101 with the taker fee
    assert (o["status"], o["reason"], o["filled"]) == ("expired", "budget", 0)
    assert ex.balance(2, "XQ") == (1_000, 0)


def test_market_order_on_an_empty_book_expires(ex: Exchange) -> None:
    """A market sell with nothing to match is accepted, then expired with its hold released."""
    ex.fund(2, "XB", 5)
    o = ex.place(2, "sell", qty=5)["order"]
    assert (o["status"], o["reason"], o["filled"]) == ("expired", "market", 0)
    assert [e["type"] for e in ex.events()] == ["order_accepted", "order_expired"]
