"""The closed vocabularies of the exchange, defined once.

Their lowercase values travel unchanged through Lua arguments, Redis hashes, events, SQL rows and JSON.
The API's OpenAPI schema names these classes, so renaming one changes the generated frontend types.
(No class docstrings: msgspec would copy them into the OpenAPI document.)
"""

from __future__ import annotations

from enum import StrEnum


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


class OrderType(StrEnum):
    LIMIT = "limit"
    MARKET = "market"


class TimeInForce(StrEnum):
    GTC = "gtc"
    IOC = "ioc"
    FOK = "fok"


class Stp(StrEnum):  # self-trade prevention mode; the engine's default is cancel_maker
    CANCEL_MAKER = "cancel_maker"
    CANCEL_TAKER = "cancel_taker"
    CANCEL_BOTH = "cancel_both"


class OrderStatus(StrEnum):
    OPEN = "open"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    EXPIRED = "expired"


class MarketStatus(StrEnum):
    TRADING = "trading"
    CANCEL_ONLY = "cancel_only"
    HALTED = "halted"


class Liquidity(StrEnum):
    MAKER = "maker"
    TAKER = "taker"
