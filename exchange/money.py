"""Money at the edges: decimal strings <-> engine integers, assets and market specs.

Inside the engine everything is an integer (docs/engine.md): prices in ticks, quantities in lots, amounts in
minor units. This module is the only place decimals appear, always as `decimal.Decimal` built from strings
(never floats), and every conversion is exact or refused with a `MoneyError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import Enum
from fractions import Fraction

MAX_EXACT = 2**53  # every engine product stays below it (Lua numbers are doubles)


class MoneyErrorCode(str, Enum):  # noqa: UP042 (the house style: str enums)
    INVALID_PRICE = "INVALID_PRICE"
    INVALID_QTY = "INVALID_QTY"
    INVALID_AMOUNT = "INVALID_AMOUNT"
    PRICE_NOT_ON_TICK = "PRICE_NOT_ON_TICK"
    QTY_NOT_ON_LOT = "QTY_NOT_ON_LOT"
    TOO_MANY_DECIMALS = "TOO_MANY_DECIMALS"
    INVALID_MARKET_SPEC = "INVALID_MARKET_SPEC"


class MoneyError(ValueError):
    """A decimal that cannot be converted exactly (code is a MoneyErrorCode)."""

    def __init__(self, code: MoneyErrorCode | str, message: str) -> None:
        self.code = MoneyErrorCode(code)
        self.message = message
        super().__init__(f"{self.code.value} {message}")


def parse_decimal(text: str | int | Decimal, code: MoneyErrorCode, what: str = "value") -> Decimal:
    """A finite Decimal from a string (or int/Decimal); floats and garbage are refused."""
    if isinstance(text, bool) or not isinstance(text, (str, int, Decimal)):
        raise MoneyError(code, f"{what} must be a decimal string")
    try:
        value = Decimal(text.strip()) if isinstance(text, str) else Decimal(text)
    except (InvalidOperation, ValueError):
        raise MoneyError(code, f"{what} {text!r} is not a decimal number") from None
    if not value.is_finite():
        raise MoneyError(code, f"{what} {text!r} is not a finite number")
    return value


def format_decimal(value: Decimal | Fraction) -> str:
    """Normalized plain decimal text: no exponent, no trailing zeros ("0.5", "60000.01", "100")."""
    if isinstance(value, Fraction):
        value = Decimal(value.numerator) / Decimal(value.denominator)
    text = format(value.normalize(), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _units(value: Decimal, step: Fraction, code: MoneyErrorCode, off_code: MoneyErrorCode, what: str) -> int:
    exact = Fraction(value) / step
    if exact.denominator != 1:
        raise MoneyError(
            off_code, f"{what} {format_decimal(value)} is not a multiple of {format_decimal(step)}"
        )
    return int(exact)


@dataclass(frozen=True)
class Asset:
    symbol: str
    name: str
    decimals: int


@dataclass(frozen=True)
class EngineFields:
    """The integer market parameters the engine works with."""

    lot_minor: int
    num: int
    den: int
    min_lots: int
    max_lots: int
    max_price_ticks: int
    min_notional_minor: int


@dataclass(frozen=True)
class MarketSpec:
    symbol: str
    base: str
    quote: str
    tick_size: str
    lot_size: str
    min_qty: str
    max_qty: str
    min_notional: str
    max_price: str
    maker_fee_bps: int
    taker_fee_bps: int
    status: str = "trading"
    # how far (bps of the best opposite price at arrival) an order may trade away from it: a limit order
    # beyond is refused (PRICE_OUT_OF_BAND), a market order stops matching there; 0: no band
    price_band_bps: int = 0

    def engine_fields(self, base_decimals: int, quote_decimals: int) -> EngineFields:
        """Integer parameters; refuses a spec that is not exact or breaks the 2^53 rules."""
        bad = MoneyErrorCode.INVALID_MARKET_SPEC
        tick = Fraction(parse_decimal(self.tick_size, bad, "tick_size"))
        lot = Fraction(parse_decimal(self.lot_size, bad, "lot_size"))
        if tick <= 0 or lot <= 0:
            raise MoneyError(bad, f"{self.symbol}: tick_size and lot_size must be positive")
        lot_minor = lot * 10**base_decimals
        if lot_minor.denominator != 1:
            raise MoneyError(
                bad, f"{self.symbol}: lot_size {self.lot_size} is finer than the base's minor unit"
            )
        ratio = tick * lot * 10**quote_decimals

        def count(text: str, step: Fraction, what: str) -> int:
            value = Fraction(parse_decimal(text, bad, what))
            exact = value / step
            if exact.denominator != 1 or exact <= 0:
                raise MoneyError(bad, f"{self.symbol}: {what} {text} must be a positive multiple of {step}")
            return int(exact)

        min_lots = count(self.min_qty, lot, "min_qty")
        max_lots = count(self.max_qty, lot, "max_qty")
        max_price_ticks = count(self.max_price, tick, "max_price")
        notional = Fraction(parse_decimal(self.min_notional, bad, "min_notional")) * 10**quote_decimals
        if notional.denominator != 1 or notional < 0:
            raise MoneyError(
                bad, f"{self.symbol}: min_notional {self.min_notional} is finer than the quote's minor unit"
            )
        if min_lots > max_lots:
            raise MoneyError(bad, f"{self.symbol}: min_qty above max_qty")
        if not 0 <= self.maker_fee_bps <= self.taker_fee_bps <= 1000:
            raise MoneyError(bad, f"{self.symbol}: fees must satisfy 0 <= maker <= taker <= 1000 bps")
        if max_price_ticks * max_lots * ratio.numerator >= MAX_EXACT:
            raise MoneyError(bad, f"{self.symbol}: max_price_ticks * max_lots * num must stay below 2^53")
        if ratio.denominator * 10000 * (10000 + self.taker_fee_bps) >= MAX_EXACT:
            raise MoneyError(bad, f"{self.symbol}: den * 10000 * (10000 + taker_bps) must stay below 2^53")
        if max_lots * int(lot_minor) >= MAX_EXACT:
            raise MoneyError(bad, f"{self.symbol}: max_lots * lot_minor must stay below 2^53")
        if not 0 <= self.price_band_bps <= 10000:
            raise MoneyError(bad, f"{self.symbol}: price_band_bps must lie in 0..10000")
        if self.price_band_bps and max_price_ticks * 20000 >= MAX_EXACT:
            raise MoneyError(bad, f"{self.symbol}: a price band needs max_price_ticks * 20000 below 2^53")
        return EngineFields(
            lot_minor=int(lot_minor),
            num=ratio.numerator,
            den=ratio.denominator,
            min_lots=min_lots,
            max_lots=max_lots,
            max_price_ticks=max_price_ticks,
            min_notional_minor=int(notional),
        )

    # ---- edge conversions for this market
    def price_to_ticks(self, price: str) -> int:
        return price_to_ticks(price, self)

    def qty_to_lots(self, qty: str) -> int:
        return qty_to_lots(qty, self)

    def ticks_to_price(self, ticks: int) -> str:
        return ticks_to_price(ticks, self)

    def lots_to_qty(self, lots: int) -> str:
        return lots_to_qty(lots, self)


def price_to_ticks(price: str, spec: MarketSpec) -> int:
    """Decimal price -> ticks; must be a positive multiple of the tick size."""
    value = parse_decimal(price, MoneyErrorCode.INVALID_PRICE, "price")
    if value <= 0:
        raise MoneyError(MoneyErrorCode.INVALID_PRICE, f"price {price} must be positive")
    tick = Fraction(Decimal(spec.tick_size))
    return _units(value, tick, MoneyErrorCode.INVALID_PRICE, MoneyErrorCode.PRICE_NOT_ON_TICK, "price")


def qty_to_lots(qty: str, spec: MarketSpec) -> int:
    """Decimal base quantity -> lots; must be a positive multiple of the lot size."""
    value = parse_decimal(qty, MoneyErrorCode.INVALID_QTY, "qty")
    if value <= 0:
        raise MoneyError(MoneyErrorCode.INVALID_QTY, f"qty {qty} must be positive")
    lot = Fraction(Decimal(spec.lot_size))
    return _units(value, lot, MoneyErrorCode.INVALID_QTY, MoneyErrorCode.QTY_NOT_ON_LOT, "qty")


def amount_to_minor(amount: str, decimals: int) -> int:
    """Decimal asset amount -> minor units (exact: at most `decimals` decimal places, non-negative)."""
    value = parse_decimal(amount, MoneyErrorCode.INVALID_AMOUNT, "amount")
    if value < 0:
        raise MoneyError(MoneyErrorCode.INVALID_AMOUNT, f"amount {amount} must not be negative")
    minor = Fraction(value) * 10**decimals
    if minor.denominator != 1:
        raise MoneyError(
            MoneyErrorCode.TOO_MANY_DECIMALS, f"amount {amount} has more than {decimals} decimals"
        )
    return int(minor)


def ticks_to_price(ticks: int, spec: MarketSpec) -> str:
    return format_decimal(Decimal(ticks) * Decimal(spec.tick_size))


def lots_to_qty(lots: int, spec: MarketSpec) -> str:
    return format_decimal(Decimal(lots) * Decimal(spec.lot_size))


def minor_to_amount(minor: int, decimals: int) -> str:
    return format_decimal(Decimal(minor).scaleb(-decimals))
