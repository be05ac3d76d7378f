"""Fixtures the persistence tests share."""

from __future__ import annotations

import pytest
import redis


@pytest.fixture
def client(redis_client: redis.Redis) -> redis.Redis:
    """The engine's Redis as a decoding RESP2 client (`redis_client`, under the name these tests use)."""
    return redis_client
