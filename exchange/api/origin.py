"""Which browser origins may use this API's credentials (the WebSocket, the refresh cookie).

A browser `Origin` must be the same host as the request (`Host` header) or be listed in
`EXCHANGE_ALLOWED_ORIGINS`. A request without `Origin` is not from a browser page (a bot, curl), and
cannot be a cross-site forgery, so it passes.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit


def normalize_origins(origins: Iterable[str]) -> frozenset[str]:
    """`EXCHANGE_ALLOWED_ORIGINS` entries as `origin_allowed` compares them."""
    return frozenset(o.rstrip("/").lower() for o in origins)


def origin_allowed(origin: str | None, host: str | None, allowed: frozenset[str]) -> bool:
    if not origin:
        return True  # not a browser
    origin = origin.rstrip("/").lower()
    if origin in allowed:
        return True
    parts = urlsplit(origin)
    return bool(host) and parts.scheme in ("http", "https") and parts.netloc == (host or "").lower()
