"""Helpers for the WebSocket tests (no tests here): a live uvicorn server per app in a thread, a small
synchronous WebSocket client, a funded engine and local book replay."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import redis
import uvicorn
from litestar import Litestar
from websockets.sync.client import ClientConnection, connect

from exchange.api.auth import TokenService
from exchange.api.settings import RateLimit, RateLimits, Settings
from exchange.servers import free_port

JWT_SECRET = "ws-test-jwt-secret-0123456789abcdef0123456789"
SYMBOL = "BTC-USDT"
BTC = 10**8
USDT = 10**6
PRICE = 6_000_000  # 60000.00 USDT in ticks of 0.01


def ws_settings(redis_url: str, pg_url: str | None, orders_per_s: int = 100_000, **extra: Any) -> Settings:
    return Settings(
        redis_url=redis_url,
        database_url=pg_url,
        jwt_secret=JWT_SECRET,
        demo=False,
        rate_limits=RateLimits(orders=RateLimit(orders_per_s, 1)),
        frontend_dist=Path("/nonexistent-frontend-dist"),
        **extra,
    )


def token(settings: Settings, account: int) -> str:
    return TokenService(settings).issue_access(account)


class LiveServer:
    """`app` served by uvicorn on a free loopback port, in a thread of this process. `ws`: uvicorn's
    WebSocket implementation ("auto" is websockets-sansio, where sessions write frames directly; the
    legacy "websockets" one takes the queued ASGI path)."""

    def __init__(self, app: Litestar, ws: str = "auto") -> None:
        self.app = app
        self.port = free_port()
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
            ws=ws,  # type: ignore[arg-type]
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name=f"uvicorn:{self.port}", daemon=True)

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


class Client:
    """A synchronous WebSocket client that keeps every frame it reads."""

    def __init__(self, url: str, origin: str | None = None) -> None:
        self.conn: ClientConnection = connect(url, origin=origin, open_timeout=10, max_size=2**24)  # type: ignore[arg-type]
        self.frames: list[dict[str, Any]] = []  # every frame read, in order
        self.unclaimed: list[dict[str, Any]] = []  # read but not yet returned by `until`

    def send(self, frame: dict[str, Any] | str | bytes) -> None:
        self.conn.send(frame if isinstance(frame, str | bytes) else json.dumps(frame))

    def recv(self, timeout: float = 5.0) -> dict[str, Any]:
        frame = json.loads(self.conn.recv(timeout=timeout))
        self.frames.append(frame)
        return frame  # type: ignore[no-any-return]

    def until(self, pred: Callable[[dict[str, Any]], bool], timeout: float = 5.0) -> dict[str, Any]:
        """The first unclaimed frame satisfying `pred`, reading more as needed (skipped ones stay)."""
        for i, frame in enumerate(self.unclaimed):
            if pred(frame):
                return self.unclaimed.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no matching frame within {timeout} s; got {self.frames[-5:]}")
            frame = self.recv(timeout=left)
            if pred(frame):
                return frame
            self.unclaimed.append(frame)

    def op(self, op: str, timeout: float = 5.0) -> dict[str, Any]:
        return self.until(lambda f: f.get("op") == op, timeout)

    def channel(self, name: str, timeout: float = 5.0) -> dict[str, Any]:
        return self.until(lambda f: f.get("channel") == name, timeout)

    def request(self, frame: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
        """Send a frame with a `req_id` and return the answer carrying it."""
        self.send(frame)
        return self.until(lambda f: f.get("req_id") == frame["req_id"], timeout)

    def barrier(self, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Ping; return every frame read before the pong (what the server had queued), claiming them."""
        start = len(self.frames)
        self.send({"op": "ping", "req_id": "barrier"})
        self.until(lambda f: f.get("op") == "pong" and f.get("req_id") == "barrier", timeout)
        self.unclaimed.clear()
        return self.frames[start:-1]

    def close(self) -> None:
        self.conn.close()


def engine_for(redis_url: str) -> Any:
    from exchange.engine.client import Engine

    client = redis.Redis.from_url(redis_url, decode_responses=True, protocol=2)
    return Engine(client)


def fund(engine: Any, account: int, usdt: int = 10_000_000, btc: int = 100) -> None:
    now = int(time.time() * 1000)
    engine.deposit(account, "USDT", usdt * USDT, f"test:{account}:usdt", now)
    engine.deposit(account, "BTC", btc * BTC, f"test:{account}:btc", now)


def apply_levels(book: dict[str, dict[str, str]], frame: dict[str, Any]) -> None:
    for side in ("bids", "asks"):
        for price, qty in frame[side]:
            if Decimal(qty) == 0:
                book[side].pop(price, None)
            else:
                book[side][price] = qty


def ordered(book: dict[str, dict[str, str]]) -> dict[str, list[list[str]]]:
    return {
        "bids": [[p, q] for p, q in sorted(book["bids"].items(), key=lambda kv: -Decimal(kv[0]))],
        "asks": [[p, q] for p, q in sorted(book["asks"].items(), key=lambda kv: Decimal(kv[0]))],
    }
