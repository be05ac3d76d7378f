"""Deposits and withdrawals (idempotent refs) and client_order_id retries."""

from __future__ import annotations

import pytest
import redis

from exchange.engine import errors
from exchange.engine.codec import event_fields
from exchange.engine.state import state_hash
from exchange.engine.supply import count_missing_supply
from exchange.seed import seed_all
from tests.engine.conftest import Exchange


def test_withdraw_debits_available_and_is_idempotent(ex: Exchange) -> None:
    """A withdrawal debits available once; its ref replayed returns the original result."""
    ex.engine.deposit(3, "XQ", 1_000, "d-1", 1)
    first = ex.engine.withdraw(3, "XQ", 400, "w-1", 2)
    assert (first["available"], first["held"], first["duplicate"]) == (600, 0, False)
    again = ex.engine.withdraw(3, "XQ", 400, "w-1", 3)
    assert again == {**first, "duplicate": True}
    assert ex.balance(3, "XQ") == (600, 0)
    wallet = [event_fields(i, f) for i, f in ex.redis.xrange("events:wallet")]
    assert [(f["type"], f["amount"], f["ledger"]) for f in wallet[-2:]] == [
        ("deposit", "1000", "3,XQ,1000,0"),
        ("withdrawal", "400", "3,XQ,-400,0"),
    ]


def test_withdraw_cannot_touch_held_funds(ex: Exchange) -> None:
    """Only available funds can be withdrawn: held funds make it INSUFFICIENT_FUNDS."""
    ex.engine.deposit(3, "XQ", 1_000, "d-1", 1)
    ex.place(3, "buy", price=100, qty=5)  # holds 505
    with pytest.raises(errors.InsufficientFunds):
        ex.engine.withdraw(3, "XQ", 600, "w-1", 2)


def test_ref_reused_with_other_fields_is_duplicate_ref(ex: Exchange) -> None:
    """The same ref with another amount, asset, account or kind is DUPLICATE_REF."""
    ex.engine.deposit(3, "XQ", 1_000, "r-1", 1)
    with pytest.raises(errors.DuplicateRef):
        ex.engine.deposit(3, "XQ", 999, "r-1", 2)
    with pytest.raises(errors.DuplicateRef):
        ex.engine.withdraw(3, "XQ", 1_000, "r-1", 2)
    with pytest.raises(errors.DuplicateRef):
        ex.engine.deposit(4, "XQ", 1_000, "r-1", 2)


@pytest.mark.parametrize(
    ("asset", "amount", "ref", "error"),
    [
        ("NOPE", 1, "x", errors.UnknownAsset),
        ("XQ", 0, "x", errors.InvalidAmount),
        ("XQ", -5, "x", errors.InvalidAmount),
        ("XQ", 2**53, "x", errors.InvalidAmount),
        ("XQ", 1, "", errors.InvalidArgument),
        ("XQ", 1, "r" * 65, errors.InvalidArgument),
    ],
)
def test_bad_deposits_are_refused(ex: Exchange, asset: str, amount: int, ref: str, error: type) -> None:
    """Unknown asset, non-positive or too large amount and a bad ref are refused with their codes."""
    with pytest.raises(error):
        ex.engine.deposit(3, asset, amount, ref, 1)


def test_the_supply_of_an_asset_stays_below_2_53(ex: Exchange) -> None:
    """Deposits are capped by the asset's supply (deposits - withdrawals), not by one balance: otherwise a
    trade could credit an account that holds almost 2^53 past it. A refused deposit changes nothing; a
    withdrawal frees supply again."""
    ex.fund(1, "XQ", 2**53 - 1_000)  # one balance near the limit (each balance alone was the old check)
    assert ex.redis.hget("asset:XQ", "supply") == str(2**53 - 1_000)
    before = state_hash(ex.redis)
    with pytest.raises(errors.InvalidAmount, match="supply of XQ"):
        ex.engine.deposit(2, "XQ", 1_000, "b-1", ex.ts())  # a buyer who would pay account 1 in a trade
    assert state_hash(ex.redis) == before
    ex.fund(2, "XQ", 999)  # the last unit below 2^53
    ex.fund(1, "XB", 5)
    ex.place(1, "sell", 100, 5)
    ex.place(2, "buy", 100, 5)  # 999 XQ cannot pay 5 x 100 + fees: only what the supply allows trades
    total = sum(sum(ex.balance(a, "XQ")) for a in (0, 1, 2))
    assert total == 2**53 - 1 and max(sum(ex.balance(a, "XQ")) for a in (0, 1, 2)) < 2**53
    ex.engine.withdraw(1, "XQ", 10, "w-1", ex.ts())
    ex.engine.deposit(3, "XQ", 10, "d-3", ex.ts())
    assert ex.redis.hget("asset:XQ", "supply") == str(2**53 - 1)


