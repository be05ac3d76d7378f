"""Refuse to run the engine on a Redis that could silently lose or evict state.

The engine keeps balances and books only in Redis, so it needs `maxmemory-policy noeviction` (a full Redis
must refuse writes, never drop keys), Redis Functions (Redis >= 7), and, for `exchange up`,
`appendonly yes` (an acknowledged order survives a restart). Checked with CONFIG GET / INFO at startup:
`check_redis` for a sync client, `acheck_redis` for an asyncio one.
"""

from __future__ import annotations

import re
from typing import Any

MIN_VERSION = (7, 0)


class RedisConfigError(RuntimeError):
    """The Redis server's configuration is unsafe for the engine; the message says what to change."""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _config_value(raw: Any, name: str) -> str:
    if not isinstance(raw, dict):
        return ""
    return _text(raw.get(name, raw.get(name.encode(), "")))


def _version(info: Any) -> tuple[int, ...] | None:
    if not isinstance(info, dict):
        return None
    raw = info.get("redis_version", info.get(b"redis_version"))
    m = re.match(r"(\d+)\.(\d+)", _text(raw)) if raw is not None else None
    return (int(m.group(1)), int(m.group(2))) if m else None


def problems(policy: str, appendonly: str, version: tuple[int, ...] | None, require_aof: bool) -> list[str]:
    """Human-readable problems with this configuration (empty when it is safe)."""
    found: list[str] = []
    if policy != "noeviction":
        found.append(
            f"maxmemory-policy is {policy or 'unknown'!r}, must be 'noeviction' "
            "(CONFIG SET maxmemory-policy noeviction, or set it in redis.conf)"
        )
    if require_aof and appendonly != "yes":
        found.append(
            f"appendonly is {appendonly or 'unknown'!r}, must be 'yes' so accepted orders survive a restart "
            "(CONFIG SET appendonly yes, or set it in redis.conf)"
        )
    if version is not None and version < MIN_VERSION:
        found.append(
            f"server is Redis {'.'.join(map(str, version))}; the engine needs Redis >= 7.0 (Functions)"
        )
    return found


def _raise(found: list[str]) -> None:
    if found:
        raise RedisConfigError("unsafe Redis configuration: " + "; ".join(found))


def _no_permission(exc: Exception) -> RedisConfigError:
    return RedisConfigError(
        f"cannot read the Redis configuration ({exc}); the engine's user needs CONFIG GET and INFO"
    )


def check_redis(client: Any, require_aof: bool) -> None:
    """Raise RedisConfigError unless `maxmemory-policy` is `noeviction`, the server is Redis >= 7, and
    (when `require_aof`) `appendonly` is `yes`. `client` is a sync redis.Redis (either decode setting)."""
    import redis

    try:
        policy = _config_value(client.config_get("maxmemory-policy"), "maxmemory-policy")
        aof = _config_value(client.config_get("appendonly"), "appendonly") if require_aof else ""
    except redis.exceptions.NoPermissionError as exc:
        raise _no_permission(exc) from exc
    try:
        version = _version(client.info("server"))
    except redis.RedisError:  # INFO unavailable (e.g. fakeredis): skip the version check
        version = None
    _raise(problems(policy, aof, version, require_aof))


async def acheck_redis(client: Any, require_aof: bool) -> None:
    """`check_redis` for a redis.asyncio.Redis client."""
    import redis

    try:
        policy = _config_value(await client.config_get("maxmemory-policy"), "maxmemory-policy")
        aof = _config_value(await client.config_get("appendonly"), "appendonly") if require_aof else ""
    except redis.exceptions.NoPermissionError as exc:
        raise _no_permission(exc) from exc
    try:
        version = _version(await client.info("server"))
    except redis.RedisError:
        version = None
    _raise(problems(policy, aof, version, require_aof))
