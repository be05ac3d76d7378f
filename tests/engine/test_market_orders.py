"""Market orders: by base quantity (sell, and buy with a dry-run cost hold), buy by quote budget, sell by
quote amount (a dry-run base hold), and the minimum notional of an order by quantity at the touch."""

from __future__ import annotations

import pytest

from exchange.engine import errors
from exchange.engine.state import state_hash
from exchange.money import MarketSpec
from tests.engine.conftest import Exchange

# NB-XQ: tick 0.1 of a 0-decimal quote (num/den = 1/10: q lots at p ticks are worth floor(p*q/10) XQ),
# min notional 50 XQ. At a touch of 100 ticks 5 lots are exactly the minimum.
MIN_NOTIONAL = MarketSpec("NB-XQ", "NB", "XQ", "0.1", "1", "1", "1000000", "50", "1000000", 10, 20)
NB = "NB-XQ"


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


def _bids(ex: Exchange, *levels: tuple[int, int]) -> None:
    ex.fund(1, "XQ", 100_000)
    for price, qty in levels:
        ex.place(1, "buy", price=price, qty=qty)


def test_market_sell_by_quote_sells_the_base_worth_its_amount_and_holds_exactly_that(ex: Exchange) -> None:
    """A sell by quote takes bids best first, as many lots at each price as the rest of the amount is worth
    (notional, before the taker fee, which comes out of the proceeds); it holds exactly the base it sells
    (a dry run of the same walk) and ends filled where the amount cannot buy one more lot."""
    _bids(ex, (100, 3), (90, 10))
    ex.fund(2, "XB", 20)
    r = ex.place(2, "sell", quote_qty=1_000)
    o = r["order"]
    assert [(f["price"], f["qty"]) for f in r["fills"]] == [(100, 3), (90, 7)]  # 300 + 630; 70 buys no lot
    assert (o["status"], o["reason"], o["filled"], o["hold"], o["qty"], o["quote_qty"]) == (
        "filled",
        "",
        10,
        0,
        0,
        1_000,
    )
    assert ex.balance(2, "XB") == (10, 0)
    assert ex.balance(2, "XQ") == (299 + 628, 0)  # floor(300 * 0.998) + floor(630 * 0.998)
    accepted = next(e for e in ex.events() if e["type"] == "order_accepted" and e["order_id"] == str(o["id"]))
    assert (accepted["hold_asset"], accepted["hold"]) == ("XB", "10")
    done = ex.events()[-1]
    assert (done["type"], done["status"], done["released"]) == ("order_done", "filled", "0")


def test_market_sell_by_quote_needs_only_the_base_it_sells(ex: Exchange) -> None:
    """The hold is the base the walk sells, not a guess: exactly that much is enough, one unit less is
    INSUFFICIENT_FUNDS and changes nothing."""
    _bids(ex, (100, 3), (90, 10))
    ex.fund(2, "XB", 9)
    before = state_hash(ex.redis)
    with pytest.raises(errors.InsufficientFunds):
        ex.place(2, "sell", quote_qty=1_000)
    assert state_hash(ex.redis) == before
    ex.fund(2, "XB", 1)
    assert ex.place(2, "sell", quote_qty=1_000)["order"]["status"] == "filled"
    assert ex.balance(2, "XB") == (0, 0)


def test_market_sell_by_quote_rounds_each_price_down_to_what_the_amount_is_worth(ex: Exchange) -> None:
    """With a tick of 0.1 quote unit (num/den = 1/10), q lots at p ticks are worth floor(p * q / 10): the
    sell takes the most lots whose notional fits in what is left, never more."""
    ex.fund(1, "XQ", 100_000)
    ex.place(1, "buy", price=123, qty=50, symbol="YB-XQ")  # 12.3 XQ a lot
    ex.fund(2, "YB", 50)
    r = ex.place(2, "sell", quote_qty=100, symbol="YB-XQ")
    assert [(f["price"], f["qty"], f["notional"]) for f in r["fills"]] == [(123, 8, 98)]  # 9 lots: 110
    assert r["order"]["status"] == "filled"


def test_market_sell_by_quote_expires_when_the_bids_run_out(ex: Exchange) -> None:
    """A sell by quote that empties the bids before its amount is reached expires (reason market), having
    held and sold only what it met."""
    _bids(ex, (100, 2))
    ex.fund(2, "XB", 50)
    o = ex.place(2, "sell", quote_qty=1_000)["order"]
    assert (o["status"], o["reason"], o["filled"], o["hold"]) == ("expired", "market", 2, 0)
    assert ex.balance(2, "XB") == (48, 0)


def test_market_sell_by_quote_too_small_for_one_lot_expires_unfilled(ex: Exchange) -> None:
    """An amount worth less than one lot at the best bid expires with no fill (reason budget), holding
    nothing: an account with no base at all gets the same answer."""
    _bids(ex, (100, 2))
    o = ex.place(2, "sell", quote_qty=99)["order"]
    assert (o["status"], o["reason"], o["filled"], o["hold"]) == ("expired", "budget", 0, 0)


def test_market_sell_by_quote_of_2_53_is_too_large(ex: Exchange) -> None:
    """An amount of 2^53 minor units or more cannot be counted exactly: QTY_TOO_LARGE, nothing written."""
    _bids(ex, (100, 2))
    before = state_hash(ex.redis)
    with pytest.raises(errors.QtyTooLarge):
        ex.place(2, "sell", quote_qty=2**53)
    assert state_hash(ex.redis) == before


def test_market_order_on_an_empty_book_expires(ex: Exchange) -> None:
    """A market sell with nothing to match is accepted, then expired with its hold released."""
    ex.fund(2, "XB", 5)
    o = ex.place(2, "sell", qty=5)["order"]
    assert (o["status"], o["reason"], o["filled"]) == ("expired", "market", 0)
    assert [e["type"] for e in ex.events()] == ["order_accepted", "order_expired"]


