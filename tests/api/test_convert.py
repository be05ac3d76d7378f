"""Engine units <-> API decimal strings (`exchange.api.convert`), pure and exact."""

from __future__ import annotations

import pytest

from exchange.api.convert import Market, amount_in, decimal_str, fill_out, levels_out, order_out
from exchange.api.errors import ApiError

BTC = Market.from_engine(
    {
        "symbol": "BTC-USDT", "base": "BTC", "quote": "USDT", "tick_size": "0.01", "lot_size": "0.00001",
        "lot_minor": 1000, "num": 1, "den": 10, "min_lots": 1, "max_lots": 900_000_000,
        "max_price_ticks": 1_000_000_000, "min_notional_minor": 5_000_000, "maker_bps": 10, "taker_bps": 20,
        "status": "trading",
    },
    {"BTC": 8, "USDT": 6},
)  # fmt: skip


def _order(**overrides: object) -> dict[str, object]:
    order: dict[str, object] = {
        "id": 5, "account": 1, "symbol": "BTC-USDT", "side": "buy", "type": "limit", "tif": "gtc",
        "price": 6_000_001, "qty": 100, "quote_qty": 0, "filled": 0, "quote_filled": 0, "hold": 0,
        "hold_asset": "USDT", "status": "open", "reason": "", "post_only": 0, "stp": "cancel_maker",
        "client_order_id": "", "created_ms": 1, "updated_ms": 2,
    }  # fmt: skip
    order.update(overrides)
    return order


def test_prices_and_quantities_round_trip_exactly() -> None:
    """Decimal strings map to whole ticks/lots/minor units and back without loss."""
    assert BTC.price_in("60000.01") == 6_000_001 and BTC.price_out(6_000_001) == "60000.01"
    assert BTC.qty_in("0.5") == 50_000 and BTC.qty_out(50_000) == "0.5"
    assert BTC.quote_in("100.5") == 100_500_000 and BTC.quote_out(100_500_000) == "100.5"
    assert BTC.price_in("0060000.0100") == 6_000_001
    assert decimal_str(BTC.tick_size * 10**9) == "10000000"


@pytest.mark.parametrize(
    ("call", "text", "code"),
    [
        ("price_in", "60000.001", "PRICE_NOT_ON_TICK"),
        ("price_in", "abc", "INVALID_PRICE"),
        ("price_in", "-1", "INVALID_PRICE"),
        ("price_in", "1e400", "PRICE_TOO_HIGH"),
        ("qty_in", "0.000001", "QTY_NOT_ON_LOT"),
        ("qty_in", "NaN", "INVALID_QTY"),
        ("quote_in", "0.0000001", "TOO_MANY_DECIMALS"),
    ],
)
def test_values_off_the_grid_are_refused(call: str, text: str, code: str) -> None:
    """A value that is not a whole number of units raises ApiError with a stable code, never rounds."""
    with pytest.raises(ApiError) as info:
        getattr(BTC, call)(text)
    assert info.value.code == code and info.value.status == 400


def test_amounts_use_the_asset_decimals() -> None:
    """amount_in converts to minor units and refuses extra decimals."""
    assert amount_in("1.5", 8) == 150_000_000
    with pytest.raises(ApiError) as info:
        amount_in("0.1234567", 6)
    assert info.value.code == "TOO_MANY_DECIMALS"


def test_order_out_of_a_partially_filled_order() -> None:
    """order_out gives decimal strings, remaining quantity, average price and converted fills."""
    fill = {"trade_id": 9, "price": 6_000_000, "qty": 40, "notional": 24_000_000, "fee": 48_000,
            "maker_order_id": 3, "liquidity": "taker", "ts": 2}  # fmt: skip
    out = order_out(_order(filled=40, quote_filled=24_000_000, status="partially_filled"), BTC, [fill])
    assert (out["price"], out["qty"], out["filled_qty"], out["remaining_qty"]) == (
        "60000.01",
        "0.001",
        "0.0004",
        "0.0006",
    )
    assert out["avg_price"] == "60000" and out["quote_filled"] == "24" and out["client_order_id"] is None
    assert out["fills"] == [
        {"trade_id": 9, "price": "60000", "qty": "0.0004", "fee": "0.048", "fee_asset": "USDT",
         "liquidity": "taker", "ts": 2}
    ]  # fmt: skip


def test_order_out_of_closed_and_market_orders() -> None:
    """A closed order has remaining 0; a market-by-quote order has null price and qty; no fill, no average."""
    out = order_out(_order(status="cancelled", reason="user"), BTC)
    assert out["remaining_qty"] == "0" and out["avg_price"] is None and out["fills"] == []
    out = order_out(
        _order(type="market", price=0, qty=0, quote_qty=1_000_000_000, tif="ioc", status="expired"), BTC
    )
    assert out["price"] is None and out["qty"] is None and out["quote_qty"] == "1000"


def test_average_price_keeps_extra_digits_between_ticks() -> None:
    """Fills at 100.00 and 100.01 for equal quantities average to 100.005."""
    quote = 10_000 * 10 // 10 + 10_001 * 10 // 10  # notionals (minor) of 10 lots at 10000 and at 10001 ticks
    assert BTC.avg_price(quote, 20) == "100.005"


def test_fill_out_accepts_database_rows_and_converted_fills() -> None:
    """PostgreSQL fills rows are converted; already-converted fills pass through."""
    row = {"trade_id": 1, "liquidity": "maker", "price_ticks": 100, "qty_lots": 3, "fee_minor": 5,
           "fee_asset": "USDT", "ts_ms": 7}  # fmt: skip
    assert fill_out(row, BTC) == {"trade_id": 1, "price": "1", "qty": "0.00003", "fee": "0.000005",
                                  "fee_asset": "USDT", "liquidity": "maker", "ts": 7}  # fmt: skip
    converted = {
        "trade_id": 1,
        "price": "1.5",
        "qty": "1",
        "fee": "0",
        "fee_asset": "USDT",
        "liquidity": "maker",
        "ts": 1,
    }
    assert fill_out(converted, BTC) == converted


def test_levels_out_drops_counts_and_keeps_removals() -> None:
    """Engine levels [price, qty, count] become [price, qty]; qty 0 stays "0" (a removal)."""
    assert levels_out([[6_000_000, 50_000, 3], [5_999_999, 0]], BTC) == [["60000", "0.5"], ["59999.99", "0"]]
