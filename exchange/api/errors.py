"""API errors: one exception type, stable machine-readable codes, one HTTP status per code.

Every error leaves the API as `{"error": {"code": "...", "message": "..."}}` (REST) or inside an error frame
(WebSocket). Engine codes (`exchange.engine.errors`) pass through unchanged, except `UNKNOWN_ORDER` which
becomes `ORDER_NOT_FOUND` (an order of another account is indistinguishable from a missing one).

    Exception
     +-- ApiError(code, message, status=STATUS[code], headers=None)
"""

from __future__ import annotations

from enum import Enum, StrEnum
from typing import Any


class ErrorCode(StrEnum):
    """Every code the API can answer with (documented in docs/api.md)."""

    # request shape
    VALIDATION_ERROR = "VALIDATION_ERROR"
    BODY_TOO_LARGE = "BODY_TOO_LARGE"
    HEADERS_TOO_LARGE = "HEADERS_TOO_LARGE"
    NOT_FOUND = "NOT_FOUND"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    BAD_REQUEST = "BAD_REQUEST"
    # auth
    UNAUTHORIZED = "UNAUTHORIZED"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    INVALID_TOKEN = "INVALID_TOKEN"
    SESSION_ENDED = "SESSION_ENDED"
    FORBIDDEN = "FORBIDDEN"
    EMAIL_TAKEN = "EMAIL_TAKEN"
    WEAK_PASSWORD = "WEAK_PASSWORD"
    WRONG_PASSWORD = "WRONG_PASSWORD"
    RATE_LIMITED = "RATE_LIMITED"
    # conversions (decimal strings -> engine units)
    PRICE_NOT_ON_TICK = "PRICE_NOT_ON_TICK"
    QTY_NOT_ON_LOT = "QTY_NOT_ON_LOT"
    TOO_MANY_DECIMALS = "TOO_MANY_DECIMALS"
    # engine (docs/engine.md)
    UNKNOWN_MARKET = "UNKNOWN_MARKET"
    UNKNOWN_ASSET = "UNKNOWN_ASSET"
    UNKNOWN_ACCOUNT = "UNKNOWN_ACCOUNT"
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
    DUPLICATE_REF = "DUPLICATE_REF"
    INSUFFICIENT_FUNDS = "INSUFFICIENT_FUNDS"
    INVALID_AMOUNT = "INVALID_AMOUNT"
    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    ORDER_NOT_FOUND = "ORDER_NOT_FOUND"
    ORDER_CLOSED = "ORDER_CLOSED"
    # operations
    NOT_READY = "NOT_READY"
    UNAVAILABLE = "UNAVAILABLE"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    ENGINE_FAILURE = "ENGINE_FAILURE"


_STATUS_BY_CODE: dict[ErrorCode, int] = {
    ErrorCode.VALIDATION_ERROR: 422,
    ErrorCode.BODY_TOO_LARGE: 413,
    ErrorCode.HEADERS_TOO_LARGE: 431,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.INVALID_CREDENTIALS: 401,
    ErrorCode.INVALID_TOKEN: 401,
    ErrorCode.SESSION_ENDED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.EMAIL_TAKEN: 409,
    ErrorCode.WEAK_PASSWORD: 422,
    ErrorCode.WRONG_PASSWORD: 403,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.UNKNOWN_MARKET: 404,
    ErrorCode.UNKNOWN_ACCOUNT: 404,
    ErrorCode.ORDER_NOT_FOUND: 404,
    ErrorCode.ORDER_CLOSED: 409,
    ErrorCode.MARKET_NOT_TRADING: 409,
    ErrorCode.MARKET_HALTED: 409,
    ErrorCode.DUPLICATE_CLIENT_ORDER_ID: 409,
    ErrorCode.TOO_MANY_OPEN_ORDERS: 409,
    ErrorCode.DUPLICATE_REF: 409,
    ErrorCode.INSUFFICIENT_FUNDS: 409,
    ErrorCode.NOT_READY: 503,
    ErrorCode.UNAVAILABLE: 503,
    ErrorCode.INTERNAL_ERROR: 500,
    ErrorCode.ENGINE_FAILURE: 500,
}


def status_for(code: ErrorCode) -> int:
    """HTTP status of a code (400 unless listed)."""
    return _STATUS_BY_CODE.get(code, 400)


class ApiError(Exception):
    """An error with a stable code; `status` defaults to the code's HTTP status."""

    def __init__(
        self,
        code: ErrorCode | str,
        message: str,
        status: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        try:
            self.code: str = ErrorCode(code).value
            self.status = status if status is not None else status_for(ErrorCode(code))
        except ValueError:  # an engine code this module does not know yet: still a client error
            self.code = str(code)
            self.status = status if status is not None else 400
        self.message = message
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}

    def __repr__(self) -> str:
        return f"ApiError({self.code!r}, {self.message!r}, status={self.status})"


def as_api_error(exc: Exception) -> ApiError | None:
    """The envelope of an exception raised past the request's own checks: an `ApiError` is itself; a
    PostgreSQL or Redis outage is 503 `UNAVAILABLE`; data PostgreSQL refuses (e.g. a NUL byte in text) is the
    input's fault, 400; anything else is a bug: None (the caller answers 500 and logs it)."""
    if isinstance(exc, ApiError):
        return exc
    from psycopg import DataError, OperationalError
    from psycopg_pool import PoolTimeout
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    if isinstance(exc, DataError):
        return ApiError(ErrorCode.BAD_REQUEST, "the request contains data that cannot be stored")
    if isinstance(exc, RedisConnectionError | RedisTimeoutError):
        return ApiError(
            ErrorCode.UNAVAILABLE,
            "the engine's Redis is unavailable, retry shortly (an order or cancel sent as it went may still"
            " have taken effect: look it up, e.g. by its client_order_id, before sending it again)",
        )
    if isinstance(exc, OperationalError | PoolTimeout):
        return ApiError(ErrorCode.UNAVAILABLE, "a backing service is unavailable, retry shortly")
    return None


def from_engine_error(exc: Exception) -> ApiError:
    """An `exchange.engine.errors.EngineError` (anything with `.code` and `.message`) -> `ApiError`."""
    raw = getattr(exc, "code", "INTERNAL_ERROR")
    code = raw.value if isinstance(raw, Enum) else str(raw)
    message = str(getattr(exc, "message", "") or exc)
    if code == "UNKNOWN_ORDER":
        return ApiError(ErrorCode.ORDER_NOT_FOUND, "no such order")
    if code.upper() != code or not code.replace("_", "").isalnum():
        return ApiError(ErrorCode.INTERNAL_ERROR, "engine error")
    return ApiError(code, message)
