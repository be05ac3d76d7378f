"""Conversions between engine units (integer ticks, lots, minor units) and API values (decimal strings).

The engine speaks integers only (`docs/engine.md`); the API speaks decimal strings only. This module is the
single place where the two meet, shared by REST (`exchange.api.trading`, the controllers) and the WebSocket
(`exchange.api.ws`: private `orders` channel, book updates, `place`/`cancel` ops).

Public surface:
- `Market`: one market's conversion parameters (built from the engine's market hash + asset decimals),
  with `price_out/qty_out/quote_out/base_out` (ints -> strings) and `price_in/qty_in/quote_in` (strings ->
  ints; raise `ApiError` with `PRICE_NOT_ON_TICK`, `QTY_NOT_ON_LOT`, `TOO_MANY_DECIMALS`, ...).
- `MarketCache`: per-process cache of `Market`s read from the engine (`await cache.get(symbol)`).
- `order_out(order, market, fills=None) -> dict`: engine order object -> API order.
- `fill_out(fill, market) -> dict`: engine fill (place result), engine `trade` view or PostgreSQL `fills`
  row -> API fill `{trade_id, price, qty, fee, fee_asset, liquidity, ts}`.
- `levels_out(levels, market) -> [[price, qty], ...]`: engine book levels (`[p, q]` or `[p, q, count]`).
- `balance_out(asset, available, held, decimals) -> dict`, `decimal_str(Decimal) -> str`.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Context, Decimal, InvalidOperation, localcontext
from typing import Any

from exchange.api.errors import ApiError, ErrorCode
from exchange.api.schemas import json_text

MAX_SAFE_INT = 2**53 - 1
_TEN_THOUSAND = Decimal(10000)
_AVG_EXTRA_DIGITS = 4  # avg_price carries the tick's decimals plus this many more


def decimal_str(value: Decimal) -> str:
    """Normalized plain decimal text: `Decimal("60000.0100")` -> `"60000.01"`, never exponent notation."""
    if value == 0:
        return "0"
    text = format(value.normalize(), "f")
    return text


def scaled_str(n: int, k: int) -> str:
    """`n * 10**-k` (k >= 0) as `decimal_str` writes it, with integer string work only (no Decimal): the
    hot path of every order, book and trade conversion."""
    if k == 0:
        return str(n)
    sign = "-" if n < 0 else ""
    digits = str(-n if n < 0 else n).rjust(k + 1, "0")
    frac = digits[-k:].rstrip("0")
    return f"{sign}{digits[:-k]}.{frac}" if frac else f"{sign}{digits[:-k]}"


def _power_of_ten_exponent(step: Decimal) -> int:
    """k when `step == 10**-k` (k >= 0), else -1."""
    t = step.normalize().as_tuple()
    exponent = int(t.exponent)
    return -exponent if t.digits == (1,) and t.sign == 0 and exponent <= 0 else -1


_PLAIN_DECIMAL = re.compile(r"([0-9]{1,30})(?:\.([0-9]{1,30}))?")


def units_of(text: str, k: int) -> int | None:
    """`text / 10**-k` for plain decimal text (`"60000.01"`) that is an exact multiple within the safe
    integer range; None for anything else (exponents, signs, spaces, off-step values, too large), which the
    Decimal path then handles with its precise error."""
    if k < 0:
        return None
    m = _PLAIN_DECIMAL.fullmatch(text)
    if m is None:
        return None
    whole, frac = m.group(1), (m.group(2) or "").rstrip("0")
    if len(frac) > k:
        return None
    units = int(whole + frac.ljust(k, "0"))
    return units if units <= MAX_SAFE_INT else None


def _parse_decimal(text: str, code: ErrorCode, field: str) -> Decimal:
    try:
        value = Decimal(text)
    except (InvalidOperation, TypeError, ValueError):
        raise ApiError(code, f"{field} must be a decimal string, got {json_text(text)}") from None
    if not value.is_finite() or value < 0:
        raise ApiError(code, f"{field} must be a non-negative decimal, got {json_text(text)}")
    return value


def _whole_multiple(value: Decimal, step: Decimal, code: ErrorCode, field: str, limit_code: ErrorCode) -> int:
    """`value / step` as an integer: `limit_code` past 2^53 - 1 (checked first: such a value is refused
    for its size whatever its digits), `code` when not a whole multiple. Exact for any input: the division
    and the texts quoting the value run at 80 digits (the default 28 would round a long value)."""
    with localcontext(Context(prec=80)):
        ratio = value / step
        if ratio > MAX_SAFE_INT:
            raise ApiError(limit_code, f"{field} {decimal_str(value)} is too large")
        if ratio != ratio.to_integral_value():
            raise ApiError(code, f"{field} {decimal_str(value)} is not a multiple of {decimal_str(step)}")
    return int(ratio)


@dataclass(frozen=True, slots=True)
class Market:
    """Conversion parameters of one market (engine units <-> decimal strings)."""

    symbol: str
    base: str
    quote: str
    tick_size: Decimal
    lot_size: Decimal
    base_decimals: int
    quote_decimals: int
    lot_minor: int
    num: int
    den: int
    min_lots: int
    max_lots: int
    max_price_ticks: int
    min_notional_minor: int
    maker_bps: int
    taker_bps: int
    status: str
    price_band_bps: int = 0  # 0: no band (docs/engine.md, "Price band")
    tick_exp: int = field(init=False, repr=False, compare=False)  # tick_size == 10**-tick_exp, or -1
    lot_exp: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tick_exp", _power_of_ten_exponent(self.tick_size))
        object.__setattr__(self, "lot_exp", _power_of_ten_exponent(self.lot_size))

    @classmethod
    def from_engine(cls, fields: Mapping[str, Any], decimals: Mapping[str, int]) -> Market:
        """Build from the engine's market hash (`engine.market(symbol)`) and asset decimals by symbol."""
        base, quote = str(fields["base"]), str(fields["quote"])
        return cls(
            symbol=str(fields["symbol"]),
            base=base,
            quote=quote,
            tick_size=Decimal(str(fields["tick_size"])),
            lot_size=Decimal(str(fields["lot_size"])),
            base_decimals=int(decimals[base]),
            quote_decimals=int(decimals[quote]),
            lot_minor=int(fields["lot_minor"]),
            num=int(fields["num"]),
            den=int(fields["den"]),
            min_lots=int(fields["min_lots"]),
            max_lots=int(fields["max_lots"]),
            max_price_ticks=int(fields["max_price_ticks"]),
            min_notional_minor=int(fields["min_notional_minor"]),
            maker_bps=int(fields["maker_bps"]),
            taker_bps=int(fields["taker_bps"]),
            status=str(fields.get("status", "trading")),
            price_band_bps=int(fields.get("price_band_bps", 0)),
        )

    # engine -> API
    def price_out(self, ticks: int | str) -> str:
        if self.tick_exp >= 0:
            return scaled_str(int(ticks), self.tick_exp)
        return decimal_str(int(ticks) * self.tick_size)

    def qty_out(self, lots: int | str) -> str:
        if self.lot_exp >= 0:
            return scaled_str(int(lots), self.lot_exp)
        return decimal_str(int(lots) * self.lot_size)

    def quote_out(self, minor: int | str) -> str:
        return scaled_str(int(minor), self.quote_decimals)

    def base_out(self, minor: int | str) -> str:
        return scaled_str(int(minor), self.base_decimals)

    def fee_rate(self, bps: int) -> str:
        return decimal_str(Decimal(bps) / _TEN_THOUSAND)

    def avg_price(self, quote_filled_minor: int, filled_lots: int) -> str | None:
        """Average fill price (quote per base unit) or None without fills; tick decimals + 4 more."""
        if filled_lots <= 0:
            return None
        with localcontext(Context(prec=60)):
            quote = Decimal(quote_filled_minor).scaleb(-self.quote_decimals)
            return self._mean_text(quote / (filled_lots * self.lot_size))

    def mean_price(self, ticks_times_lots: int, lots: int) -> str | None:
        """Volume-weighted mean of prices (the sum of price_ticks * lots over the fills, and their lots), at
        tick decimals + 4 more; None for no lots. Unlike `avg_price` it involves no minor-unit rounding."""
        if lots <= 0:
            return None
        with localcontext(Context(prec=60)):
            return self._mean_text(Decimal(ticks_times_lots) * self.tick_size / lots)

    def _mean_text(self, price: Decimal) -> str:
        """A mean price as text: the tick's decimals plus `_AVG_EXTRA_DIGITS` more."""
        exponent = min(self.tick_size.normalize().as_tuple().exponent, 0)
        return decimal_str(price.quantize(Decimal(1).scaleb(int(exponent) - _AVG_EXTRA_DIGITS)))

    # API -> engine
    def price_in(self, text: str) -> int:
        fast = units_of(text, self.tick_exp)
        if fast is not None:
            return fast
        value = _parse_decimal(text, ErrorCode.INVALID_PRICE, "price")
        return _whole_multiple(
            value, self.tick_size, ErrorCode.PRICE_NOT_ON_TICK, "price", ErrorCode.PRICE_TOO_HIGH
        )

    def qty_in(self, text: str) -> int:
        fast = units_of(text, self.lot_exp)
        if fast is not None:
            return fast
        value = _parse_decimal(text, ErrorCode.INVALID_QTY, "qty")
        return _whole_multiple(value, self.lot_size, ErrorCode.QTY_NOT_ON_LOT, "qty", ErrorCode.QTY_TOO_LARGE)

    def quote_in(self, text: str) -> int:
        fast = units_of(text, self.quote_decimals)
        if fast is not None:
            return fast
        value = _parse_decimal(text, ErrorCode.INVALID_QTY, "quote_qty")
        step = Decimal(1).scaleb(-self.quote_decimals)
        return _whole_multiple(value, step, ErrorCode.TOO_MANY_DECIMALS, "quote_qty", ErrorCode.QTY_TOO_LARGE)

    def as_api(self) -> dict[str, Any]:
        """The `GET /api/markets` item."""
        return {
            "symbol": self.symbol,
            "base": self.base,
            "quote": self.quote,
            "base_decimals": self.base_decimals,
            "quote_decimals": self.quote_decimals,
            "tick_size": decimal_str(self.tick_size),
            "lot_size": decimal_str(self.lot_size),
            "min_qty": self.qty_out(self.min_lots),
            "max_qty": self.qty_out(self.max_lots),
            "min_notional": self.quote_out(self.min_notional_minor),
            "max_price": self.price_out(self.max_price_ticks),
            "maker_fee": self.fee_rate(self.maker_bps),
            "taker_fee": self.fee_rate(self.taker_bps),
            "price_band": self.fee_rate(self.price_band_bps),
            "status": self.status,
        }


