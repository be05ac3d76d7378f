"""Caps on concurrent WebSocket connections per client address and per account, across API processes.

Each live connection holds a *slot* in the Redis sorted set `ws:conn:{scope}:{ident}` (scope `ip` or
`account`): the member names the process and the connection, the score is when the slot lapses (ms, Redis
clock). Taking a slot is one script call: drop lapsed members, then admit the connection only while fewer
than `limit` are left. A process renews the slots it holds every `lease_s / 3` (one script call per key, in
one pipeline) and removes a slot when its connection closes; a process that dies stops renewing, so its
slots lapse within `lease_s` instead of counting forever.

When Redis cannot be reached the connection is admitted without a slot (and logged): the caps are there
against abuse, and a connection is useless without Redis anyway.

    slots = ConnectionSlots(redis, lease_s=60)       # redis.asyncio client (decode_responses=True)
    slot = await slots.take("ip", "203.0.113.7", 100) # None: 100 connections of that address are live
    ...
    await slots.release(slot)
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import uuid
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

_TAKE = """
--[[
  Take a connection slot
  Input:
    KEYS[1] the sorted set of live slots (member -> lapse time, ms on the Redis clock)
    ARGV[1] member (process:connection)
    ARGV[2] lease ms
    ARGV[3] limit
  Output:
    1 - taken
    0 - refused: `limit` slots are live
]]
local slotsKey = KEYS[1]
local member = ARGV[1]
local lease = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', slotsKey, '-inf', string.format('%d', now))
if redis.call('ZCARD', slotsKey) >= limit then
  return 0
end
redis.call('ZADD', slotsKey, string.format('%d', now + lease), member)
redis.call('PEXPIRE', slotsKey, lease)
return 1
"""

_RENEW = """
--[[
  Renew the calling process's slots
  Input:
    KEYS[1] the sorted set of live slots
    ARGV[1] lease ms
    ARGV[2..] members held by the calling process
  Output:
    0 (a slot that was released or lapsed meanwhile is not brought back: ZADD XX)
]]
local slotsKey = KEYS[1]
local lease = tonumber(ARGV[1])
local t = redis.call('TIME')
local expires = string.format('%d', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + lease)
local args = {}
for i = 2, #ARGV do
  args[#args + 1] = expires
  args[#args + 1] = ARGV[i]
end
redis.call('ZADD', slotsKey, 'XX', unpack(args))
redis.call('PEXPIRE', slotsKey, lease)
return 0
"""

RENEW_BATCH = 500  # members per renew call (Lua's unpack has a stack limit)


@dataclass(frozen=True, slots=True, eq=False)
class Slot:
    """A connection's place under one cap; `key == ""`: not counted (no cap, or Redis was unreachable)."""

    key: str
    member: str


UNCOUNTED = Slot("", "")


class ConnectionSlots:
    """This process's connection slots (see the module docstring)."""

    def __init__(self, redis: Any, lease_s: float = 60.0, prefix: str = "ws:conn:") -> None:
        self._redis = redis
        self._take = redis.register_script(_TAKE)
        self._renew = redis.register_script(_RENEW)
        self.lease_ms = max(1000, int(lease_s * 1000))
        self._prefix = prefix
        self._process = uuid.uuid4().hex[:16]
        self._ids = itertools.count(1)
        self._held: dict[str, set[str]] = {}  # key -> members this process holds
        self._renewer: asyncio.Task[None] | None = None

    def key(self, scope: str, ident: str) -> str:
        return f"{self._prefix}{scope}:{ident[:200]}"

    async def take(self, scope: str, ident: str, limit: int) -> Slot | None:
        """A slot under the cap of `(scope, ident)`, or None when `limit` connections hold one already
        (`limit <= 0`: no cap)."""
        if limit <= 0:
            return UNCOUNTED
        key = self.key(scope, ident)
        member = f"{self._process}:{next(self._ids)}"
        try:
            taken = await self._take(keys=[key], args=[member, self.lease_ms, limit])
        except Exception:
            log.warning("cannot count WebSocket connections of %s (admitted)", key, exc_info=True)
            return UNCOUNTED
        if not int(taken):
            return None
        self._held.setdefault(key, set()).add(member)
        self._start_renewing()
        return Slot(key, member)

    async def release(self, slot: Slot | None) -> None:
        if slot is None or not slot.key:
            return
        members = self._held.get(slot.key)
        if members is not None:
            members.discard(slot.member)
            if not members:
                del self._held[slot.key]
        with contextlib.suppress(Exception):  # unreachable: the slot lapses within the lease
            await self._redis.zrem(slot.key, slot.member)

    def held(self) -> int:
        """Slots this process holds (for tests and metrics)."""
        return sum(len(m) for m in self._held.values())

    def _start_renewing(self) -> None:
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.create_task(self._renew_loop(), name="ws-slots-renew")

    async def _renew_loop(self) -> None:
        while True:
            await asyncio.sleep(self.lease_ms / 3000)
            try:
                await self.renew()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("cannot renew WebSocket connection slots", exc_info=True)

    async def renew(self) -> None:
        """Push back the lapse time of every slot this process holds (one pipeline)."""
        held = [(key, sorted(members)) for key, members in self._held.items() if members]
        if not held:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for key, members in held:
                for i in range(0, len(members), RENEW_BATCH):
                    await self._renew(
                        keys=[key], args=[self.lease_ms, *members[i : i + RENEW_BATCH]], client=pipe
                    )
            await pipe.execute()

    async def stop(self) -> None:
        """Stop renewing (at shutdown; slots still held lapse within the lease)."""
        task, self._renewer = self._renewer, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
