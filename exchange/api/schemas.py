"""Request and response bodies (msgspec Structs). In-schemas forbid unknown fields; out-schemas document
what the API returns (the OpenAPI document, and so the frontend's generated types, come from here)."""

from __future__ import annotations

import enum
import json
import re
import typing
from typing import Annotated, Any

import msgspec
from msgspec import Meta, Struct

from exchange.api.errors import ApiError, ErrorCode
from exchange.vocab import MarketStatus, OrderType, Side, Stp, TimeInForce


def whole(body: str) -> str:
    """A pattern the whole string must match. msgspec (and so Litestar) applies patterns with `re.search`,
    where `$` also matches before a final newline: the lookahead refuses that (and is ECMA-262 too, the
    dialect OpenAPI documents patterns in)."""
    return f"^{body}(?!\\n)$"


MAX_INT_DIGITS, MAX_DECIMALS = 20, 18  # of a decimal string (DECIMAL_PATTERN)
DECIMAL_PATTERN = whole(rf"[0-9]{{1,{MAX_INT_DIGITS}}}(\.[0-9]{{1,{MAX_DECIMALS}}})?")
SYMBOL_PATTERN = whole(r"[A-Z0-9]{1,15}-[A-Z0-9]{1,15}")
DECIMAL_MAX_LENGTH = 40
DecimalStr = Annotated[
    str,
    Meta(pattern=DECIMAL_PATTERN, max_length=DECIMAL_MAX_LENGTH, description="decimal string, e.g. 0.5"),
]
ASSET_PATTERN = whole(r"[A-Z0-9]{1,15}")
CLIENT_ORDER_ID_PATTERN = whole(r"[A-Za-z0-9_-]{1,36}")
EMAIL_PATTERN = whole(r"[A-Za-z0-9._%+'-]{1,64}@[A-Za-z0-9-]{1,63}(\.[A-Za-z0-9-]{1,63}){1,8}")
REF_PATTERN = whole(r"[A-Za-z0-9_.:-]{1,64}")
SESSION_ID_PATTERN = whole(r"[A-Za-z0-9_-]{1,64}")
SIDE_PATTERN = whole("(buy|sell)")  # the history filters' `side` (an order's `side` is the `Side` enum)
NO_NUL_PATTERN = r"^[^\x00]*$"
Symbol = Annotated[str, Meta(pattern=SYMBOL_PATTERN, max_length=31, description="BTC-USDT")]
AssetSymbol = Annotated[str, Meta(pattern=ASSET_PATTERN, max_length=15)]
ClientOrderId = Annotated[str, Meta(pattern=CLIENT_ORDER_ID_PATTERN, max_length=36)]
Email = Annotated[
    str,
    Meta(
        pattern=EMAIL_PATTERN,
        min_length=3,
        max_length=254,
        description="an email address (ASCII)",
    ),
]
Password = Annotated[str, Meta(min_length=8, max_length=128, pattern=NO_NUL_PATTERN)]
LoginPassword = Annotated[str, Meta(min_length=1, max_length=128, pattern=NO_NUL_PATTERN)]
Ref = Annotated[str, Meta(pattern=REF_PATTERN, max_length=64)]
Token = Annotated[str, Meta(min_length=1, max_length=2048)]
AccountId = Annotated[int, Meta(ge=1, le=2**53 - 1)]

# what each pattern asks for, in words: validation messages say this instead of showing the regex
PATTERN_WORDS = {
    DECIMAL_PATTERN: (
        'a decimal string such as "0.01" (digits with at most one point; no sign, exponent or space)'
    ),
    SYMBOL_PATTERN: 'a market symbol BASE-QUOTE such as "BTC-USDT" (capitals and digits, a dash between)',
    ASSET_PATTERN: 'an asset symbol such as "BTC" (capitals and digits)',
    CLIENT_ORDER_ID_PATTERN: "1 to 36 letters, digits, '_' or '-'",
    EMAIL_PATTERN: "an email address (ASCII)",
    REF_PATTERN: "1 to 64 letters, digits, '_', '.', ':' or '-'",
    SESSION_ID_PATTERN: "1 to 64 letters, digits, '_' or '-'",
    SIDE_PATTERN: '"buy" or "sell"',
    NO_NUL_PATTERN: "text without NUL characters",
}


# msgspec's names of JSON types, in words ("Expected `int | null`, got `str`" -> "Expected an integer or
# null, got a string")
TYPE_WORDS = {
    "str": "a string",
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "null": "null",
    "object": "a JSON object",
    "array": "an array",
}
_TYPE_NAME = re.compile(r"`([a-z]+(?: \| [a-z]+)*)`")
_LENGTH = re.compile(r"of length (<=|>=) (\d+)")