def amount_in(text: str, decimals: int, field: str = "amount") -> int:
    """Decimal asset amount -> minor units (`INVALID_AMOUNT`, `TOO_MANY_DECIMALS`)."""
    value = _parse_decimal(text, ErrorCode.INVALID_AMOUNT, field)
    step = Decimal(1).scaleb(-decimals)
    return _whole_multiple(value, step, ErrorCode.TOO_MANY_DECIMALS, field, ErrorCode.INVALID_AMOUNT)


def amount_out(minor: int | str, decimals: int) -> str:
    return decimal_str(Decimal(int(minor)).scaleb(-decimals))


def balance_out(asset: str, available: int, held: int, decimals: int) -> dict[str, str]:
    return {"asset": asset, "available": amount_out(available, decimals), "held": amount_out(held, decimals)}


def _pick(mapping: Mapping[str, Any], *names: str, default: Any = 0) -> Any:
    for name in names:
        if name in mapping and mapping[name] is not None:
            return mapping[name]
    return default


def fill_out(fill: Mapping[str, Any], market: Market) -> dict[str, Any]:
    """One fill in API form. Accepts the engine's place-result fill (`price`, `qty`, `fee` as ints), a
    PostgreSQL `fills` row (`price_ticks`, `qty_lots`, `fee_minor`, `ts_ms`) or an already converted fill
    (decimal strings: returned unchanged apart from defaults)."""
    price = _pick(fill, "price_ticks", "price")
    if isinstance(price, str) and not price.lstrip("-").isdigit():  # already decimal text
        out = dict(fill)
        out.setdefault("fee_asset", market.quote)
        return out
    return {
        "trade_id": int(_pick(fill, "trade_id", "id")),
        "price": market.price_out(price),
        "qty": market.qty_out(_pick(fill, "qty_lots", "qty")),
        "fee": market.quote_out(_pick(fill, "fee_minor", "fee")),
        "fee_asset": str(_pick(fill, "fee_asset", default=market.quote)),
        "liquidity": str(_pick(fill, "liquidity", default="taker")),
        "ts": int(_pick(fill, "ts_ms", "ts")),
    }