# ---- the minimum notional of a market order by qty, at the touch ----------------------------------------


@pytest.fixture
def nb(ex: Exchange) -> Exchange:
    """The NB-XQ market; account 1 makes, account 2 takes, both funded in NB and XQ."""
    ex.engine.create_asset("NB", "Min-notional base", 0)
    ex.engine.create_market(MIN_NOTIONAL)
    for account in (1, 2):
        ex.fund(account, "NB", 1_000)
        ex.fund(account, "XQ", 100_000)
    return ex


def _touch(ex: Exchange, taker_side: str, best: int = 100) -> None:
    """The side a taker of `taker_side` meets: 10 lots at `best`, 10 more one level worse for the taker."""
    maker_side = "sell" if taker_side == "buy" else "buy"
    worse = best * 2 if taker_side == "buy" else best // 2
    for price in (best, worse):
        ex.place(1, maker_side, price=price, qty=10, symbol=NB)


@pytest.mark.parametrize("side", ["buy", "sell"])
def test_market_order_by_qty_below_min_notional_at_the_touch_is_refused_and_changes_nothing(
    nb: Exchange, side: str
) -> None:
    """4 lots at the touch of 100 ticks are worth 40 < 50: NOTIONAL_TOO_SMALL, and no key changes (the
    levels behind the touch, which the order would also reach, do not count)."""
    _touch(nb, side)
    before = state_hash(nb.redis)
    with pytest.raises(errors.NotionalTooSmall) as info:
        nb.place(2, side, qty=4, symbol=NB)
    assert info.value.code == errors.ErrorCode.NOTIONAL_TOO_SMALL
    assert state_hash(nb.redis) == before


@pytest.mark.parametrize("side", ["buy", "sell"])
@pytest.mark.parametrize("qty", [5, 6], ids=["exactly-at-min", "above-min"])
def test_market_order_by_qty_at_or_above_min_notional_at_the_touch_fills(
    nb: Exchange, side: str, qty: int
) -> None:
    """5 lots at the touch of 100 ticks are worth exactly the minimum of 50 and go through, as 6 do."""
    _touch(nb, side)
    r = nb.place(2, side, qty=qty, symbol=NB)
    o = r["order"]
    assert (o["status"], o["filled"]) == ("filled", qty)
    assert [(f["price"], f["qty"]) for f in r["fills"]] == [(100, qty)]


def test_min_notional_at_the_touch_rounds_down_as_a_limit_orders_does(nb: Exchange) -> None:
    """At a best ask of 99 ticks, 5 lots are worth floor(49.5) = 49 < 50: refused, as a limit buy of 5 at
    99 is; 6 lots (59) go through."""
    _touch(nb, "buy", best=99)
    with pytest.raises(errors.NotionalTooSmall):
        nb.place(2, "buy", price=99, qty=5, symbol=NB, tif="ioc")
    with pytest.raises(errors.NotionalTooSmall):
        nb.place(2, "buy", qty=5, symbol=NB)
    assert nb.place(2, "buy", qty=6, symbol=NB)["order"]["filled"] == 6


@pytest.mark.parametrize("side", ["buy", "sell"])
def test_market_order_by_qty_meeting_an_empty_side_is_not_checked_and_expires(
    nb: Exchange, side: str
) -> None:
    """With nothing on the opposite side there is no touch to check: even one lot (worth far less than the
    minimum at any resting price) is accepted and expires unfilled, whatever rests on its own side."""
    nb.place(1, side, price=100, qty=10, symbol=NB)  # the taker's own side is not the touch
    o = nb.place(2, side, qty=1, symbol=NB)["order"]
    assert (o["status"], o["reason"], o["filled"], o["hold"]) == ("expired", "market", 0, 0)
    assert [e["type"] for e in nb.events(NB)][-2:] == ["order_accepted", "order_expired"]


def test_a_retry_returns_its_order_even_when_the_touch_is_now_too_small(nb: Exchange) -> None:
    """The check reads the book, so it runs after the client_order_id lookup: a retry of an accepted market
    order returns that order (duplicate) though the same order placed afresh would now be refused."""
    nb.place(1, "sell", price=100, qty=5, symbol=NB)
    first = nb.place(2, "buy", qty=5, symbol=NB, client_order_id="m-1")["order"]
    assert first["status"] == "filled"
    nb.place(1, "sell", price=90, qty=10, symbol=NB)  # the touch is now 90: 5 lots are worth 45
    again = nb.place(2, "buy", qty=5, symbol=NB, client_order_id="m-1")
    assert again["duplicate"] is True and again["order"]["id"] == first["id"]
    with pytest.raises(errors.NotionalTooSmall):
        nb.place(2, "buy", qty=5, symbol=NB)


def test_the_touch_is_checked_after_the_argument_checks_and_before_the_funds(nb: Exchange) -> None:
    """A market order too small at the touch that is also malformed gets the argument's code; one whose
    account lacks the funds gets NOTIONAL_TOO_SMALL (docs/engine.md, the validation table)."""
    _touch(nb, "buy")
    with pytest.raises(errors.InvalidPostOnly):
        nb.place(2, "buy", qty=4, symbol=NB, post_only=True)
    with pytest.raises(errors.InvalidArgument):
        nb.place(2, "buy", qty=4, symbol=NB, client_order_id="bad id!")
    with pytest.raises(errors.NotionalTooSmall):
        nb.place(3, "buy", qty=4, symbol=NB)  # account 3 has nothing
    with pytest.raises(errors.InsufficientFunds):
        nb.place(3, "buy", qty=5, symbol=NB)
