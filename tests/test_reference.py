"""Unit tests of the pure-Python reference matcher (exchange/reference), with hand-computed numbers.

The test market has lot_minor=100, num/den=1/3, maker 10 bps, taker 25 bps, so every rounding rule of
docs/engine.md shows up in small numbers.
"""

from __future__ import annotations

from collections import defaultdict

import pytest

from exchange.reference import MAX_MAKERS, Reference

SYM = "AAA-QQQ"


def _ref() -> Reference:
    ref = Reference()
    ref.create_asset("AAA", "Base asset", 2)
    ref.create_asset("QQQ", "Quote asset", 0)
    ref.create_market_fields(
        symbol=SYM,
        base="AAA",
        quote="QQQ",
        lot_minor=100,
        num=1,
        den=3,
        min_lots=1,
        max_lots=1000,
        max_price_ticks=1_000_000,
        min_notional_minor=0,
        maker_bps=10,
        taker_bps=25,
    )
    return ref


def _fund(ref: Reference, account: int, base: int = 0, quote: int = 0) -> None:
    if base:
        ref.deposit(account, "AAA", base, f"b{account}-{base}", 1)
    if quote:
        ref.deposit(account, "QQQ", quote, f"q{account}-{quote}", 1)


def _check(ref: Reference) -> None:
    """Ledger lines reproduce balances, held equals open holds, nothing negative, conservation."""
    from_ledger: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0, 0])
    for stream in ref.streams.values():
        for entry in stream:
            for line in filter(None, entry.get("ledger", "").split(";")):
                account, asset, d_avail, d_held = line.split(",")
                cell = from_ledger[int(account), asset]
                cell[0] += int(d_avail)
                cell[1] += int(d_held)
    holds: dict[tuple[int, str], int] = defaultdict(int)
    for order in ref.orders.values():
        if order.is_open:
            holds[order.account, order.hold_asset] += order.hold
        else:
            assert order.hold == 0
    for account, assets in ref.accounts.items():
        for asset, (available, held) in assets.items():
            assert available >= 0 and held >= 0
            assert from_ledger[account, asset] == [available, held]
            assert held == holds[account, asset]
    book = ref.book(SYM, 1)
    if book["bids"] and book["asks"]:
        assert book["bids"][0][0] < book["asks"][0][0]


def test_trade_rounds_buyer_up_seller_down_and_fee_account_gets_the_difference() -> None:
    """One trade of 7 lots at 10 ticks: buyer pays 24, seller gets 23, fee account 1, leftover hold back."""
    ref = _ref()
    _fund(ref, 1, base=700)
    _fund(ref, 2, quote=100)
    maker = ref.place(1, SYM, "sell", "limit", price=10, qty=7, ts_ms=5)["order"]
    assert ref.balances(1)["AAA"] == (0, 700)
    result = ref.place(2, SYM, "buy", "limit", price=11, qty=7, ts_ms=6)
    # h = ceil(11 * 10025 / 30000) = 4 per lot -> hold 28; X = 70, notional 23,
    # buyer_pays = ceil(70 * 10025 / 30000) = 24, seller_gets = floor(70 * 9990 / 30000) = 23
    assert result["fills"] == [
        {
            "trade_id": 1,
            "price": 10,
            "qty": 7,
            "notional": 23,
            "fee": 1,
            "maker_order_id": maker["id"],
            "liquidity": "taker",
            "ts": 6,
        }
    ]
    assert result["order"]["status"] == "filled" and result["order"]["hold"] == 0
    assert ref.balances(2) == {"AAA": (700, 0), "QQQ": (76, 0)}
    assert ref.balances(1) == {"AAA": (0, 0), "QQQ": (23, 0)}
    assert ref.balances(0) == {"AAA": (0, 0), "QQQ": (1, 0)}
    types = [e["type"] for e in ref.events(f"events:{SYM}")]
    assert types == ["order_accepted", "order_accepted", "trade", "order_done"]
    done = ref.events(f"events:{SYM}")[-1]
    assert (done["order_id"], done["released"], done["ledger"]) == ("2", "4", "2,QQQ,4,-4")
    _check(ref)