def order_out(
    order: Mapping[str, Any], market: Market, fills: Iterable[Mapping[str, Any]] | None = None
) -> dict[str, Any]:
    """The engine order object (`docs/engine.md`, "The order object") -> the API order.

    `fills` are engine or PostgreSQL fills (see `fill_out`); `[]` when not given.
    """
    qty = int(_pick(order, "qty"))
    filled = int(_pick(order, "filled"))
    quote_qty = int(_pick(order, "quote_qty"))
    price = int(_pick(order, "price"))
    status = str(_pick(order, "status", default=""))
    return {
        "id": int(order["id"]),
        "client_order_id": str(_pick(order, "client_order_id", default="")) or None,
        "symbol": str(_pick(order, "symbol", default=market.symbol)),
        "side": str(order["side"]),
        "type": str(order["type"]),
        "price": market.price_out(price) if price else None,
        "qty": market.qty_out(qty) if qty else None,
        "quote_qty": market.quote_out(quote_qty) if quote_qty else None,
        "filled_qty": market.qty_out(filled),
        "remaining_qty": market.qty_out(max(qty - filled, 0)) if status in OPEN_STATUSES else "0",
        "quote_filled": market.quote_out(int(_pick(order, "quote_filled"))),
        "avg_price": market.avg_price(int(_pick(order, "quote_filled")), filled),
        "status": status,
        "reason": str(_pick(order, "reason", default="")),
        "time_in_force": str(_pick(order, "tif", default="gtc")),
        "post_only": bool(int(_pick(order, "post_only"))),
        "stp": str(_pick(order, "stp", default="cancel_maker")),
        "created_at": int(_pick(order, "created_ms")),
        "updated_at": int(_pick(order, "updated_ms")),
        "fills": [fill_out(f, market) for f in fills] if fills is not None else [],
    }


