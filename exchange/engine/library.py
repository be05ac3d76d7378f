"""Build the engine's Redis Function library from `lua/` and load it.

The library text is `#!lua name=exchange`, a `LIBRARY_VERSION` line (a hash of the sources), the helper
files `lua/lib/*.lua` in name order, then every command file `lua/*.lua` in name order, each wrapped in
`do ... end` so its locals stay private (Lua 5.1 allows 200 locals per chunk). Each command file registers
its functions (`ex_place`, ...). Loading uses `FUNCTION LOAD REPLACE`; `load_library` skips the load when the
server already runs this exact version.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

import redis
import redis.asyncio

LUA_DIR = Path(__file__).resolve().parents[2] / "lua"
LIBRARY_NAME = "exchange"


@lru_cache(maxsize=1)
def library_source() -> tuple[str, str]:
    """(library text, version). The version is the first 16 hex digits of the sources' SHA-256."""
    parts: list[str] = []
    for path in sorted((LUA_DIR / "lib").glob("*.lua")):
        parts.append(f"-- ==== lib/{path.name}\n{path.read_text()}")
    for path in sorted(LUA_DIR.glob("*.lua")):
        parts.append(f"-- ==== {path.name}\ndo\n{path.read_text()}\nend")
    body = "\n".join(parts)
    version = hashlib.sha256(body.encode()).hexdigest()[:16]
    text = f"#!lua name={LIBRARY_NAME}\nlocal LIBRARY_VERSION = '{version}'\n{body}\n"
    return text, version


def library_version() -> str:
    return library_source()[1]


def _loaded_version(client: redis.Redis) -> str | None:
    try:
        value = client.fcall_ro("ex_version", 0)
    except redis.ResponseError:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


def load_library(client: redis.Redis, force: bool = False) -> str:
    """Load the library unless this version is already loaded; returns the version."""
    text, version = library_source()
    if force or _loaded_version(client) != version:
        client.function_load(text, replace=True)
    return version


async def load_library_async(client: redis.asyncio.Redis, force: bool = False) -> str:
    text, version = library_source()
    loaded: str | None
    try:
        value = await client.fcall_ro("ex_version", 0)  # type: ignore[misc]
        loaded = value.decode() if isinstance(value, bytes) else str(value)
    except redis.ResponseError:
        loaded = None
    if force or loaded != version:
        await client.function_load(text, replace=True)  # type: ignore[misc]
    return version
