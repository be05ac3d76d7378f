"""Decimal <-> engine integer conversions, rounding direction and market spec validation."""

from __future__ import annotations

from decimal import Decimal

import pytest

from exchange.money import (
    MarketSpec,
    MoneyError,
    MoneyErrorCode,
    amount_to_minor,
    format_decimal,
    lots_to_qty,
    minor_to_amount,
    price_to_ticks,
    qty_to_lots,
    ticks_to_price,
)
from exchange.seed import SEED_ASSETS, SEED_MARKETS

BTC = MarketSpec("BTC-USDT", "BTC", "USDT", "0.01", "0.00001", "0.00001", "900", "5", "1000000", 10, 20)


def test_prices_and_quantities_convert_exactly_both_ways() -> None:
    """Decimal strings become ticks and lots and come back as normalized strings."""
    assert price_to_ticks("60000.01", BTC) == 6_000_001
    assert price_to_ticks("60000", BTC) == 6_000_000
    assert qty_to_lots("0.5", BTC) == 50_000
    assert ticks_to_price(6_000_001, BTC) == "60000.01"
    assert ticks_to_price(6_000_000, BTC) == "60000"
    assert lots_to_qty(50_000, BTC) == "0.5"
    assert amount_to_minor("1.5", 6) == 1_500_000
    assert minor_to_amount(1_500_000, 6) == "1.5"
    assert minor_to_amount(0, 8) == "0"
    assert minor_to_amount(1, 8) == "0.00000001"
    assert format_decimal(Decimal("1E+3")) == "1000"


@pytest.mark.parametrize(
    ("call", "code"),
    [
        (lambda: price_to_ticks("60000.001", BTC), MoneyErrorCode.PRICE_NOT_ON_TICK),
        (lambda: price_to_ticks("0", BTC), MoneyErrorCode.INVALID_PRICE),
        (lambda: price_to_ticks("-1", BTC), MoneyErrorCode.INVALID_PRICE),
        (lambda: price_to_ticks("abc", BTC), MoneyErrorCode.INVALID_PRICE),
        (lambda: price_to_ticks("NaN", BTC), MoneyErrorCode.INVALID_PRICE),
        (lambda: price_to_ticks(1.5, BTC), MoneyErrorCode.INVALID_PRICE),  # floats are refused
        (lambda: qty_to_lots("0.000001", BTC), MoneyErrorCode.QTY_NOT_ON_LOT),
        (lambda: qty_to_lots("0", BTC), MoneyErrorCode.INVALID_QTY),
        (lambda: qty_to_lots("Infinity", BTC), MoneyErrorCode.INVALID_QTY),
        (lambda: amount_to_minor("1.0000001", 6), MoneyErrorCode.TOO_MANY_DECIMALS),
        (lambda: amount_to_minor("-1", 6), MoneyErrorCode.INVALID_AMOUNT),
        (lambda: amount_to_minor("", 6), MoneyErrorCode.INVALID_AMOUNT),
    ],
)
def test_inexact_or_malformed_values_are_refused_with_their_code(call, code) -> None:  # type: ignore[no-untyped-def]
    """Off-tick, off-lot, too precise, non-positive, non-finite or float inputs raise MoneyError(code)."""
    with pytest.raises(MoneyError) as info:
        call()
    assert info.value.code == code


def test_engine_fields_reduce_the_quote_per_tick_lot_fraction() -> None:
    """BTC-USDT: lot 0.00001 BTC = 1000 sat; 0.01 x 0.00001 x 10^6 = 1/10 quote minor per tick-lot."""
    f = BTC.engine_fields(8, 6)
    assert (f.lot_minor, f.num, f.den) == (1000, 1, 10)
    assert (f.min_lots, f.max_lots, f.max_price_ticks, f.min_notional_minor) == (
        1,
        90_000_000,
        100_000_000,
        5_000_000,
    )


def test_spec_products_must_stay_below_2_pow_53() -> None:
    """max_price_ticks * max_lots * num == 2^53 is refused, one lot less is accepted."""
    tight = MarketSpec("A-B", "A", "B", "1", "1", "1", str(2**27), "0", str(2**26), 0, 0)
    with pytest.raises(MoneyError) as info:
        tight.engine_fields(0, 0)
    assert info.value.code == MoneyErrorCode.INVALID_MARKET_SPEC
    ok = MarketSpec("A-B", "A", "B", "1", "1", "1", str(2**27 - 1), "0", str(2**26), 0, 0)
    assert ok.engine_fields(0, 0).max_lots == 2**27 - 1


@pytest.mark.parametrize(
    "spec",
    [
        MarketSpec(
            "A-B", "A", "B", "0.01", "0.000000001", "0.000000001", "1", "1", "100", 10, 20
        ),  # lot < 1 sat
        MarketSpec("A-B", "A", "B", "0.01", "0.001", "0.0015", "1", "1", "100", 10, 20),  # min_qty off lot
        MarketSpec(
            "A-B", "A", "B", "0.01", "0.001", "0.001", "1", "1", "100.005", 10, 20
        ),  # max_price off tick
        MarketSpec("A-B", "A", "B", "0.01", "0.001", "0.002", "0.001", "1", "100", 10, 20),  # min above max
        MarketSpec(
            "A-B", "A", "B", "0.01", "0.001", "0.001", "1", "0.0000001", "100", 10, 20
        ),  # notional dust
        MarketSpec("A-B", "A", "B", "0.01", "0.001", "0.001", "1", "1", "100", 30, 20),  # maker above taker
        MarketSpec("A-B", "A", "B", "0.01", "0.001", "0.001", "1", "1", "100", 10, 1001),  # taker above 10%
        MarketSpec("A-B", "A", "B", "0", "0.001", "0.001", "1", "1", "100", 10, 20),  # zero tick
    ],
)
def test_inexact_or_unsafe_specs_are_refused(spec: MarketSpec) -> None:
    """Specs that are not exact multiples, are inconsistent or have bad fees are refused."""
    with pytest.raises(MoneyError):
        spec.engine_fields(8, 6)


def test_every_seed_market_is_valid() -> None:
    """Each seed market converts to engine fields with its seed assets' decimals."""
    decimals = {a.symbol: a.decimals for a in SEED_ASSETS}
    assert {m.base for m in SEED_MARKETS} == {"BTC", "ETH", "BNB", "MINA", "ATOM", "DOT"}
    for m in SEED_MARKETS:
        f = m.engine_fields(decimals[m.base], decimals[m.quote])
        assert f.max_price_ticks * f.max_lots * f.num < 2**53