def test_older_data_gets_its_supply_counted_from_its_balances(ex: Exchange) -> None:
    """Data written before the supply counter existed: until it is counted the wallet leaves it absent (and
    checks the balance alone), upserting the asset does not assume 0, and the count at the next seed sums
    every balance (held funds and the fee account included); a counter that exists is never recounted."""
    ex.fund(1, "XQ", 5_000)
    ex.fund(2, "XB", 7)
    ex.place(2, "sell", 100, 3)
    ex.place(1, "buy", 100, 2)  # a trade: fees reach account 0, and the rest of the sell stays held
    ex.redis.hdel("asset:XQ", "supply")
    ex.redis.hdel("asset:XB", "supply")
    ex.fund(3, "XQ", 10)  # not counted yet: the field stays absent rather than starting from 10
    ex.engine.create_asset("XQ", "Test quote", 0)  # an upsert of an existing asset sets no counter
    assert ex.redis.hget("asset:XQ", "supply") is None
    with pytest.raises(errors.InvalidAmount, match="balance of XQ"):
        ex.engine.deposit(3, "XQ", 2**53 - 10, "big", ex.ts())  # the balance check still holds
    assert count_missing_supply(ex.redis) == {"XB": 7, "XQ": 5_010}
    assert ex.redis.hget("asset:XQ", "supply") == "5010" and ex.redis.hget("asset:XB", "supply") == "7"
    assert count_missing_supply(ex.redis) == {}
    ex.redis.hset("asset:XB", "supply", "6")  # a wrong counter is the operator's to delete: never recounted
    seed_all(ex.engine)
    assert ex.redis.hget("asset:XB", "supply") == "6"
    ex.redis.hdel("asset:XB", "supply")
    seed_all(ex.engine)  # what the docs tell the operator to do: delete the field, seed again
    assert ex.redis.hget("asset:XB", "supply") == "7" and ex.redis.hget("asset:XQ", "supply") == "5010"


def test_client_order_id_retry_returns_the_original_order(ex: Exchange) -> None:
    """Placing again with the same client_order_id and fields returns the original order, duplicate true."""
    ex.fund(1, "XQ", 10_000)
    first = ex.place(1, "buy", price=100, qty=2, client_order_id="abc-1")
    again = ex.place(1, "buy", price=100, qty=2, client_order_id="abc-1")
    assert again["duplicate"] is True and again["order"] == first["order"]
    assert len(ex.engine.open_orders(1)) == 1
    assert ex.balance(1, "XQ") == (10_000 - 202, 202)


def test_client_order_id_retry_reflects_the_current_state(ex: Exchange) -> None:
    """A retry after the order traded returns its current state (filled), not the state at placement."""
    ex.fund(1, "XQ", 10_000)
    ex.fund(2, "XB", 10)
    first = ex.place(1, "buy", price=100, qty=2, client_order_id="abc-1")["order"]
    ex.place(2, "sell", price=100, qty=2)
    again = ex.place(1, "buy", price=100, qty=2, client_order_id="abc-1")
    assert again["duplicate"] is True
    assert (again["order"]["id"], again["order"]["status"]) == (first["id"], "filled")


def test_client_order_id_with_other_fields_is_a_conflict(ex: Exchange) -> None:
    """The same client_order_id with a different price is DUPLICATE_CLIENT_ORDER_ID."""
    ex.fund(1, "XQ", 10_000)
    ex.place(1, "buy", price=100, qty=2, client_order_id="abc-1")
    with pytest.raises(errors.DuplicateClientOrderId):
        ex.place(1, "buy", price=101, qty=2, client_order_id="abc-1")


def test_client_order_ids_are_per_account(ex: Exchange) -> None:
    """Two accounts may use the same client_order_id independently."""
    ex.fund(1, "XQ", 10_000)
    ex.fund(2, "XQ", 10_000)
    a = ex.place(1, "buy", price=100, qty=2, client_order_id="same")
    b = ex.place(2, "buy", price=100, qty=2, client_order_id="same")
    assert a["order"]["id"] != b["order"]["id"] and b["duplicate"] is False


def test_client_order_id_of_an_expired_closed_order_stays_taken(ex: Exchange) -> None:
    """Once a closed order's hash is expired, reusing its client_order_id is still a conflict."""
    ex.fund(1, "XQ", 10_000)
    o = ex.place(1, "buy", price=100, qty=2, client_order_id="gone")["order"]
    ex.engine.cancel(1, o["id"], ex.ts())
    ex.redis.delete(f"order:{o['id']}")  # what the persistence TTL does to closed orders
    with pytest.raises(errors.DuplicateClientOrderId):
        ex.place(1, "buy", price=100, qty=2, client_order_id="gone")


def test_an_integer_argument_with_a_leading_zero_is_refused(ex: Exchange) -> None:
    """Keys are built from the argument's text: '007' would read balance:007 but write balance:7, minting
    money. A raw FCALL with a non-canonical integer is INVALID_ARGUMENT and changes nothing."""
    before = state_hash(ex.redis)
    for function, keys, args in (
        ("ex_deposit", ["balance:007", "wallet:refs"], ["007", "XQ", "1000", "lz-1", "1"]),
        ("ex_deposit", ["balance:7", "wallet:refs"], ["7", "XQ", "01000", "lz-2", "1"]),
        (
            "ex_place",
            ["market:XB-XQ", "balance:007", "coid:007"],
            ["007", "XB-XQ", "buy", "limit", "gtc", "10", "1", "", "0", "", "", "2"],
        ),
    ):
        with pytest.raises(redis.ResponseError, match=r"^INVALID_(ARGUMENT|AMOUNT) "):
            ex.redis.fcall(function, len(keys), *keys, *args)
    assert state_hash(ex.redis) == before
