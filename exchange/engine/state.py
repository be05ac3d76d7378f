"""A stable fingerprint of every key in the engine's Redis database.

`state_hash(client)` walks every key (SCAN; for tests, tools and restore checks, never on the hot path),
serialises each by type in a canonical order and hashes the lot. Two databases with the same engine state
give the same hash; any change to any key changes it.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import redis


def _value(client: redis.Redis, key: str, kind: str) -> Any:
    if kind == "string":
        return client.get(key)
    if kind == "hash":
        return sorted(client.hgetall(key).items())
    if kind == "set":
        return sorted(client.smembers(key))
    if kind == "zset":
        return client.zrange(key, 0, -1, withscores=True)
    if kind == "list":
        return client.lrange(key, 0, -1)
    if kind == "stream":
        return [[entry_id, sorted((fields or {}).items())] for entry_id, fields in (client.xrange(key) or [])]
    return None


def state_snapshot(client: redis.Redis, include_streams: bool = True) -> dict[str, Any]:
    """key -> canonical value for every key of the database. Without streams, also without the markers of
    where a restore restarted them (`persist:restored:{stream}`, workers/persist.py) and without `seq:call`,
    the numbers their entries carry (a restore starts the streams afresh, and their call numbers too)."""
    out: dict[str, Any] = {}
    for key in sorted(client.scan_iter(count=1000)):
        name = key.decode() if isinstance(key, bytes) else key
        if not include_streams and (name.startswith("persist:restored:") or name == "seq:call"):
            continue
        kind = client.type(key)
        kind = kind.decode() if isinstance(kind, bytes) else kind
        if kind == "stream" and not include_streams:
            continue
        out[name] = [kind, _value(client, name, kind)]
    return out


def state_hash(client: redis.Redis, include_streams: bool = True) -> str:
    """SHA-256 (hex) of the canonical snapshot of every key."""
    text = json.dumps(state_snapshot(client, include_streams), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()