def test_buy_limit_holds_per_lot_hold_rounded_up_and_cancel_releases_it() -> None:
    """A resting buy of 5 at 10 holds 5 * ceil(10 * 10025 / 30000) = 20; cancel gives back all 20."""
    ref = _ref()
    _fund(ref, 1, quote=50)
    order = ref.place(1, SYM, "buy", "limit", price=10, qty=5, ts_ms=2)["order"]
    assert (order["status"], order["hold"], order["hold_asset"]) == ("open", 20, "QQQ")
    assert ref.balances(1)["QQQ"] == (30, 20)
    assert ref.book(SYM) == {"seq": 1, "bids": [[10, 5, 1]], "asks": []}
    cancelled = ref.cancel(1, order["id"], 3)
    assert (cancelled["status"], cancelled["reason"], cancelled["hold"]) == ("cancelled", "user", 0)
    assert ref.balances(1)["QQQ"] == (50, 0)
    with pytest.raises(Exception) as err:
        ref.cancel(1, order["id"], 4)
    assert getattr(err.value, "code", None) == "ORDER_CLOSED"
    with pytest.raises(Exception) as err:
        ref.cancel(2, order["id"], 4)
    assert getattr(err.value, "code", None) == "UNKNOWN_ORDER"
    _check(ref)


def test_insufficient_funds_changes_nothing() -> None:
    """A buy whose hold exceeds available raises INSUFFICIENT_FUNDS and assigns no id and no event."""
    ref = _ref()
    _fund(ref, 1, quote=19)
    with pytest.raises(Exception) as err:
        ref.place(1, SYM, "buy", "limit", price=10, qty=5, ts_ms=2)
    assert getattr(err.value, "code", None) == "INSUFFICIENT_FUNDS"
    assert ref.order_seq == 0 and ref.events(f"events:{SYM}") == []
    _check(ref)


def test_stp_cancel_maker_cancels_own_maker_and_keeps_matching() -> None:
    """cancel_maker: the own maker is cancelled (reported), the next maker trades, the rest rests."""
    ref = _ref()
    _fund(ref, 1, base=200, quote=100)
    _fund(ref, 2, base=300)
    own = ref.place(1, SYM, "sell", "limit", price=10, qty=2, ts_ms=1)["order"]
    other = ref.place(2, SYM, "sell", "limit", price=10, qty=3, ts_ms=1)["order"]
    result = ref.place(1, SYM, "buy", "limit", price=10, qty=5, ts_ms=2)
    assert result["stp"] == [own["id"]]
    assert [f["maker_order_id"] for f in result["fills"]] == [other["id"]]
    assert (result["order"]["status"], result["order"]["filled"]) == ("partially_filled", 3)
    assert ref.get_order(own["id"])["status"] == "cancelled"  # type: ignore[index]
    assert ref.get_order(own["id"])["reason"] == "stp"  # type: ignore[index]
    assert ref.book(SYM, 5)["bids"] == [[10, 2, 1]] and ref.book(SYM)["asks"] == []
    _check(ref)


def test_stp_cancel_taker_and_cancel_both() -> None:
    """cancel_taker keeps the maker and cancels the taker; cancel_both cancels both."""
    ref = _ref()
    _fund(ref, 1, base=400, quote=200)
    maker = ref.place(1, SYM, "sell", "limit", price=10, qty=2, ts_ms=1)["order"]
    taker = ref.place(1, SYM, "buy", "limit", price=10, qty=2, stp="cancel_taker", ts_ms=2)
    assert taker["order"]["status"] == "cancelled" and taker["order"]["reason"] == "stp"
    assert taker["stp"] == [taker["order"]["id"]] and taker["fills"] == []
    assert ref.get_order(maker["id"])["status"] == "open"  # type: ignore[index]
    both = ref.place(1, SYM, "buy", "limit", price=10, qty=2, stp="cancel_both", ts_ms=3)
    assert both["stp"] == [maker["id"], both["order"]["id"]]
    assert ref.get_order(maker["id"])["status"] == "cancelled"  # type: ignore[index]
    assert ref.balances(1) == {"AAA": (400, 0), "QQQ": (200, 0)}
    _check(ref)


