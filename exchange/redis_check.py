"""Refuse to run the engine on a Redis that could silently lose or evict state.

The engine keeps balances and books only in Redis, so it needs `maxmemory-policy noeviction` (a full Redis
must refuse writes, never drop keys) and, for `exchange up`, `appendonly yes` (an acknowledged order
survives a restart). Checked with CONFIG GET at startup.
"""

from __future__ import annotations

from typing import Any


class RedisConfigError(RuntimeError):
    """The Redis server's configuration is unsafe for the engine; the message says what to change."""


def _config_value(client: Any, name: str) -> str:
    raw = client.config_get(name)
    value = raw.get(name, raw.get(name.encode(), "")) if isinstance(raw, dict) else ""
    return value.decode() if isinstance(value, bytes) else str(value)


def check_redis(client: Any, require_aof: bool) -> None:
    """Raise RedisConfigError unless `maxmemory-policy` is `noeviction` (and `appendonly` is `yes` when
    `require_aof`). `client` is a sync redis.Redis (either decode_responses setting)."""
    problems: list[str] = []
    policy = _config_value(client, "maxmemory-policy")
    if policy != "noeviction":
        problems.append(
            f"maxmemory-policy is {policy or 'unknown'!r}, must be 'noeviction' "
            "(CONFIG SET maxmemory-policy noeviction, or set it in redis.conf)"
        )
    if require_aof:
        aof = _config_value(client, "appendonly")
        if aof != "yes":
            problems.append(
                f"appendonly is {aof or 'unknown'!r}, must be 'yes' so accepted orders survive a restart "
                "(CONFIG SET appendonly yes, or set it in redis.conf)"
            )
    if problems:
        raise RedisConfigError("unsafe Redis configuration: " + "; ".join(problems))
