"""Self-trade prevention (each mode, reported) and the MAX_MAKERS cap per call."""

from __future__ import annotations

from exchange.reference import MAX_MAKERS
from tests.engine.conftest import Exchange


def _book(ex: Exchange) -> tuple[int, int]:
    """Account 1 asks 2 @ 50 (own maker for the taker below), account 2 asks 2 @ 51."""
    ex.fund(1, "XB", 100)
    ex.fund(1, "XQ", 100_000)
    ex.fund(2, "XB", 100)
    own = ex.place(1, "sell", price=50, qty=2)["order"]["id"]
    other = ex.place(2, "sell", price=51, qty=2)["order"]["id"]
    return own, other


def test_cancel_maker_cancels_the_own_maker_and_keeps_matching(ex: Exchange) -> None:
    """stp=cancel_maker (default): the own maker is cancelled (reason stp), the taker trades with the next."""
    own, other = _book(ex)
    r = ex.place(1, "buy", price=51, qty=2)
    assert r["stp"] == [own]
    assert [f["maker_order_id"] for f in r["fills"]] == [other]
    assert r["order"]["status"] == "filled"
    m = ex.engine.get_order(own)
    assert (m["status"], m["reason"], m["hold"]) == ("cancelled", "stp", 0)
    cancelled = [e for e in ex.events() if e["type"] == "order_cancelled"]
    assert [(e["order_id"], e["reason"]) for e in cancelled] == [(str(own), "stp")]


def test_cancel_taker_cancels_the_taker_and_keeps_the_maker(ex: Exchange) -> None:
    """stp=cancel_taker: the taker's remainder is cancelled (reason stp); the own maker stays in the book."""
    own, _other = _book(ex)
    r = ex.place(1, "buy", price=51, qty=2, stp="cancel_taker")
    o = r["order"]
    assert (o["status"], o["reason"], o["filled"], o["hold"]) == ("cancelled", "stp", 0, 0)
    assert r["stp"] == [o["id"]]
    assert ex.engine.get_order(own)["status"] == "open"
    assert ex.engine.book("XB-XQ")["asks"] == [[50, 2, 1], [51, 2, 1]]


def test_cancel_taker_after_partial_fill_keeps_the_filled_lots(ex: Exchange) -> None:
    """A cancel_taker taker that traded before reaching its own maker is cancelled with its fills kept."""
    ex.fund(1, "XB", 100)
    ex.fund(1, "XQ", 100_000)
    ex.fund(2, "XB", 100)
    ex.place(2, "sell", price=49, qty=1)
    ex.place(1, "sell", price=50, qty=2)
    o = ex.place(1, "buy", price=50, qty=3, stp="cancel_taker")["order"]
    assert (o["status"], o["reason"], o["filled"]) == ("cancelled", "stp", 1)


def test_cancel_both_cancels_maker_and_taker(ex: Exchange) -> None:
    """stp=cancel_both: the own maker and the taker are both cancelled and both reported."""
    own, other = _book(ex)
    r = ex.place(1, "buy", price=51, qty=2, stp="cancel_both")
    assert r["stp"] == [own, r["order"]["id"]]
    assert r["fills"] == []
    assert ex.engine.get_order(own)["status"] == "cancelled"
    assert ex.engine.get_order(other)["status"] == "open"
    assert ex.engine.book("XB-XQ")["asks"] == [[51, 2, 1]]


def _makers(ex: Exchange, count: int) -> None:
    ex.fund(2, "XB", count)
    for _ in range(count):
        ex.place(2, "sell", price=50, qty=1)


def test_max_makers_cap_expires_the_remainder_and_never_crosses(ex: Exchange) -> None:
    """With MAX_MAKERS + 1 one-lot makers, a bigger gtc buy fills MAX_MAKERS, expires (max_makers), does not
    rest."""
    _makers(ex, MAX_MAKERS + 1)
    ex.fund(1, "XQ", 1_000_000)
    r = ex.place(1, "buy", price=50, qty=MAX_MAKERS + 50)
    o = r["order"]
    assert len(r["fills"]) == MAX_MAKERS
    assert (o["status"], o["reason"], o["filled"], o["hold"]) == ("expired", "max_makers", MAX_MAKERS, 0)
    assert ex.engine.book("XB-XQ") == {"seq": MAX_MAKERS + 2, "bids": [], "asks": [[50, 1, 1]]}


def test_cap_reached_exactly_when_the_book_runs_out_lets_the_remainder_rest(ex: Exchange) -> None:
    """With exactly MAX_MAKERS makers the taker is not stopped by the cap: its remainder rests."""
    _makers(ex, MAX_MAKERS)
    ex.fund(1, "XQ", 1_000_000)
    o = ex.place(1, "buy", price=50, qty=MAX_MAKERS + 50)["order"]
    assert (o["status"], o["filled"]) == ("partially_filled", MAX_MAKERS)
    assert ex.engine.book("XB-XQ")["bids"] == [[50, 50, 1]]


def test_stp_cancelled_makers_count_toward_the_cap(ex: Exchange) -> None:
    """MAX_MAKERS own makers cancelled by STP use up the cap: the next (foreign) maker is not reached."""
    ex.fund(1, "XB", MAX_MAKERS)
    for _ in range(MAX_MAKERS):
        ex.place(1, "sell", price=50, qty=1)
    ex.fund(2, "XB", 1)
    ex.place(2, "sell", price=50, qty=1)
    ex.fund(1, "XQ", 1_000_000)
    r = ex.place(1, "buy", price=50, qty=1)
    assert len(r["stp"]) == MAX_MAKERS and r["fills"] == []
    assert (r["order"]["status"], r["order"]["reason"]) == ("expired", "max_makers")