def test_fok_is_all_or_nothing() -> None:
    """A FOK for more than the book holds expires with no trade; one that fits fills completely."""
    ref = _ref()
    _fund(ref, 1, base=300)
    _fund(ref, 2, quote=100)
    ref.place(1, SYM, "sell", "limit", price=10, qty=3, ts_ms=1)
    miss = ref.place(2, SYM, "buy", "limit", price=10, qty=4, tif="fok", ts_ms=2)
    assert (miss["order"]["status"], miss["order"]["reason"], miss["fills"]) == (
        "expired",
        "fok_unfilled",
        [],
    )
    assert ref.balances(2)["QQQ"] == (100, 0) and ref.book(SYM)["asks"] == [[10, 3, 1]]
    hit = ref.place(2, SYM, "buy", "limit", price=10, qty=3, tif="fok", ts_ms=3)
    assert hit["order"]["status"] == "filled" and sum(f["qty"] for f in hit["fills"]) == 3
    _check(ref)


def test_market_buy_by_quote_spends_what_it_can_and_returns_the_rest() -> None:
    """Budget 40: 2 lots at 10 cost 7, 4 lots at 20 cost 27, the last 6 cannot buy a lot and come back."""
    ref = _ref()
    _fund(ref, 2, base=200)
    _fund(ref, 3, base=500)
    _fund(ref, 1, quote=100)
    ref.place(2, SYM, "sell", "limit", price=10, qty=2, ts_ms=1)
    ref.place(3, SYM, "sell", "limit", price=20, qty=5, ts_ms=1)
    result = ref.place(1, SYM, "buy", "market", quote_qty=40, ts_ms=2)
    assert [(f["price"], f["qty"]) for f in result["fills"]] == [(10, 2), (20, 4)]
    order = result["order"]
    assert (order["status"], order["filled"], order["hold"], order["tif"]) == ("filled", 6, 0, "ioc")
    assert ref.balances(1) == {"AAA": (600, 0), "QQQ": (66, 0)}
    assert ref.book(SYM)["asks"] == [[20, 1, 1]]
    _check(ref)