def _type_words(match: re.Match[str]) -> str:
    names = match[1].split(" | ")
    if not all(n in TYPE_WORDS for n in names):
        return match[0]
    return " or ".join(TYPE_WORDS[n] for n in names)


def readable(message: str) -> str:
    """A validation message in words: each known pattern ("Expected `str` matching regex '^[0-9]...'" ->
    "Expected a decimal string such as "0.01" ..."), each JSON type ("`int`" -> "an integer") and each
    length bound ("of length <= 64" -> "of at most 64 characters")."""
    if "regex" in message:
        for pattern, words in PATTERN_WORDS.items():
            message = message.replace(f"`str` matching regex {pattern!r}", words)
    if "`" in message:
        message = _LENGTH.sub(
            lambda m: f"of {'at most' if m[1] == '<=' else 'at least'} {m[2]} characters", message
        )
        message = _TYPE_NAME.sub(_type_words, message)
    return message


_DECIMAL_FORM = re.compile(r"[0-9]+(\.[0-9]+)?")
_DECIMAL_RULES = (f"`str` matching regex {DECIMAL_PATTERN!r}", f"`str` of length <= {DECIMAL_MAX_LENGTH}")
NO_VALUE: Any = object()  # `explain`'s value when the caller does not have it


def decimal_limits(value: Any) -> str | None:
    """What is wrong with a decimal string of the right form ("0.0010000000000000000") that has more digits
    than a DecimalStr takes; None for anything else (a value of the wrong form, or a valid one)."""
    if not isinstance(value, str) or not _DECIMAL_FORM.fullmatch(value):
        return None
    integer, _, fraction = value.partition(".")
    problems = []
    if len(integer) > MAX_INT_DIGITS:
        problems.append(f"too large: at most {MAX_INT_DIGITS} digits before the point ({len(integer)} given)")
    if len(fraction) > MAX_DECIMALS:
        problems.append(f"too many decimals: at most {MAX_DECIMALS} ({len(fraction)} given)")
    return "; ".join(problems) or None


def explain(message: str, value: Any = NO_VALUE) -> str:
    """A validation message in words (`readable`), given the value refused when the caller has it: a
    decimal string of the right form but too long is told which limit it passes, not that it is no
    decimal string."""
    if value is not NO_VALUE and any(rule in message for rule in _DECIMAL_RULES):
        limits = decimal_limits(value)
        if limits is not None:
            return limits
    return readable(message)


def split_error(error: str, data: Any = NO_VALUE, struct: type | None = None) -> tuple[str, str]:
    """A msgspec `ValidationError` text ("Expected ... - at `$.qty`") -> (the key, "qty", or "" for the
    whole object; the message in words, `explain`ed with the key's value in `data` when it is a top-level
    key of that object). A value outside a closed vocabulary (an enum field of `struct`) is told the values
    the field takes."""
    message, _, at = error.partition(" - at `")
    key = at.rstrip("`").removeprefix("$").removeprefix(".")
    field_error = _FIELD_ERROR.fullmatch(message)
    if field_error is not None:  # said of the object at `key`: name the field itself
        problem, name = field_error.groups()
        path = f"{key}.{name}" if key else name
        if problem == "missing required":
            return path, "required field missing"
        names = (
            [f.encode_name for f in msgspec.structs.fields(struct)] if struct is not None and not key else []
        )
        return path, "unknown field" + (f"; the fields are {', '.join(names)}" if names else "")
    value = data.get(key, NO_VALUE) if isinstance(data, dict) and key else NO_VALUE
    if struct is not None and value is not NO_VALUE and message.startswith("Invalid enum"):
        field = next((f for f in msgspec.structs.fields(struct) if f.encode_name == key), None)
        choices = enum_values(field.type) if field is not None else None
        if choices:
            return key, not_one_of(choices, value)
    return key, explain(message, value)


_FIELD_ERROR = re.compile(r"Object (missing required|contains unknown) field `(.+)`")


def enum_values(annotation: Any) -> list[str] | None:
    """The values a type takes when it is an enum (or an optional one, `Side | None`); else None."""
    for t in (annotation, *typing.get_args(annotation)):
        if isinstance(t, type) and issubclass(t, enum.Enum):
            return [str(v.value) for v in t]
    return None


def not_one_of(choices: list[str], value: Any) -> str:
    """What a value outside a closed vocabulary is told: the values taken, and the one given as JSON."""
    return f"must be one of {', '.join(choices)}; got {json_text(value)}"