OPEN_STATUSES = frozenset({"open", "partially_filled"})


def levels_out(levels: Sequence[Sequence[int | str]], market: Market) -> list[list[str]]:
    """Engine levels `[[price_ticks, qty_lots(, count)], ...]` -> `[[price, qty], ...]` (qty "0" removes)."""
    return [[market.price_out(level[0]), market.qty_out(level[1])] for level in levels]


class MarketCache:
    """Per-process cache of `Market`s read from the engine (`AsyncEngine.markets()` / `.assets()`).

    Market parameters change rarely (`exchange seed`), statuses more often: `get` serves from memory and
    reloads when the entry is older than `ttl_s` or the symbol is unknown (at most once per
    `miss_interval_s`, so unknown symbols cannot hammer Redis). `all(fresh=True)` reloads first.
    """

    def __init__(self, engine: Any, ttl_s: float = 2.0, miss_interval_s: float = 1.0) -> None:
        self._engine = engine
        self._ttl_s = ttl_s
        self._miss_interval_s = miss_interval_s
        self._markets: dict[str, Market] = {}
        self._decimals: dict[str, int] = {}
        self._loaded_at = 0.0
        self._lock = asyncio.Lock()

    @property
    def decimals(self) -> dict[str, int]:
        """Asset symbol -> decimals, as of the last load."""
        return self._decimals

    async def reload(self, max_age_s: float = 0.0) -> None:
        """Read markets and assets again (skipped when another caller did within `max_age_s`)."""
        async with self._lock:
            if max_age_s > 0 and time.monotonic() - self._loaded_at < max_age_s:
                return  # refreshed by a concurrent caller while we waited for the lock
            assets = await self._engine.assets()
            markets = await self._engine.markets()
            decimals = {str(a["symbol"]): int(a["decimals"]) for a in assets}
            loaded: dict[str, Market] = {}
            for fields in markets:
                try:
                    market = Market.from_engine(fields, decimals)
                except (KeyError, ValueError, InvalidOperation):
                    continue  # a half-written market (never in practice): skip it rather than fail everything
                loaded[market.symbol] = market
            self._decimals = decimals
            self._markets = loaded
            self._loaded_at = time.monotonic()

    async def get(self, symbol: str) -> Market | None:
        age = time.monotonic() - self._loaded_at
        market = self._markets.get(symbol)
        if market is None and age >= self._miss_interval_s:
            await self.reload(max_age_s=self._miss_interval_s)
            market = self._markets.get(symbol)
        elif age >= self._ttl_s:
            await self.reload(max_age_s=self._ttl_s)
            market = self._markets.get(symbol)
        return market

    async def require(self, symbol: str) -> Market:
        """The market or `ApiError(UNKNOWN_MARKET)`."""
        market = await self.get(symbol)
        if market is None:
            raise ApiError(ErrorCode.UNKNOWN_MARKET, f"no market {json_text(symbol)}")
        return market

    async def all(self, fresh: bool = False) -> list[Market]:
        if fresh:
            await self.reload()
        elif time.monotonic() - self._loaded_at >= self._ttl_s:
            await self.reload(max_age_s=self._ttl_s)
        return sorted(self._markets.values(), key=lambda m: m.symbol)

    async def asset_decimals(self, asset: str) -> int | None:
        if asset not in self._decimals or time.monotonic() - self._loaded_at >= self._ttl_s:
            await self.reload(max_age_s=self._miss_interval_s)
        return self._decimals.get(asset)
