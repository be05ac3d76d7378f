"""Engine errors: every Lua error reply `CODE message` becomes a named exception.

Exception tree::

    EngineError (code, message)
    ├── UnknownMarket            UNKNOWN_MARKET
    ├── MarketNotTrading         MARKET_NOT_TRADING
    ├── MarketHalted             MARKET_HALTED
    ├── InvalidSide              INVALID_SIDE
    ├── InvalidType              INVALID_TYPE
    ├── InvalidTif               INVALID_TIF
    ├── InvalidStp               INVALID_STP
    ├── InvalidPrice             INVALID_PRICE
    ├── PriceTooHigh             PRICE_TOO_HIGH
    ├── PriceOutOfBand           PRICE_OUT_OF_BAND
    ├── InvalidQty               INVALID_QTY
    ├── QtyTooSmall              QTY_TOO_SMALL
    ├── QtyTooLarge              QTY_TOO_LARGE
    ├── NotionalTooSmall         NOTIONAL_TOO_SMALL
    ├── InvalidPostOnly          INVALID_POST_ONLY
    ├── DuplicateClientOrderId   DUPLICATE_CLIENT_ORDER_ID
    ├── TooManyOpenOrders        TOO_MANY_OPEN_ORDERS
    ├── InsufficientFunds        INSUFFICIENT_FUNDS
    ├── InvalidArgument          INVALID_ARGUMENT
    ├── UnknownOrder             UNKNOWN_ORDER
    ├── OrderClosed              ORDER_CLOSED
    ├── UnknownAsset             UNKNOWN_ASSET
    ├── InvalidAmount            INVALID_AMOUNT
    ├── DuplicateRef             DUPLICATE_REF
    └── EngineFailure            ENGINE_FAILURE (outside the vocabulary: a bug or a server error)
"""

from __future__ import annotations

from enum import Enum

import redis


class ErrorCode(str, Enum):  # noqa: UP042 (the house style: str enums)
    UNKNOWN_MARKET = "UNKNOWN_MARKET"
    MARKET_NOT_TRADING = "MARKET_NOT_TRADING"
    MARKET_HALTED = "MARKET_HALTED"
    INVALID_SIDE = "INVALID_SIDE"
    INVALID_TYPE = "INVALID_TYPE"
    INVALID_TIF = "INVALID_TIF"
    INVALID_STP = "INVALID_STP"
    INVALID_PRICE = "INVALID_PRICE"
    PRICE_TOO_HIGH = "PRICE_TOO_HIGH"
    PRICE_OUT_OF_BAND = "PRICE_OUT_OF_BAND"
    INVALID_QTY = "INVALID_QTY"
    QTY_TOO_SMALL = "QTY_TOO_SMALL"
    QTY_TOO_LARGE = "QTY_TOO_LARGE"
    NOTIONAL_TOO_SMALL = "NOTIONAL_TOO_SMALL"
    INVALID_POST_ONLY = "INVALID_POST_ONLY"
    DUPLICATE_CLIENT_ORDER_ID = "DUPLICATE_CLIENT_ORDER_ID"
    TOO_MANY_OPEN_ORDERS = "TOO_MANY_OPEN_ORDERS"
    INSUFFICIENT_FUNDS = "INSUFFICIENT_FUNDS"
    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    UNKNOWN_ORDER = "UNKNOWN_ORDER"
    ORDER_CLOSED = "ORDER_CLOSED"
    UNKNOWN_ASSET = "UNKNOWN_ASSET"
    INVALID_AMOUNT = "INVALID_AMOUNT"
    DUPLICATE_REF = "DUPLICATE_REF"
    ENGINE_FAILURE = "ENGINE_FAILURE"


class EngineError(Exception):
    """An engine command refused its input (nothing changed) or failed."""

    code: ErrorCode = ErrorCode.ENGINE_FAILURE

    def __init__(self, code: ErrorCode | str, message: str = "") -> None:
        self.code = ErrorCode(code)
        self.message = message
        super().__init__(f"{self.code.value} {message}".strip())


