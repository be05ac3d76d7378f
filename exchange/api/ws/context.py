"""Settings and shared services of the WebSocket endpoint (one `WsContext` per app, created lazily)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from exchange.api.convert import MarketCache
from exchange.api.hub import Hub
from exchange.api.marketdata import MarketData
from exchange.api.settings import RateLimit
from exchange.api.ws.limits import ConnectionSlots


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    return float(raw) if raw else default


@dataclass(frozen=True)
class WsSettings:
    queue_size: int = 1000
    """EXCHANGE_WS_QUEUE: frames buffered per connection; a client that fills it is disconnected (1008)."""
    buffer_bytes: int = 1 << 20
    """EXCHANGE_WS_BUFFER_BYTES: bytes written to a connection but not yet taken by its client (uvicorn's
    direct path); a client that lets more pile up is disconnected (1008)."""
    send_timeout_s: float = 10.0
    """EXCHANGE_WS_SEND_TIMEOUT_S: a single frame that cannot be written for this long disconnects (1008)."""
    ping_interval_s: float = 20.0
    """EXCHANGE_WS_PING_S: server heartbeat `{"op": "ping"}` interval."""
    max_frame_bytes: int = 16 * 1024
    """EXCHANGE_WS_MAX_FRAME: larger client frames get a FRAME_TOO_LARGE error frame."""
    max_channels: int = 64
    """EXCHANGE_WS_MAX_CHANNELS: channels per connection (and per subscribe frame)."""
    frames_per_s: int = 200
    """EXCHANGE_WS_FRAMES_PER_S: client frames per second per connection (burst 2x); beyond: RATE_LIMITED."""
    snapshot_depth: int = 500
    """EXCHANGE_WS_BOOK_DEPTH: levels per side in a book snapshot."""
    tickers_interval_s: float = 1.0
    """EXCHANGE_WS_TICKERS_S: how often the tickers channel checks for changes."""
    coalesce_ms: int = 50
    """EXCHANGE_WS_COALESCE_MS: trades and candles frames at most once per this window per channel (windows
    aligned on the loop clock); 0 sends one frame per engine message."""
    book_coalesce_ms: int = 100
    """EXCHANGE_WS_BOOK_COALESCE_MS: the same for book updates (keep it a multiple of the trades window, so
    a client's book and trades frames leave together); 0 sends one frame per engine update."""
    max_per_ip: int = 100
    """EXCHANGE_WS_MAX_PER_IP: connections open at once per client address (the ASGI client address, as for
    the REST limits), across API processes; beyond: TOO_MANY_CONNECTIONS and close code 4029. 0: no cap."""
    max_per_account: int = 20
    """EXCHANGE_WS_MAX_PER_ACCOUNT: authenticated connections open at once per account, across API
    processes; the `auth` beyond answers TOO_MANY_CONNECTIONS and closes (4029). 0: no cap."""
    slot_lease_s: float = 60.0
    """EXCHANGE_WS_SLOT_LEASE_S: the connections of an API process that died stop counting after this."""
    snapshots: RateLimit = field(default_factory=lambda: RateLimit(300, 60))
    """EXCHANGE_WS_SNAPSHOTS (per minute): new `book:*` and `candles:*` subscriptions (each reads a snapshot)
    per account, or per client address before `auth`, across connections and processes; beyond:
    RATE_LIMITED with `retry_after`. 0: no limit."""

    @classmethod
    def from_env(cls) -> WsSettings:
        return cls(
            queue_size=_env_int("EXCHANGE_WS_QUEUE", 1000),
            buffer_bytes=_env_int("EXCHANGE_WS_BUFFER_BYTES", 1 << 20),
            send_timeout_s=_env_float("EXCHANGE_WS_SEND_TIMEOUT_S", 10.0),
            ping_interval_s=_env_float("EXCHANGE_WS_PING_S", 20.0),
            max_frame_bytes=_env_int("EXCHANGE_WS_MAX_FRAME", 16 * 1024),
            max_channels=_env_int("EXCHANGE_WS_MAX_CHANNELS", 64),
            frames_per_s=_env_int("EXCHANGE_WS_FRAMES_PER_S", 200),
            snapshot_depth=_env_int("EXCHANGE_WS_BOOK_DEPTH", 500),
            tickers_interval_s=_env_float("EXCHANGE_WS_TICKERS_S", 1.0),
            coalesce_ms=_env_int("EXCHANGE_WS_COALESCE_MS", 50),
            book_coalesce_ms=_env_int("EXCHANGE_WS_BOOK_COALESCE_MS", 100),
            max_per_ip=_env_int("EXCHANGE_WS_MAX_PER_IP", 100),
            max_per_account=_env_int("EXCHANGE_WS_MAX_PER_ACCOUNT", 20),
            slot_lease_s=_env_float("EXCHANGE_WS_SLOT_LEASE_S", 60.0),
            snapshots=RateLimit(_env_int("EXCHANGE_WS_SNAPSHOTS", 300), 60),
        )


@dataclass
class WsContext:
    hub: Hub
    engine: Any
    markets: MarketCache
    data: MarketData
    tokens: Any  # exchange.api.auth.TokenService
    limiter: Any  # exchange.api.ratelimit.RateLimiter
    api_settings: Any  # exchange.api.settings.Settings
    clock: Callable[[], int]
    settings: WsSettings = field(default_factory=WsSettings)
    allowed_origins: frozenset[str] = frozenset()
    slots: ConnectionSlots | None = None  # connection caps (None: no caps)
