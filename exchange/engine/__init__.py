"""The matching engine's Python side: the Lua library loader, the `Engine` / `AsyncEngine` clients and errors.

Public surface::

    from exchange.engine import Engine, AsyncEngine, EngineError, ErrorCode
"""

from exchange.engine.client import AsyncEngine, Engine, connect, connect_async
from exchange.engine.errors import EngineError, ErrorCode, error_for, from_reply

__all__ = [
    "AsyncEngine",
    "Engine",
    "EngineError",
    "ErrorCode",
    "connect",
    "connect_async",
    "error_for",
    "from_reply",
]