class _Repeated(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def _no_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise _Repeated(key)
        seen.add(key)
    return dict(pairs)


def repeated_key(raw: bytes | str, decoded: Any = NO_VALUE) -> str | None:
    """The first key that appears twice in one object of the JSON document `raw`, else None. `raw` has
    already decoded (with msgspec, as `decoded` when given), which keeps the last of repeated keys: a proxy,
    WAF or audit log reading the first would see another request than the engine, so the API refuses them.

    Cheap for what clients send: every key of a JSON object is followed by one ':', so a document with no
    more ':' than its top-level object has keys (`decoded`) has no nested object and no repeated key (about
    2 us for an order body, its generic decoding included, against ~450 us of API CPU per order). Only a
    document with more ':' (a repeated key, a nested object, a ':' inside a string) is parsed again, with
    the standard library."""
    colons = raw.count(b":") if isinstance(raw, bytes) else raw.count(":")
    if colons == 0 or (isinstance(decoded, dict) and colons <= len(decoded)):
        return None
    try:
        json.loads(raw, object_pairs_hook=_no_repeats)
    except _Repeated as exc:
        return exc.key
    except (ValueError, RecursionError):  # msgspec read it: the other parser's limits are no finding
        return None
    return None


def json_text(value: Any, limit: int = 80) -> str:
    """A client's value quoted as JSON (`null`, `"x"`), not as Python (`None`, `'x'`), cut at `limit`."""
    try:
        text = msgspec.json.encode(value).decode()
    except (TypeError, ValueError):  # pragma: no cover - decoded JSON always encodes
        text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def repeated_key_message(key: str) -> str:
    return f"duplicate key {json_text(key)}: a key may appear only once in an object"


# ---------------------------------------------------------------- in


class OrderCreate(Struct, forbid_unknown_fields=True, kw_only=True):
    """A new order. Limit: `price` + `qty`. Market: `qty`, or `quote_qty`: a buy spends it (taker fee
    included, the rest returned); a sell sells the base it is worth at the prices met (notional, before the
    taker fee, which comes out of the proceeds)."""

    symbol: Symbol
    side: Side
    type: OrderType
    price: DecimalStr | None = None
    qty: DecimalStr | None = None
    quote_qty: DecimalStr | None = None
    time_in_force: TimeInForce | None = None
    post_only: bool = False
    client_order_id: ClientOrderId | None = None
    stp: Stp | None = None


def parse_order_create(data: Any) -> OrderCreate:
    """Validate a decoded JSON object (e.g. a WebSocket `place` frame minus `op`/`req_id`)."""
    try:
        return msgspec.convert(data, OrderCreate)
    except msgspec.ValidationError as exc:
        key, message = split_error(str(exc), data, OrderCreate)  # worded as REST words it (`app.JsonRequest`)
        raise ApiError(ErrorCode.VALIDATION_ERROR, f"{key}: {message}" if key else message) from None


class Credentials(Struct, forbid_unknown_fields=True):
    email: Email
    password: Password


class PasswordChange(Struct, forbid_unknown_fields=True):
    """`POST /api/auth/password`: the current password (any length: it is checked, as at login) and the new
    one (registration's rules)."""

    current_password: LoginPassword
    new_password: Password


class LoginRequest(Struct, forbid_unknown_fields=True):
    """`refresh_cookie: true` (the terminal): the refresh token comes back as an httpOnly cookie, not in
    the body, so no script on the page can read it. Any password up to 128 characters is checked: a wrong
    one, however short, is INVALID_CREDENTIALS (the length rule is registration's)."""

    email: Email
    password: LoginPassword
    refresh_cookie: bool = False


class RefreshRequest(Struct, forbid_unknown_fields=True):
    """The refresh token to rotate; `{}` rotates the one in the `exchange_refresh` cookie. `refresh_cookie:
    true` returns the new one as that cookie even for a token from the body."""

    refresh_token: Token | None = None
    refresh_cookie: bool = False


class LogoutRequest(Struct, forbid_unknown_fields=True):
    """Revoke this refresh token; `{}` revokes the one in the `exchange_refresh` cookie (and clears it), or
    without a cookie, with a bearer access token, that token's session (this device: its refresh token and
    every access token it issued). `everywhere: true` with a bearer access token: every refresh and access
    token of the account (logout everywhere). `access_token` (and a bearer token presented with a refresh
    token or the cookie) stops working at once too; one that no longer verifies is ignored there, since it
    works nowhere."""

    refresh_token: Token | None = None
    access_token: Token | None = None
    everywhere: bool = False


class WalletRequest(Struct, forbid_unknown_fields=True):
    """An admin deposit or withdrawal; `ref` makes it idempotent."""

    account_id: AccountId
    asset: AssetSymbol
    amount: DecimalStr
    ref: Ref


class MarketStatusRequest(Struct, forbid_unknown_fields=True):
    status: MarketStatus
    cancel_orders: bool = False


# ---------------------------------------------------------------- out


class ErrorDetail(Struct):
    code: str
    message: str


class ErrorBody(Struct):
    error: ErrorDetail


class Fill(Struct):
    trade_id: int
    price: str
    qty: str
    fee: str
    fee_asset: str
    liquidity: str
    ts: int


class Order(Struct):
    """An order; `created_at`, `updated_at` and fill `ts` are integer milliseconds since the epoch."""

    id: int
    client_order_id: str | None
    symbol: str
    side: str
    type: str
    price: str | None
    qty: str | None
    quote_qty: str | None
    filled_qty: str
    remaining_qty: str
    quote_filled: str
    avg_price: str | None
    status: str
    reason: str
    time_in_force: str
    post_only: bool
    stp: str
    created_at: int
    updated_at: int
    fills: list[Fill]


class CancelAllResult(Struct):
    cancelled: int


class Balance(Struct):
    asset: str
    available: str
    held: str


class AssetOut(Struct):
    symbol: str
    name: str
    decimals: int


class MarketOut(Struct):
    symbol: str
    base: str
    quote: str
    base_decimals: int
    """Decimals of the base asset (its minor unit): balances and fills are exact to it."""
    quote_decimals: int
    """Decimals of the quote asset: holds, fees and totals are rounded to it (see docs/engine.md)."""
    tick_size: str
    lot_size: str
    min_qty: str
    max_qty: str
    min_notional: str
    max_price: str
    maker_fee: str
    taker_fee: str
    price_band: str
    """How far an order may trade from the best opposite price at its arrival, as a fraction (0.1: 10 %): a
    limit order priced beyond it is refused (PRICE_OUT_OF_BAND); a market order stops matching there, and its
    rest expires. 0: no band."""
    status: str


class Book(Struct):
    symbol: str
    seq: int
    bids: list[list[str]]
    asks: list[list[str]]


class SideEstimate(Struct):
    """What a market order of the asked quantity would get on one side of the book now (decimal strings):
    `total` is what a buyer pays (notional + fee) or what a seller receives (notional - fee)."""

    filled_qty: str
    avg_price: str | None
    worst_price: str | None
    notional: str
    fee: str
    total: str
    complete: bool
    capped: bool
    """One order would meet more resting orders than the engine lets one order match (`MAX_MAKERS`, 12): it
    would stop before this (the rest expired, reason `max_makers`); send the rest again."""


class Estimate(Struct):
    """Buying and selling `qty` now, walking the book best-first (`seq`: the book it read)."""

    symbol: str
    seq: int
    qty: str
    buy: SideEstimate
    sell: SideEstimate


class SpendEstimate(Struct):
    """A market order by quote amount `quote_qty` now (decimal strings). A buy (`/estimate/buy`) spends it:
    the base it would get (`filled_qty`), at what average and worst price, the notional, the taker fee and
    `total` = notional + fee, what it would spend (the rest of `quote_qty` is returned). A sell
    (`/estimate/sell`) sells the base `quote_qty` is worth: `filled_qty` is the base sold, `notional` at most
    `quote_qty`, and `total` = notional - fee, what it would receive. `complete`: the amount is reached as far
    as whole lots go (the order would be filled); false when that side of the book, within the price band,
    ends first (it would expire)."""

    symbol: str
    seq: int
    quote_qty: str
    filled_qty: str
    avg_price: str | None
    worst_price: str | None
    notional: str
    fee: str
    total: str
    complete: bool
    capped: bool
    """As in `SideEstimate`: one order would meet more resting orders than the engine lets it match."""


class TokenPair(Struct, omit_defaults=True):
    """`refresh_token` is absent when it was set as the `exchange_refresh` cookie instead."""

    access_token: str
    token_type: str
    expires_in: int
    refresh_token: str | None = None


class Account(Struct):
    id: int
    email: str
    is_admin: bool
    created_at: int


class Session(Struct):
    """A login session (a device or browser): when it logged in and last refreshed, from where."""

    id: str
    created_at: int
    last_used_at: int
    user_agent: str
    ip: str
    current: bool  # the session of the access token asking


class SessionsEnded(Struct):
    account_id: int
    sessions_ended: int


class WalletResult(Struct):
    account_id: int
    asset: str
    amount: str
    available: str
    held: str
    duplicate: bool


class MarketStatusResult(Struct):
    symbol: str
    status: str
    cancelled: int


class ServerTime(Struct):
    server_time: int  # epoch milliseconds


class Health(Struct):
    status: str
    checks: dict[str, str] = msgspec.field(default_factory=dict)