class UnknownMarket(EngineError):
    code = ErrorCode.UNKNOWN_MARKET


class MarketNotTrading(EngineError):
    code = ErrorCode.MARKET_NOT_TRADING


class MarketHalted(EngineError):
    code = ErrorCode.MARKET_HALTED


class InvalidSide(EngineError):
    code = ErrorCode.INVALID_SIDE


class InvalidType(EngineError):
    code = ErrorCode.INVALID_TYPE


class InvalidTif(EngineError):
    code = ErrorCode.INVALID_TIF


class InvalidStp(EngineError):
    code = ErrorCode.INVALID_STP


class InvalidPrice(EngineError):
    code = ErrorCode.INVALID_PRICE


class PriceTooHigh(EngineError):
    code = ErrorCode.PRICE_TOO_HIGH


class PriceOutOfBand(EngineError):
    code = ErrorCode.PRICE_OUT_OF_BAND


class InvalidQty(EngineError):
    code = ErrorCode.INVALID_QTY


class QtyTooSmall(EngineError):
    code = ErrorCode.QTY_TOO_SMALL


class QtyTooLarge(EngineError):
    code = ErrorCode.QTY_TOO_LARGE


class NotionalTooSmall(EngineError):
    code = ErrorCode.NOTIONAL_TOO_SMALL


class InvalidPostOnly(EngineError):
    code = ErrorCode.INVALID_POST_ONLY


class DuplicateClientOrderId(EngineError):
    code = ErrorCode.DUPLICATE_CLIENT_ORDER_ID


class TooManyOpenOrders(EngineError):
    code = ErrorCode.TOO_MANY_OPEN_ORDERS


class InsufficientFunds(EngineError):
    code = ErrorCode.INSUFFICIENT_FUNDS


class InvalidArgument(EngineError):
    code = ErrorCode.INVALID_ARGUMENT


class UnknownOrder(EngineError):
    code = ErrorCode.UNKNOWN_ORDER


class OrderClosed(EngineError):
    code = ErrorCode.ORDER_CLOSED


class UnknownAsset(EngineError):
    code = ErrorCode.UNKNOWN_ASSET


class InvalidAmount(EngineError):
    code = ErrorCode.INVALID_AMOUNT


class DuplicateRef(EngineError):
    code = ErrorCode.DUPLICATE_REF


class EngineFailure(EngineError):
    code = ErrorCode.ENGINE_FAILURE


_BY_CODE: dict[ErrorCode, type[EngineError]] = {
    cls.code: cls
    for cls in (
        UnknownMarket,
        MarketNotTrading,
        MarketHalted,
        InvalidSide,
        InvalidType,
        InvalidTif,
        InvalidStp,
        InvalidPrice,
        PriceTooHigh,
        PriceOutOfBand,
        InvalidQty,
        QtyTooSmall,
        QtyTooLarge,
        NotionalTooSmall,
        InvalidPostOnly,
        DuplicateClientOrderId,
        TooManyOpenOrders,
        InsufficientFunds,
        InvalidArgument,
        UnknownOrder,
        OrderClosed,
        UnknownAsset,
        InvalidAmount,
        DuplicateRef,
        EngineFailure,
    )
}


def error_for(code: ErrorCode | str, message: str = "") -> EngineError:
    """The named exception for a code (EngineFailure for anything outside the vocabulary)."""
    try:
        known = ErrorCode(code)
    except ValueError:
        return EngineFailure(ErrorCode.ENGINE_FAILURE, f"{code} {message}".strip())
    return _BY_CODE[known](known, message)


def from_reply(exc: redis.ResponseError) -> EngineError:
    """Turn a Lua error reply (`CODE human message`) into its named exception."""
    text = str(exc).strip()
    code, _, message = text.partition(" ")
    return error_for(code, message)
