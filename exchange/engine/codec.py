"""Pure argument building and result parsing shared by `Engine` and `AsyncEngine`.

Each command is described by a `Call` (function name, KEYS, ARGV); callers of the engine never see KEYS.
Reads decode the documented hashes (docs/redis.md) into plain dicts with integers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from exchange.money import MarketSpec

# the order object's fields (docs/engine.md), and the `order:{id}` record: every field but `id` in
# RECORD_FIELDS order (the unchanging head first), joined by "|", a field equal to its default empty and
# updated_ms empty while it equals created_ms (lua/lib/03_order.lua; docs/redis.md)
ORDER_FIELDS = (
    "id", "account", "symbol", "side", "type", "tif", "price", "qty", "quote_qty", "filled", "quote_filled",
    "hold", "hold_asset", "status", "reason", "post_only", "stp", "client_order_id", "created_ms",
    "updated_ms",
)  # fmt: skip
RECORD_FIELDS = (
    "account", "symbol", "side", "type", "tif", "price", "qty", "quote_qty", "hold_asset", "post_only", "stp",
    "client_order_id", "created_ms", "status", "reason", "filled", "quote_filled", "hold", "updated_ms",
)  # fmt: skip
ORDER_INT_FIELDS = frozenset(
    ("id", "account", "price", "qty", "quote_qty", "filled", "quote_filled", "hold", "post_only",
     "created_ms", "updated_ms")
)  # fmt: skip
ORDER_DEFAULTS: dict[str, Any] = {
    "type": "limit", "tif": "gtc", "price": 0, "qty": 0, "quote_qty": 0, "filled": 0, "quote_filled": 0,
    "hold": 0, "reason": "", "post_only": 0, "stp": "cancel_maker", "client_order_id": "",
}  # fmt: skip
MARKET_INT_FIELDS = (
    "lot_minor", "num", "den", "min_lots", "max_lots", "max_price_ticks", "min_notional_minor", "maker_bps",
    "taker_bps", "price_band_bps", "seq", "book_seq",
)  # fmt: skip
OPEN_STATUSES = frozenset({"open", "partially_filled"})


@dataclass(frozen=True)
class Call:
    function: str
    keys: tuple[str, ...]
    args: tuple[str, ...]


def _int(value: int, name: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int):
        # the Lua side refuses it with the right code; keep the text recognisably malformed
        return str(value)
    return str(value)


def create_asset(symbol: str, name: str, decimals: int) -> Call:
    return Call("ex_create_asset", (f"asset:{symbol}", "assets"), (symbol, name, _int(decimals, "decimals")))


def create_market(spec: MarketSpec, base_decimals: int, quote_decimals: int) -> Call:
    f = spec.engine_fields(base_decimals, quote_decimals)
    args = (
        spec.symbol,
        spec.base,
        spec.quote,
        str(f.lot_minor),
        str(f.num),
        str(f.den),
        str(f.min_lots),
        str(f.max_lots),
        str(f.max_price_ticks),
        str(f.min_notional_minor),
        str(spec.maker_fee_bps),
        str(spec.taker_fee_bps),
        spec.status,
        spec.tick_size,
        spec.lot_size,
        str(spec.price_band_bps),
    )
    return Call("ex_create_market", (f"market:{spec.symbol}", "markets"), args)


def wallet(kind: str, account: int, asset: str, amount: int, ref: str, ts_ms: int) -> Call:
    fn = "ex_deposit" if kind == "deposit" else "ex_withdraw"
    return Call(
        fn, (f"balance:{account}", "wallet:refs"), (str(account), asset, str(amount), ref, str(ts_ms))
    )


def place(
    account: int,
    symbol: str,
    side: str,
    type: str,
    *,
    price: int,
    qty: int,
    quote_qty: int,
    tif: str,
    post_only: bool,
    stp: str,
    client_order_id: str,
    ts_ms: int,
) -> Call:
    args = (
        str(account),
        symbol,
        side,
        type,
        tif,
        str(price),
        str(qty),
        str(quote_qty),
        "1" if post_only is True else "0" if post_only is False else str(post_only),
        stp,
        client_order_id,
        str(ts_ms),
    )
    return Call("ex_place", (f"market:{symbol}", f"balance:{account}", f"coid:{account}"), args)


def cancel(account: int, order_id: int, ts_ms: int) -> Call:
    return Call(
        "ex_cancel", (f"order:{order_id}", f"open:{account}"), (str(account), str(order_id), str(ts_ms))
    )


def cancel_all(account: int, ts_ms: int, symbol: str | None, after_id: int = 0) -> Call:
    args = (str(account), symbol or "", str(ts_ms), str(after_id))
    return Call("ex_cancel_all", (f"open:{account}",), args)


def set_market_status(symbol: str, status: str, ts_ms: int, cancel_orders: bool) -> Call:
    return Call(
        "ex_set_market_status",
        (f"market:{symbol}",),
        (symbol, status, "1" if cancel_orders else "0", str(ts_ms)),
    )


def book(symbol: str, depth: int) -> Call:
    return Call("ex_book", (f"market:{symbol}",), (symbol, str(depth)))


_decode_json = msgspec.json.decode  # ~4x the speed of json.loads on engine replies and event payloads


def parse_json(reply: Any) -> Any:
    return _decode_json(reply)


def record_values(order_id: int, text: str | bytes | None) -> list[str] | None:
    """The `order:{id}` record's field texts in RECORD_FIELDS order (empty: the default), None when absent."""
    if not text:
        return None
    if isinstance(text, bytes):
        text = text.decode()
    values = text.split("|")
    if len(values) != len(RECORD_FIELDS):
        raise ValueError(f"order:{order_id} is not an order record: {text!r}")
    return values


