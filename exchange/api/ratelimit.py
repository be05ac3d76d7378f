"""Rate limits kept in Redis, so they hold across API processes.

Fixed windows: the first hit of `(scope, ident)` starts a window of `window_s`; hits beyond `limit` inside it
raise `ApiError(RATE_LIMITED)` (HTTP 429) with a `Retry-After` header (seconds until the window ends). One
atomic script call (INCR + PEXPIRE + PTTL) per check. Keys: `rl:{scope}:{ident}`.

    limiter = RateLimiter(redis)                      # redis.asyncio client
    await limiter.hit("orders", str(account), settings.rate_limits.orders)
"""

from __future__ import annotations

import math
from typing import Any

from exchange.api import metrics
from exchange.api.errors import ApiError, ErrorCode
from exchange.api.settings import RateLimit

_SCRIPT = """
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if n == 1 or ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
"""


class RateLimiter:
    def __init__(self, redis: Any, prefix: str = "rl:") -> None:
        self._redis = redis
        self._prefix = prefix
        self._script = redis.register_script(_SCRIPT)

    async def hit(self, scope: str, ident: str, rule: RateLimit) -> None:
        """Count one hit; raise `RATE_LIMITED` (429, `Retry-After`) when over the limit."""
        if rule.limit <= 0:
            return  # 0 disables the rule
        key = f"{self._prefix}{scope}:{ident[:200]}"
        count, ttl_ms = await self._script(keys=[key], args=[rule.window_s * 1000])
        if int(count) > rule.limit:
            retry_after = max(1, math.ceil(int(ttl_ms) / 1000))
            metrics.RATE_LIMITED.inc(1, scope)
            raise ApiError(
                ErrorCode.RATE_LIMITED,
                f"too many requests ({scope}): at most {rule.limit} per {rule.window_s} s",
                headers={"Retry-After": str(retry_after)},
            )
