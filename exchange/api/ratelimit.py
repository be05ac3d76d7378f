"""Rate limits kept in Redis, so they hold across API processes; hot limits cost no round trip per hit.

Fixed windows: the first hit of `(scope, ident)` starts a window of `window_s`; hits beyond `limit` inside it
raise `ApiError(RATE_LIMITED)` (HTTP 429) with a `Retry-After` header (seconds until the window ends).
Keys: `rl:{scope}:{ident}`, a counter that expires with its window.

Leases: a process takes a *lease* of `chunk` hits at a time from the Redis counter (one atomic script:
INCRBY, PEXPIRE on a new window, grant at most what is left under the limit, give back the rest) and spends
it locally until the lease or the window runs out. `chunk = clamp(limit // 20, 1, 100)`: limits up to 39
per window (every login/registration limit) are exact, one round trip per hit; the order limit (200/s by
default) takes one round trip per 10 orders. Across processes the total admitted never exceeds `limit`; a
client spread over P processes may be refused up to (P - 1) * (chunk - 1) hits early (leased to a process
it no longer talks to). A process refills one key's lease one request at a time: the requests that arrive
while a refill is in flight wait for it and spend what it brought (each asking Redis for a lease of its own
counted every lease there but kept only the last: a burst of 25 orders was refused after 102 of 200). A
refused key is remembered until its window ends, so abuse costs no Redis calls.

    limiter = RateLimiter(redis, fast=pipelined)      # redis.asyncio client; optional PipelinedRedis
    await limiter.hit("orders", str(account), settings.rate_limits.orders)
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

from redis.exceptions import NoScriptError, ResponseError

from exchange.api import metrics
from exchange.api.errors import ApiError, ErrorCode
from exchange.api.settings import RateLimit

# KEYS[1] counter; ARGV[1] window ms, ARGV[2] hits wanted, ARGV[3] limit -> {granted, window ms left}
_SCRIPT = """
local wanted = tonumber(ARGV[2])
local n = redis.call('INCRBY', KEYS[1], wanted)
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
local granted = tonumber(ARGV[3]) - (n - wanted)
if granted > wanted then granted = wanted end
if granted < 0 then granted = 0 end
if granted < wanted then
  redis.call('DECRBY', KEYS[1], wanted - granted)
end
return {granted, ttl}
"""
MAX_CHUNK = 100
MAX_KEYS = 100_000  # local lease entries kept per process (cleared when exceeded: a lease is only a cache)


def lease_size(limit: int) -> int:
    return max(1, min(MAX_CHUNK, limit // 20))


class RateLimiter:
    def __init__(self, redis: Any, prefix: str = "rl:", fast: Any = None) -> None:
        self._prefix = prefix
        self._script = redis.register_script(_SCRIPT)
        self._fast = fast  # exchange.api.fastredis.PipelinedRedis or None
        self._sha = self._script.sha
        # key -> [hits left in the local lease, monotonic end of the window (0 = refused until then)]
        self._leases: dict[str, list[float]] = {}
        self._refills: dict[str, asyncio.Future[None]] = {}  # key -> the refill in flight (done when it ends)
        self._clock: Callable[[], float] = time.monotonic

    async def _lease(self, key: str, window_ms: int, wanted: int, limit: int) -> tuple[int, int]:
        if self._fast is None:
            granted, ttl = await self._script(keys=[key], args=[window_ms, wanted, limit])
            return int(granted), int(ttl)
        run: Callable[..., Awaitable[Any]] = self._fast.execute
        try:
            granted, ttl = await run("EVALSHA", self._sha, 1, key, window_ms, wanted, limit)
        except (NoScriptError, ResponseError) as exc:
            if not str(exc).startswith("NOSCRIPT"):
                raise
            granted, ttl = await run("EVAL", _SCRIPT, 1, key, window_ms, wanted, limit)
        return int(granted), int(ttl)

    async def hit(self, scope: str, ident: str, rule: RateLimit) -> None:
        """Count one hit; raise `RATE_LIMITED` (429, `Retry-After`) when over the limit."""
        if rule.limit <= 0:
            return  # 0 disables the rule
        if len(ident) > 200:  # bounded keys; a digest keeps apart idents differing past the cut (`email ip`)
            ident = ident[:150] + "#" + hashlib.sha256(ident.encode()).hexdigest()[:32]
        key = f"{self._prefix}{scope}:{ident}"
        while True:
            now = self._clock()
            lease = self._leases.get(key)
            if lease is not None and now < lease[1]:
                if lease[0] >= 1:
                    lease[0] -= 1
                    return
                if lease[0] < 0:  # refused earlier in this window
                    self._refuse(scope, rule, lease[1] - now)
            refill = self._refills.get(key)
            if refill is None:
                break
            await asyncio.shield(refill)  # another request is refilling this key: spend what it brings
        refill = self._refills[key] = asyncio.get_running_loop().create_future()
        try:
            granted, ttl_ms = await self._lease(key, rule.window_s * 1000, lease_size(rule.limit), rule.limit)
        finally:
            del self._refills[key]
            refill.set_result(None)
        started = now
        if len(self._leases) >= MAX_KEYS:
            self._leases.clear()
        # the window started no earlier than `started` in Redis' eyes: never outlive it locally
        ends = started + ttl_ms / 1000
        if granted <= 0:
            self._leases[key] = [-1, ends]
            self._refuse(scope, rule, ttl_ms / 1000)
        self._leases[key] = [granted - 1, ends]

    def _refuse(self, scope: str, rule: RateLimit, seconds_left: float) -> None:
        retry_after = max(1, math.ceil(seconds_left))
        metrics.RATE_LIMITED.inc(1, scope)
        raise ApiError(
            ErrorCode.RATE_LIMITED,
            refusal_message(scope, rule, retry_after),
            headers={"Retry-After": str(retry_after)},
        )


# what each limit counts, in a user's words (the scope names are internal: metrics and Redis keys)
_WHAT = {
    "orders": "Too many orders and cancels for this account",
    "login_email": "Too many login attempts for this email",
    "login_email_all": "Too many login attempts for this email",
    "login_ip": "Too many login attempts from this address",
    "password_account": "Too many password changes for this account",
    "register_ip": "Too many sign-ups from this address",
    "refresh_ip": "Too many session refreshes from this address",
    "logout_ip": "Too many logouts from this address",
    "reads_ip": "Too many market data requests from this address",
    "reads_account": "Too many history requests for this account",
    "ws_snapshots": "Too many subscriptions with a snapshot",
}


def _per(window_s: int) -> str:
    if window_s == 1:
        return "a second"
    if window_s == 60:
        return "a minute"
    return f"per {window_s} s"


def refusal_message(scope: str, rule: RateLimit, retry_after: int) -> str:
    """The RATE_LIMITED message: what was limited, the limit, and the wait the `Retry-After` header (and a
    WebSocket error's `retry_after`) gives: "Too many login attempts for this email (at most 10 a minute):
    try again in 59 s"."""
    what = _WHAT.get(scope, "Too many requests")
    return f"{what} (at most {rule.limit} {_per(rule.window_s)}): try again in {retry_after} s"