def parse_order_record(order_id: int, text: str | bytes | None) -> dict[str, Any] | None:
    """The order object from the `order:{id}` record (defaults filled in), None when absent."""
    values = record_values(order_id, text)
    if values is None:
        return None
    raw: dict[str, Any] = {"id": order_id}
    for name, value in zip(RECORD_FIELDS, values, strict=True):
        if value == "":
            raw[name] = ORDER_DEFAULTS.get(name, "")
        else:
            raw[name] = int(value) if name in ORDER_INT_FIELDS else value
    if values[-1] == "":  # updated_ms empty: never updated after creation
        raw["updated_ms"] = raw["created_ms"]
    return {name: raw[name] for name in ORDER_FIELDS}


def parse_order_line(line: str | bytes) -> dict[str, Any]:
    """An order as the engine returns and publishes it: "{id} {record}"."""
    if isinstance(line, bytes):
        line = line.decode()
    order_id, _, record = line.partition(" ")
    order = parse_order_record(int(order_id), record)
    if order is None:
        raise ValueError(f"not an order line: {line!r}")
    return order


def parse_order_lines(payload: str | bytes) -> list[dict[str, Any]]:
    """An `orders:{account}` message: one "{id} {record}" line per order."""
    if isinstance(payload, bytes):
        payload = payload.decode()
    return [parse_order_line(line) for line in payload.split("\n") if line]


def parse_place(reply: Any) -> dict[str, Any]:
    """The result of ex_place: {"order": order object, "fills": [...], "stp": [ids], "duplicate": bool}."""
    result: dict[str, Any] = parse_json(reply)
    result["order"] = parse_order_line(result["order"])
    return result


def order_record(order: Mapping[str, Any]) -> str:
    """The `order:{id}` record of an order object: exactly what the engine's O.save writes."""
    values = []
    for name in RECORD_FIELDS:
        value = order[name]
        if name == "updated_ms":
            value = "" if value == order["created_ms"] else value
        elif name in ORDER_DEFAULTS and value == ORDER_DEFAULTS[name]:
            value = ""
        values.append(str(int(value)) if isinstance(value, bool) else str(value))
    return "|".join(values)


def event_fields(entry_id: str | bytes, fields: Mapping[Any, Any]) -> dict[str, str]:
    """One event stream entry as a flat dict of text: seq (from the entry id), type, ts and the payload's
    fields (the engine writes them as one JSON object in `data`; lua/lib/02_ctx.lua C.payload)."""
    if isinstance(entry_id, bytes):
        entry_id = entry_id.decode()
    flat = {(k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
            for k, v in fields.items()}  # fmt: skip
    out = {"seq": entry_id.split("-", 1)[0], "type": flat.get("type", ""), "ts": flat.get("ts", "")}
    data = flat.get("data")
    if data:
        out.update(_decode_json(data))
    return out


def parse_market(flat: Mapping[Any, Any]) -> dict[str, Any] | None:
    if not flat:
        return None
    out: dict[str, Any] = dict(flat)
    out.setdefault("price_band_bps", 0)  # a market written before the field existed has no band
    for name in MARKET_INT_FIELDS:
        if name in out:
            out[name] = int(out[name])
    return out


def parse_asset(flat: Mapping[Any, Any]) -> dict[str, Any] | None:
    if not flat:
        return None
    return {"symbol": flat["symbol"], "name": flat.get("name", ""), "decimals": int(flat["decimals"])}


def parse_balances(assets: Iterable[Any], flat: Mapping[Any, Any]) -> dict[str, tuple[int, int]]:
    """asset -> (available, held) for every known asset (and any asset present in the hash)."""
    names = set(assets)
    for field in flat:
        names.add(field.rsplit(":", 1)[0])
    return {a: (int(flat.get(f"{a}:available", 0)), int(flat.get(f"{a}:held", 0))) for a in sorted(names)}
