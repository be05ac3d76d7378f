"""A small market-making bot for the exchange's API (docs/api.md), as a starting point for your own.

It logs in, keeps its access token fresh (a refresh a minute before `expires_in` runs out, then `auth`
again on the open WebSocket), follows one market's book over the WebSocket (the snapshot, then updates
whose `first_seq` follows the last `seq`; a gap means subscribing again), and keeps one bid and one ask a
little away from the middle of the book, placed and cancelled over the same connection by
`client_order_id`. On the way out it cancels its orders with `DELETE /api/orders?symbol=`.

    python docs/examples/bot.py http://127.0.0.1:8000 you@example.com 'your password' [seconds]

Needs `httpx` and `websockets` (both installed with the exchange). tests/api/test_bot_example.py runs it.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

import httpx
import websockets

SYMBOL = "BTC-USDT"
SPREAD = Decimal("0.01")  # quote 1 % either side of the middle
REQUOTE_S = 1.0  # at most one new pair of quotes a second (each is four orders against the orders limit)


def on_step(value: Decimal, step: Decimal, rounding: str) -> Decimal:
    """`value` as a whole number of `step`s (a tick, a lot), rounded as asked."""
    return (value / step).to_integral_value(rounding) * step


class Bot:
    def __init__(self, base_url: str, email: str, password: str) -> None:
        self.http = httpx.AsyncClient(base_url=base_url, timeout=10)
        self.ws_url = base_url.replace("http", "ws", 1) + "/ws"
        self.email, self.password = email, password
        self.access = self.refresh_token = ""
        self.renew_at = 0.0
        self.book: dict[str, Any] | None = None  # {"seq", "bids": {price: qty}, "asks": {...}}
        self.resubscribed = False  # after a gap, until the new snapshot
        self.quoted: dict[str, str] = {}  # side -> client_order_id of our resting quote
        self.counter = 0
        self.quoted_at = 0.0
        self.stats = {"snapshots": 0, "updates": 0, "gaps": 0, "placed": 0, "refreshes": 0, "errors": 0}

    async def login(self) -> None:
        r = await self.http.post("/api/auth/login", json={"email": self.email, "password": self.password})
        r.raise_for_status()
        self._tokens(r.json())

    async def refresh(self) -> None:
        r = await self.http.post("/api/auth/refresh", json={"refresh_token": self.refresh_token})
        if r.status_code == 401:  # SESSION_ENDED (a logout elsewhere, a password change): log in again
            await self.login()
            return
        r.raise_for_status()
        self._tokens(r.json())
        self.stats["refreshes"] += 1

    def _tokens(self, body: dict[str, Any]) -> None:
        self.access, self.refresh_token = body["access_token"], body["refresh_token"]
        # expires_in: seconds (and the token's exp is a whole second, rounded down): renew a minute before, or
        # halfway through a lifetime shorter than two minutes
        lifetime = body["expires_in"]
        self.renew_at = time.monotonic() + max(lifetime / 2, lifetime - 60)

    async def run(self, seconds: float) -> dict[str, int]:
        await self.login()
        market = next(m for m in (await self.http.get("/api/markets")).json() if m["symbol"] == SYMBOL)
        async with websockets.connect(self.ws_url) as ws:
            await ws.send(json.dumps({"op": "auth", "token": self.access}))
            await ws.send(json.dumps({"op": "subscribe", "channels": [f"book:{SYMBOL}", "orders"]}))
            await self._loop(ws, market, time.monotonic() + seconds)
        r = await self.http.delete("/api/orders", params={"symbol": SYMBOL}, headers=self._bearer())
        r.raise_for_status()
        await self.http.aclose()
        return self.stats

    def _bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access}"}

    async def _loop(self, ws: Any, market: dict[str, Any], until: float) -> None:
        """Read frames until `until` (a deadline, not a cancellation from outside: a loop that catches the
        TimeoutError of its own reads could swallow one)."""
        while (left := until - time.monotonic()) > 0:
            if time.monotonic() >= self.renew_at:
                await self.refresh()
                await ws.send(json.dumps({"op": "auth", "token": self.access}))  # the connection goes on
            try:
                frame = json.loads(await asyncio.wait_for(ws.recv(), min(0.5, left)))
            except TimeoutError:
                continue
            if frame.get("channel") == f"book:{SYMBOL}":
                if self._apply(frame):
                    await self._quote(ws, market)
                elif self.book is None and not self.resubscribed:  # a gap: ask once for a new snapshot
                    self.resubscribed = True
                    for op in ("unsubscribe", "subscribe"):
                        await ws.send(json.dumps({"op": op, "channels": [f"book:{SYMBOL}"]}))
            elif frame.get("op") == "error":
                self.stats["errors"] += 1
                await asyncio.sleep(frame["error"].get("retry_after", 0))  # RATE_LIMITED says how long

    def _apply(self, frame: dict[str, Any]) -> bool:
        """Fold a book frame in; False when the book is not usable (waiting for a snapshot after a gap)."""
        if frame["type"] == "snapshot":
            self.book = {"seq": frame["seq"], "bids": dict(frame["bids"]), "asks": dict(frame["asks"])}
            self.resubscribed = False
            self.stats["snapshots"] += 1
            return True
        if self.book is None:
            return False  # (updates before the new snapshot: dropped)
        if frame["first_seq"] != self.book["seq"] + 1:  # a gap: start over from a new snapshot
            self.stats["gaps"] += 1
            self.book = None
            return False
        for side in ("bids", "asks"):
            for price, qty in frame[side]:
                if Decimal(qty) == 0:
                    self.book[side].pop(price, None)
                else:
                    self.book[side][price] = qty
        self.book["seq"] = frame["seq"]
        self.stats["updates"] += 1
        return True

    async def _quote(self, ws: Any, market: dict[str, Any]) -> None:
        """One bid and one ask SPREAD away from the middle: cancel the old pair, place the new one."""
        assert self.book is not None
        if not self.book["bids"] or not self.book["asks"] or time.monotonic() - self.quoted_at < REQUOTE_S:
            return
        self.quoted_at = time.monotonic()
        best_bid = max(Decimal(p) for p in self.book["bids"])
        best_ask = min(Decimal(p) for p in self.book["asks"])
        mid, tick, lot = (best_bid + best_ask) / 2, Decimal(market["tick_size"]), Decimal(market["lot_size"])
        for side, price in (
            ("buy", on_step(mid * (1 - SPREAD), tick, ROUND_FLOOR)),
            ("sell", on_step(mid * (1 + SPREAD), tick, ROUND_CEILING)),
        ):
            least = on_step(Decimal(market["min_notional"]) / price, lot, ROUND_CEILING)  # the smallest order
            qty = max(Decimal(market["min_qty"]), least)
            if side in self.quoted:
                await ws.send(json.dumps({"op": "cancel", "client_order_id": self.quoted.pop(side)}))
            self.counter += 1
            coid = f"bot-{self.counter}"
            order = {"symbol": SYMBOL, "side": side, "type": "limit", "price": str(price), "qty": str(qty)}
            await ws.send(json.dumps({"op": "place", "req_id": coid, "client_order_id": coid, **order}))
            self.quoted[side] = coid
            self.stats["placed"] += 1


if __name__ == "__main__":
    url, email, password = sys.argv[1:4]
    print(asyncio.run(Bot(url, email, password).run(float(sys.argv[4]) if len(sys.argv) > 4 else 30.0)))