def test_market_buy_by_qty_holds_its_dry_run_cost() -> None:
    """A market buy of 3 lots needs the exact cost of its fills; one unit less is INSUFFICIENT_FUNDS."""
    ref = _ref()
    _fund(ref, 2, base=500)
    ref.place(2, SYM, "sell", "limit", price=10, qty=1, ts_ms=1)
    ref.place(2, SYM, "sell", "limit", price=12, qty=4, ts_ms=1)
    cost = -(-10 * 10025 // 30000) + -(-24 * 10025 // 30000)  # 4 + 9 = 13
    _fund(ref, 1, quote=cost - 1)
    with pytest.raises(Exception) as err:
        ref.place(1, SYM, "buy", "market", qty=3, ts_ms=2)
    assert getattr(err.value, "code", None) == "INSUFFICIENT_FUNDS"
    _fund(ref, 1, quote=1)
    result = ref.place(1, SYM, "buy", "market", qty=3, ts_ms=3)
    assert result["order"]["status"] == "filled" and ref.balances(1)["QQQ"] == (0, 0)
    _fund(ref, 3, base=200)
    sell = ref.place(3, SYM, "sell", "market", qty=2, ts_ms=4)
    assert (sell["order"]["status"], sell["order"]["reason"], sell["fills"]) == ("expired", "market", [])
    _check(ref)


def test_market_order_by_qty_is_checked_against_min_notional_at_the_touch() -> None:
    """With a minimum of 10: a market sell meets the best bid of 9 (3 lots: floor(27/3) = 9 < 10, refused
    with nothing changed; 4 lots: 12, fills), a market buy the best ask of 10 (2 lots: 6, refused; 3 lots:
    exactly 10, fills); deeper levels do not count, and an empty opposite side is not checked."""
    ref = _ref()
    ref.create_market_fields(
        symbol=SYM, base="AAA", quote="QQQ", lot_minor=100, num=1, den=3, min_lots=1, max_lots=1000,
        max_price_ticks=1_000_000, min_notional_minor=10, maker_bps=10, taker_bps=25,
    )  # fmt: skip
    _fund(ref, 1, base=10_000, quote=10_000)
    _fund(ref, 2, base=10_000, quote=10_000)
    expired = ref.place(2, SYM, "sell", "market", qty=1, ts_ms=1)["order"]  # no bids yet: not checked
    assert (expired["status"], expired["reason"]) == ("expired", "market")
    for price in (10, 30):
        ref.place(1, SYM, "sell", "limit", price=price, qty=10, ts_ms=2)
    for price in (9, 5):
        ref.place(1, SYM, "buy", "limit", price=price, qty=10, ts_ms=2)

    def state() -> tuple[object, ...]:
        return ref.order_seq, ref.call_seq, ref.balances(2), ref.book(SYM), ref.events(f"events:{SYM}")

    for side, qty in (("buy", 2), ("sell", 3)):
        before = state()
        with pytest.raises(Exception) as err:
            ref.place(2, SYM, side, "market", qty=qty, ts_ms=3)
        assert getattr(err.value, "code", None) == "NOTIONAL_TOO_SMALL", side
        assert state() == before, side
    buy = ref.place(2, SYM, "buy", "market", qty=3, ts_ms=4)
    assert (buy["order"]["status"], [(f["price"], f["qty"]) for f in buy["fills"]]) == ("filled", [(10, 3)])
    sell = ref.place(2, SYM, "sell", "market", qty=4, ts_ms=5)
    assert (sell["order"]["status"], [(f["price"], f["qty"]) for f in sell["fills"]]) == ("filled", [(9, 4)])
    _check(ref)


def test_post_only_that_would_take_is_rejected_without_a_hold() -> None:
    """A post-only buy at the best ask is rejected (order_rejected); below it, it rests."""
    ref = _ref()
    _fund(ref, 2, base=100)
    _fund(ref, 1, quote=100)
    ref.place(2, SYM, "sell", "limit", price=10, qty=1, ts_ms=1)
    rejected = ref.place(1, SYM, "buy", "limit", price=10, qty=1, post_only=True, ts_ms=2)["order"]
    assert (rejected["status"], rejected["reason"], rejected["hold"]) == (
        "rejected",
        "post_only_would_take",
        0,
    )
    assert ref.events(f"events:{SYM}")[-1]["type"] == "order_rejected"
    rests = ref.place(1, SYM, "buy", "limit", price=9, qty=1, post_only=True, ts_ms=3)["order"]
    assert rests["status"] == "open"
    _check(ref)


def test_max_makers_cap_expires_the_remainder_and_never_crosses() -> None:
    """A taker needing more than MAX_MAKERS makers fills MAX_MAKERS and expires the rest (max_makers)."""
    ref = _ref()
    _fund(ref, 2, base=100 * (MAX_MAKERS + 5))
    _fund(ref, 1, quote=10_000)
    for _ in range(MAX_MAKERS + 5):
        ref.place(2, SYM, "sell", "limit", price=10, qty=1, ts_ms=1)
    result = ref.place(1, SYM, "buy", "limit", price=10, qty=MAX_MAKERS + 10, ts_ms=2)
    order = result["order"]
    assert (order["status"], order["reason"], order["filled"]) == ("expired", "max_makers", MAX_MAKERS)
    assert ref.book(SYM) == {"seq": MAX_MAKERS + 6, "bids": [], "asks": [[10, 5, 5]]}
    _check(ref)


def test_client_order_id_retry_returns_original_and_conflict_raises() -> None:
    """Same client_order_id and fields: the original with duplicate=True; other fields: a conflict."""
    ref = _ref()
    _fund(ref, 1, quote=100)
    first = ref.place(1, SYM, "buy", "limit", price=10, qty=1, client_order_id="abc-1", ts_ms=1)
    again = ref.place(1, SYM, "buy", "limit", price=10, qty=1, client_order_id="abc-1", ts_ms=2)
    assert again["duplicate"] is True and again["order"] == first["order"] and ref.order_seq == 1
    with pytest.raises(Exception) as err:
        ref.place(1, SYM, "buy", "limit", price=11, qty=1, client_order_id="abc-1", ts_ms=3)
    assert getattr(err.value, "code", None) == "DUPLICATE_CLIENT_ORDER_ID"
    _check(ref)


def test_deposit_refs_are_idempotent_and_withdraw_checks_funds() -> None:
    """A repeated deposit ref returns the original result; a changed one is DUPLICATE_REF."""
    ref = _ref()
    first = ref.deposit(1, "QQQ", 10, "r1", 1)
    assert first == {
        "account": 1,
        "asset": "QQQ",
        "amount": 10,
        "available": 10,
        "held": 0,
        "duplicate": False,
    }
    assert ref.deposit(1, "QQQ", 10, "r1", 2) == {**first, "duplicate": True}
    for call, code in (
        (lambda: ref.deposit(1, "QQQ", 11, "r1", 2), "DUPLICATE_REF"),
        (lambda: ref.withdraw(1, "QQQ", 11, "w1", 2), "INSUFFICIENT_FUNDS"),
        (lambda: ref.deposit(1, "ZZZ", 1, "r2", 2), "UNKNOWN_ASSET"),
        (lambda: ref.deposit(1, "QQQ", 0, "r3", 2), "INVALID_AMOUNT"),
    ):
        with pytest.raises(Exception) as err:
            call()
        assert getattr(err.value, "code", None) == code
    assert ref.withdraw(1, "QQQ", 4, "w2", 3)["available"] == 6
    assert [e["type"] for e in ref.events("events:wallet")] == ["deposit", "withdrawal"]
    _check(ref)


def test_market_status_cancel_orders_and_halted_cancel() -> None:
    """halted refuses cancels; cancel_only with cancel_orders cancels the book in book order (bids best
    first)."""
    ref = _ref()
    _fund(ref, 1, quote=100)
    a = ref.place(1, SYM, "buy", "limit", price=5, qty=1, ts_ms=1)["order"]
    b = ref.place(1, SYM, "buy", "limit", price=6, qty=1, ts_ms=1)["order"]
    ref.set_market_status(SYM, "halted", 2)
    with pytest.raises(Exception) as err:
        ref.cancel(1, a["id"], 3)
    assert getattr(err.value, "code", None) == "MARKET_HALTED"
    with pytest.raises(Exception) as err:
        ref.place(1, SYM, "buy", "limit", price=5, qty=1, ts_ms=3)
    assert getattr(err.value, "code", None) == "MARKET_NOT_TRADING"
    assert ref.cancel_all(1, 3) == {"cancelled": 0, "remaining": 0, "next": b["id"]}
    out = ref.set_market_status(SYM, "cancel_only", 4, cancel_orders=True)
    assert (out["cancelled"], out["remaining"]) == (2, 0)
    assert ref.open_orders(1) == [] and ref.balances(1)["QQQ"] == (100, 0)
    cancels = [e for e in ref.events(f"events:{SYM}") if e["type"] == "order_cancelled"]
    assert [e["reason"] for e in cancels] == ["market_status", "market_status"]
    assert [int(e["order_id"]) for e in cancels] == [b["id"], a["id"]]
    _check(ref)


def test_generated_streams_cover_every_outcome_and_error_code() -> None:
    """The generator (run through the reference alone) reaches every order outcome and every error code."""
    from tests.engine.test_differential import ASSETS, Generator, _call, _specs

    seen: set[str] = set()
    for seed in range(20):
        ref = Reference()
        for symbol, name, decimals in ASSETS:
            ref.create_asset(symbol, name, decimals)
        for spec in _specs():
            ref.create_market(spec)
        gen = Generator(seed, ref)
        stream = gen.funding()
        for _ in range(2000):
            command = stream.pop(0) if stream else gen.next()
            kind, result = _call(ref, command)
            if kind == "error":
                seen.add(result)
            elif command[0] == "place":
                order = result["order"]
                seen.add(f"{order['status']}:{order['reason']}")
                seen.update({"stp"} if result["stp"] else set())
                seen.update({"duplicate"} if result["duplicate"] else set())
                seen.update({"fill"} if result["fills"] else set())
            else:
                seen.add(command[0])
    expected = {
        "open:", "partially_filled:", "filled:", "cancelled:stp", "rejected:post_only_would_take",
        "expired:ioc", "expired:fok_unfilled", "expired:market", "expired:max_makers", "expired:price_band",
        "stp", "duplicate",
        "fill", "deposit", "withdraw", "cancel", "cancel_all", "set_market_status", "create_market",
        "UNKNOWN_MARKET", "MARKET_NOT_TRADING", "MARKET_HALTED", "INVALID_SIDE", "INVALID_TYPE",
        "INVALID_TIF", "INVALID_STP", "INVALID_PRICE", "PRICE_TOO_HIGH", "INVALID_QTY", "QTY_TOO_SMALL",
        "QTY_TOO_LARGE", "NOTIONAL_TOO_SMALL", "INVALID_POST_ONLY", "DUPLICATE_CLIENT_ORDER_ID",
        "INSUFFICIENT_FUNDS", "INVALID_ARGUMENT", "UNKNOWN_ORDER", "ORDER_CLOSED", "UNKNOWN_ASSET",
        "INVALID_AMOUNT", "DUPLICATE_REF", "PRICE_OUT_OF_BAND",
    }  # fmt: skip
    assert expected - seen == set()


def test_market_upsert_keeps_state_and_locks_units_while_orders_rest() -> None:
    """Re-creating a market keeps its status, seqs, book, base and quote; fees cannot change while an order
    rests."""
    ref = _ref()
    _fund(ref, 1, quote=100)
    order = ref.place(1, SYM, "buy", "limit", price=5, qty=1, ts_ms=1)["order"]
    fields = dict(
        symbol=SYM, base="AAA", quote="QQQ", lot_minor=100, num=1, den=3, min_lots=1, max_lots=1000,
        max_price_ticks=1_000_000, maker_bps=10, taker_bps=25,
    )  # fmt: skip
    ref.create_market_fields(**fields, min_notional_minor=2)  # limits may change at any time
    assert ref.book(SYM) == {"seq": 1, "bids": [[5, 1, 1]], "asks": []}
    assert ref.markets_by_symbol[SYM].seq == 1
    with pytest.raises(Exception) as err:
        ref.create_market_fields(**{**fields, "maker_bps": 11}, min_notional_minor=2)
    assert getattr(err.value, "code", None) == "INVALID_ARGUMENT"
    ref.cancel(1, order["id"], 2)
    ref.create_market_fields(**{**fields, "maker_bps": 11}, min_notional_minor=2)  # nothing rests now
    assert ref.markets_by_symbol[SYM].maker_bps == 11
    with pytest.raises(Exception) as err:  # base and quote never change, even with an empty book
        ref.create_market_fields(**{**fields, "base": "QQQ", "quote": "AAA"}, min_notional_minor=2)
    assert getattr(err.value, "code", None) == "INVALID_ARGUMENT"
    assert (ref.markets_by_symbol[SYM].base, ref.markets_by_symbol[SYM].quote) == ("AAA", "QQQ")


def test_cancel_all_works_in_short_calls_like_the_engine() -> None:
    """12 cancels fill a call; the open orders above the last one looked at are `remaining`; the next call,
    from `next`, goes on, and one order in a halted market is looked at and skipped, as ex_cancel_all
    does. The account's 2,001st gtc order is TOO_MANY_OPEN_ORDERS, an ioc one still goes."""
    ref = _ref()
    ref.create_asset("HHH", "Halted base", 2)
    ref.create_market_fields(
        symbol="HHH-QQQ", base="HHH", quote="QQQ", lot_minor=100, num=1, den=3, min_lots=1, max_lots=1000,
        max_price_ticks=1_000_000, min_notional_minor=0, maker_bps=10, taker_bps=25,
    )  # fmt: skip
    _fund(ref, 1, base=1_000, quote=10_000)
    ids = [ref.place(1, SYM, "buy", "limit", price=3, qty=1, ts_ms=1)["order"]["id"] for _ in range(20)]
    halted = ref.place(1, "HHH-QQQ", "buy", "limit", price=3, qty=1, ts_ms=1)["order"]["id"]
    ref.set_market_status("HHH-QQQ", "halted", 2)
    assert ref.cancel_all(1, 3) == {"cancelled": 12, "remaining": 9, "next": ids[11]}
    assert ref.cancel_all(1, 4, after_id=ids[11]) == {"cancelled": 8, "remaining": 0, "next": halted}
    assert [o["id"] for o in ref.open_orders(1)] == [halted]
    for _ in range(1999):
        ref.place(1, SYM, "buy", "limit", price=3, qty=1, ts_ms=5)
    with pytest.raises(Exception) as err:
        ref.place(1, SYM, "buy", "limit", price=3, qty=1, ts_ms=6)
    assert getattr(err.value, "code", None) == "TOO_MANY_OPEN_ORDERS"
    assert (
        ref.place(1, SYM, "sell", "limit", price=9, qty=1, tif="ioc", ts_ms=7)["order"]["status"] == "expired"
    )


def test_deposits_are_capped_by_the_supply_of_the_asset_like_the_engine() -> None:
    """The reference refuses the deposit that would take an asset's supply (not one balance) to 2^53, and
    a withdrawal frees supply again (lua/lib/06_wallet.lua)."""
    ref = _ref()
    ref.deposit(1, "QQQ", 2**53 - 5, "a", 1)
    with pytest.raises(Exception, match="supply of QQQ") as info:
        ref.deposit(2, "QQQ", 5, "b", 2)
    assert getattr(info.value, "code", None) == "INVALID_AMOUNT"
    assert ref.balances(2).get("QQQ", [0, 0])[0] == 0 and ref.supply["QQQ"] == 2**53 - 5
    ref.deposit(2, "QQQ", 4, "c", 3)
    ref.withdraw(1, "QQQ", 1, "d", 4)
    ref.deposit(2, "QQQ", 1, "e", 5)
    assert ref.supply["QQQ"] == 2**53 - 1


def test_edge_inputs_get_the_engines_codes() -> None:
    """Values past 2^53 are too high or too large (not malformed), a ts_ms of 2^53 and a client_order_id
    with a final newline are INVALID_ARGUMENT, and an empty tif or stp means the default, as ex_place
    answers (tests/engine/test_rejections.py holds the engine to the same)."""
    ref = _ref()
    _fund(ref, 1, quote=10_000)
    cases = [
        ({"price": 2**53}, "PRICE_TOO_HIGH"),
        ({"price": 10**17}, "PRICE_TOO_HIGH"),
        ({"qty": 2**53}, "QTY_TOO_LARGE"),
        ({"ts_ms": 2**53}, "INVALID_ARGUMENT"),
        ({"client_order_id": "a" * 36 + "\n"}, "INVALID_ARGUMENT"),
    ]
    for fields, code in cases:
        with pytest.raises(Exception) as err:
            ref.place(1, SYM, "buy", "limit", **({"price": 3, "qty": 1, "ts_ms": 1} | fields))
        assert getattr(err.value, "code", None) == code, fields
    with pytest.raises(Exception) as err:
        ref.place(1, SYM, "buy", "market", quote_qty=2**53, ts_ms=1)
    assert getattr(err.value, "code", None) == "QTY_TOO_LARGE"
    order = ref.place(1, SYM, "buy", "limit", price=3, qty=1, tif="", stp="", ts_ms=1)["order"]
    assert (order["tif"], order["stp"]) == ("gtc", "cancel_maker")
    _check(ref)


def _banded(band: int = 1000, **changes: int) -> Reference:
    """The test market with a price band (1000 bps: at a touch of 100 ticks a buy may pay up to 110)."""
    ref = _ref()
    fields = dict(
        symbol=SYM, base="AAA", quote="QQQ", lot_minor=100, num=1, den=3, min_lots=1, max_lots=1000,
        max_price_ticks=1_000_000, min_notional_minor=0, maker_bps=10, taker_bps=25,
    )  # fmt: skip
    ref.create_market_fields(**{**fields, **changes}, price_band_bps=band)  # type: ignore[arg-type]
    return ref


def test_price_band_refuses_a_limit_order_beyond_it_and_changes_nothing() -> None:
    """Asks at 100: a limit buy at 111 (111 * 10000 > 100 * 11000) is PRICE_OUT_OF_BAND with no id and no
    event; at 110 (equal: inside) it trades at 100. A sell that does not cross the touch is never checked."""
    ref = _banded()
    _fund(ref, 1, base=1000)
    _fund(ref, 2, quote=10_000)
    ref.place(1, SYM, "sell", "limit", price=100, qty=5, ts_ms=1)
    seq, events = ref.order_seq, len(ref.events(f"events:{SYM}"))
    for extra in ({}, {"tif": "ioc"}, {"tif": "fok"}, {"post_only": True}):
        with pytest.raises(Exception) as err:
            ref.place(2, SYM, "buy", "limit", price=111, qty=1, ts_ms=2, **extra)  # type: ignore[arg-type]
        assert getattr(err.value, "code", None) == "PRICE_OUT_OF_BAND"
    assert (ref.order_seq, len(ref.events(f"events:{SYM}"))) == (seq, events)
    assert ref.place(2, SYM, "buy", "limit", price=110, qty=1, ts_ms=3)["fills"][0]["price"] == 100
    assert ref.place(1, SYM, "sell", "limit", price=10_000, qty=1, ts_ms=4)["order"]["status"] == "open"
    _check(ref)


def test_price_band_stops_a_market_order_before_the_first_maker_beyond_it() -> None:
    """Asks at 100 x2, 110 x1 (the edge) and 111 x3: a market buy of 10 fills 3 lots and expires
    (price_band), holding exactly their cost; a by-quote buy stops there too and gets its unspent budget
    back; the ask beyond the band stays."""
    ref = _banded()
    _fund(ref, 1, base=700)
    _fund(ref, 2, quote=10_000)
    for price, qty in ((100, 2), (110, 1), (111, 3)):
        ref.place(1, SYM, "sell", "limit", price=price, qty=qty, ts_ms=1)
    result = ref.place(2, SYM, "buy", "market", qty=10, ts_ms=2)
    order = result["order"]
    assert [(f["price"], f["qty"]) for f in result["fills"]] == [(100, 2), (110, 1)]
    assert (order["status"], order["reason"], order["filled"]) == ("expired", "price_band", 3)
    assert order["hold"] == 0
    # ceil(200 * 10025 / 30000) + ceil(110 * 10025 / 30000) = 67 + 37
    [accepted] = [
        e for e in ref.events(f"events:{SYM}")
        if e["type"] == "order_accepted" and e["order_id"] == str(order["id"])
    ]  # fmt: skip
    assert accepted["hold"] == "104"
    assert ref.balances(2)["QQQ"] == (10_000 - 104, 0)
    assert ref.book(SYM)["asks"] == [[111, 3, 1]]
    ref.place(1, SYM, "sell", "limit", price=100, qty=1, ts_ms=3)
    result = ref.place(2, SYM, "buy", "market", quote_qty=500, ts_ms=4)
    order = result["order"]
    assert [(f["price"], f["qty"]) for f in result["fills"]] == [(100, 1)]
    assert (order["status"], order["reason"], order["filled"]) == ("expired", "price_band", 1)
    assert ref.events(f"events:{SYM}")[-1]["released"] == str(500 - 34)  # ceil(100 * 10025 / 30000) = 34
    _check(ref)


def test_price_band_limits_in_create_market_fields() -> None:
    """A band outside 0..10000, or any band with max_price_ticks * 20000 >= 2^53, is INVALID_ARGUMENT; the
    largest max_price_ticks allowed, and a band change while orders rest, are accepted."""
    for band, max_price in ((10_001, 1_000), (-1, 1_000), (1, (2**53 - 1) // 20000 + 1)):
        with pytest.raises(Exception) as err:
            _banded(band, max_price_ticks=max_price, max_lots=1)
        assert getattr(err.value, "code", None) == "INVALID_ARGUMENT"
    ref = _banded(10_000, max_price_ticks=(2**53 - 1) // 20000, max_lots=1)
    assert ref.markets_by_symbol[SYM].price_band_bps == 10_000
    ref = _banded()
    _fund(ref, 1, quote=100)
    ref.place(1, SYM, "buy", "limit", price=5, qty=1, ts_ms=1)
    ref.create_market_fields(
        symbol=SYM, base="AAA", quote="QQQ", lot_minor=100, num=1, den=3, min_lots=1, max_lots=1000,
        max_price_ticks=1_000_000, min_notional_minor=0, maker_bps=10, taker_bps=25, price_band_bps=50,
    )  # fmt: skip
    assert ref.markets_by_symbol[SYM].price_band_bps == 50 and ref.book(SYM)["bids"] == [[5, 1, 1]]
