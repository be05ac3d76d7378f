"""Access-token revocation: a logout ends access tokens before their `exp`, in every API process.

Access tokens are stateless JWTs (`exchange.api.auth`): without this module one stays valid for up to
`access_ttl_s` after its owner logged out. A revocation is an entry of the Redis stream `auth:revoked`:

    XADD auth:revoked MINID <now - access_ttl_s - 60 s> * account <id> jti <jti> exp <exp>   one token
    XADD auth:revoked MINID <...>                          * account <id> sid <sid> exp <until> one session's
    XADD auth:revoked MINID <...>                          * account <id> before <ms>         all of them

The first ends one token (the one a logout presents). The second ends every access token of a login session
(its `sid` claim): that session's logout, `DELETE /api/auth/sessions/{id}`, a reused refresh token of it; an
ended session issues no more tokens, so the entry only has to outlive the ones it has (`until`: now plus
the longest access-token lifetime). The third ends every access token of the account issued at or before
`before` (epoch ms): logout everywhere, a password reset, an admin's. Tokens carry `iat` to the millisecond
for that comparison. Entries older than a token's lifetime can name only
expired tokens, so the stream is trimmed past them at each write and stays as small as the logouts of the
last 15 minutes.

Each API process keeps the live entries in memory (`Revocations`: a few dict lookups per verified request,
on the order route's hot path) and follows the stream (`follow`: a blocking XREAD that wakes when an entry
is added, then an XRANGE from the last id it read, so none is missed). The process that revokes applies
the entry before it writes it; the others as soon as they read it, within milliseconds. WebSocket sessions
`listen` to their account and close a connection whose token is revoked (`exchange.api.ws.session`).

"Within milliseconds" is not "before the logout answers": a client that logs out through one process and
at once calls another could still be served. So every follower reports what it has read, and a revocation
answers only once every other live follower has read it (`confirm`). The hash `auth:revoked:readers`
holds one field per following process:

    HSET auth:revoked:readers <reader id> "<last id read> <report time ms> <poll ms>"

written after each read (at least once per poll, so it doubles as a heartbeat) and deleted when the process
stops. A revocation waits (at most `CONFIRM_S`) until each reader that reported within its liveness window
(two polls and `LIVE_GRACE_MS`) has read the new entry; a reader silent longer is not waited for (its
process is gone or cannot reach Redis, so it serves nothing that needs Redis), and one silent for
`GONE_MS` is deleted by the next revocation.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from redis.client import NEVER_DECODE
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

STREAM = "auth:revoked"
POLL_S = 1.0
READ_COUNT = 1000  # entries per XRANGE while catching up
TRIM_MARGIN_MS = 60_000  # entries are kept this long past the access-token lifetime
XREAD_GRACE_S = 5.0  # a blocking read not answered this long after its BLOCK ran out: the connection is dead
READERS = "auth:revoked:readers"  # reader id -> "<last id read> <report ms> <poll ms>" (`confirm`)
CONFIRM_S = 0.5  # the longest a revocation waits for the other processes to have read it
LIVE_GRACE_MS = 2_000  # a reader is live while its last report is at most two polls and this old
GONE_MS = 60_000  # a reader silent this long (or two polls, if longer) is deleted from READERS


@dataclass(frozen=True, slots=True)
class AccessClaims:
    """What a verified access token says: its account, id, issue time (epoch ms), expiry (epoch s) and login
    session ('' for a token of no session)."""

    account_id: int
    jti: str
    iat_ms: int
    exp: int
    sid: str = ""


class Revocations:
    """The revocations this process knows of (in memory, no I/O).

    `revoked(claims)` answers for one token; `apply(fields)` adds one stream entry and calls the listeners
    of its account; `prune(now)` forgets entries that can no longer name a live token."""

    def __init__(self, access_ttl_s: int) -> None:
        self.access_ttl_s = access_ttl_s
        self.last_id = "0-0"  # the last stream entry read (`follow`)
        self.reader_id = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"  # this process's field in READERS
        self._tokens: dict[str, int] = {}  # jti -> the token's exp (epoch s)
        self._sessions: dict[str, int] = {}  # sid -> when its last access token has expired (epoch s)
        self._accounts: dict[int, int] = {}  # account -> its tokens issued at or before this ms are revoked
        self._all_before = 0  # every account's tokens issued at or before this ms are revoked (a restore)
        self._listeners: dict[int, set[Callable[[], None]]] = {}

    def __len__(self) -> int:
        return len(self._tokens) + len(self._sessions) + len(self._accounts) + (1 if self._all_before else 0)

    def revoked(self, claims: AccessClaims) -> bool:
        """Is this token revoked: by its jti, its session, or issued at or before its account's `before`
        millisecond (the same millisecond counts: a token signed then may precede the revocation; erring
        toward revoking)."""
        if claims.jti in self._tokens or (claims.sid and claims.sid in self._sessions):
            return True
        if self._all_before and claims.iat_ms <= self._all_before:  # (0: no such entry)
            return True
        before = self._accounts.get(claims.account_id)
        return before is not None and claims.iat_ms <= before

    def has_token(self, jti: str) -> bool:
        return jti in self._tokens

    def apply(self, fields: dict[str, str]) -> None:
        """Add one entry (`{"account", "jti", "exp"}`, `{"account", "sid", "exp"}`, `{"account", "before"}`
        or `{"all_before"}`, which calls every listener); skip a malformed one."""
        if "all_before" in fields and "account" not in fields:
            try:
                self._all_before = max(self._all_before, int(fields["all_before"]))
            except ValueError:
                log.warning("skipping a malformed %s entry: %r", STREAM, fields)
                return
            for listeners in list(self._listeners.values()):
                self._call(listeners)
            return
        try:
            account = int(fields["account"])
            if "jti" in fields:
                self._tokens[fields["jti"]] = int(fields["exp"])
            elif "sid" in fields:
                self._sessions[fields["sid"]] = int(fields["exp"])
            else:
                before = int(fields["before"])
                if before > self._accounts.get(account, 0):
                    self._accounts[account] = before
        except (KeyError, ValueError):
            log.warning("skipping a malformed %s entry: %r", STREAM, fields)
            return
        self._call(self._listeners.get(account, set()))

    @staticmethod
    def _call(listeners: set[Callable[[], None]]) -> None:
        for listener in list(listeners):
            try:
                listener()
            except Exception:  # one broken listener must not stop the others
                log.exception("a revocation listener failed")

    def prune(self, now_s: float) -> None:
        self._tokens = {jti: exp for jti, exp in self._tokens.items() if exp > now_s}
        self._sessions = {sid: exp for sid, exp in self._sessions.items() if exp > now_s}
        oldest = (now_s - self.access_ttl_s) * 1000  # a token issued before this has expired
        self._accounts = {account: at for account, at in self._accounts.items() if at > oldest}
        if self._all_before <= oldest:
            self._all_before = 0

    def listen(self, account: int, listener: Callable[[], None]) -> None:
        """Call `listener()` whenever a revocation of `account` arrives (it checks its own token)."""
        self._listeners.setdefault(account, set()).add(listener)

    def unlisten(self, account: int, listener: Callable[[], None]) -> None:
        listeners = self._listeners.get(account)
        if listeners is not None:
            listeners.discard(listener)
            if not listeners:
                del self._listeners[account]


def _trim_from(now_s: float, access_ttl_s: int) -> int:
    """The stream id (ms) below which entries can name only expired tokens: the MINID of each write."""
    return max(0, int(now_s * 1000) - access_ttl_s * 1000 - TRIM_MARGIN_MS)


def _session_entry(account_id: int, sid: str, now_s: float, access_ttl_s: int) -> dict[str, str]:
    """The entry that ends session `sid`'s access tokens (ended at `now_s`): it lasts as long as the
    longest-lived one it may have issued (an ended session issues no more)."""
    return {"account": str(account_id), "sid": sid, "exp": str(int(now_s) + access_ttl_s + 1)}


def all_accounts_entry(now_ms: int) -> dict[str, str]:
    """The entry that ends every access token issued at or before `now_ms` (`exchange restore`: the
    refresh tokens PostgreSQL still holds then issue new ones)."""
    return {"all_before": str(now_ms)}


def _account_entry(account_id: int, now_s: float) -> dict[str, str]:
    """The entry that ends the account's access tokens issued at or before `now_s` (to the millisecond)."""
    return {"account": str(account_id), "before": str(int(now_s * 1000))}


async def _write(redis: Any, revocations: Revocations, fields: dict[str, str], now_s: float) -> None:
    revocations.apply(fields)  # here at once, before the write (a concurrent repeat sees it)
    minid = _trim_from(now_s, revocations.access_ttl_s)
    entry_id = await redis.xadd(STREAM, fields, minid=minid, approximate=False)
    await confirm(redis, revocations, _text(entry_id))


async def revoke_token(redis: Any, revocations: Revocations, claims: AccessClaims) -> None:
    """End one access token in every process. A token this process already knows as revoked writes nothing
    again (logouts repeated with one token do not grow the stream)."""
    if revocations.has_token(claims.jti):
        return
    fields = {"account": str(claims.account_id), "jti": claims.jti, "exp": str(claims.exp)}
    await _write(redis, revocations, fields, time.time())


async def revoke_sessions(redis: Any, revocations: Revocations, account_id: int, sids: list[str]) -> None:
    """End every access token of the login sessions `sids` in every process."""
    now_s = time.time()
    entries = [_session_entry(account_id, sid, now_s, revocations.access_ttl_s) for sid in sids]
    for fields in entries:  # here at once, before the write (see `_write`)
        revocations.apply(fields)
    minid = _trim_from(now_s, revocations.access_ttl_s)
    async with redis.pipeline(transaction=False) as pipe:
        for fields in entries:
            pipe.xadd(STREAM, fields, minid=minid, approximate=False)
        entry_ids = await pipe.execute()
    if entry_ids:
        await confirm(redis, revocations, _text(entry_ids[-1]))


async def revoke_account(redis: Any, revocations: Revocations, account_id: int, now_s: float) -> None:
    """End every access token of the account issued at or before `now_s` (to the millisecond)."""
    await _write(redis, revocations, _account_entry(account_id, now_s), now_s)


async def revoke_from_outside(
    redis: Any, access_ttl_s: int, account_id: int, now_s: float, sids: list[str]
) -> bool:
    """`revoke_sessions` for `sids` and `revoke_account`, in one write, by a process that serves no tokens
    (the `exchange user` command): it answers once every live API process has read them (`confirm`);
    whether they all had within `CONFIRM_S`. Raises RedisError/OSError when the write fails."""
    view = Revocations(access_ttl_s)  # a reader id no API process has: none is skipped as this one
    entries = [_session_entry(account_id, sid, now_s, access_ttl_s) for sid in sids]
    minid = _trim_from(now_s, access_ttl_s)
    async with redis.pipeline(transaction=False) as pipe:
        for fields in [*entries, _account_entry(account_id, now_s)]:
            pipe.xadd(STREAM, fields, minid=minid, approximate=False)
        entry_ids = await pipe.execute()
    return await confirm(redis, view, _text(entry_ids[-1]))


async def read_new(redis: Any, revocations: Revocations) -> int:
    """Apply the entries added since the last read; returns how many."""
    applied = 0
    while True:
        start = "-" if revocations.last_id == "0-0" else f"({revocations.last_id}"
        # raw bytes whatever the client decodes: an entry that is not UTF-8 (written by hand) must not stop
        # the reader on it forever (`_text` decodes with replacement, `apply` skips what does not parse)
        options = {NEVER_DECODE: True}
        entries = await redis.execute_command("XRANGE", STREAM, start, "+", "COUNT", READ_COUNT, **options)
        for entry_id, fields in entries:
            entry_id = _text(entry_id)
            revocations.apply({_text(k): _text(v) for k, v in fields.items()})  # (a malformed one is skipped)
            revocations.last_id = entry_id
            applied += 1
        if len(entries) < READ_COUNT:
            return applied


def _id_key(entry_id: str) -> tuple[int, int]:
    """A stream id as a comparable pair (`"1700000000000-3"` -> (1700000000000, 3))."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


async def report(redis: Any, revocations: Revocations, poll_s: float) -> None:
    """Tell the revoking processes how far this one has read (`confirm`); also its heartbeat."""
    value = f"{revocations.last_id} {int(time.time() * 1000)} {int(poll_s * 1000)}"
    await redis.hset(READERS, revocations.reader_id, value)


async def leave(redis: Any, revocations: Revocations) -> None:
    """Take this process out of READERS when it stops following (no revocation waits for it any more)."""
    await redis.hdel(READERS, revocations.reader_id)


async def confirm(
    redis: Any, revocations: Revocations, entry_id: str, timeout_s: float | None = None
) -> bool:
    """Wait until every other live reader (`report`) has read the stream up to `entry_id`, at most
    `timeout_s` (default `CONFIRM_S`); delete the readers gone for good. Whether all had read it (a reader
    that stays behind is logged and not waited for longer: the revocation still reaches it as it reads)."""
    try:
        return await _confirm(redis, revocations, entry_id, timeout_s)
    except (RedisError, OSError) as exc:  # the entry is written: the readers still get it, only unconfirmed
        log.warning("cannot confirm revocation %s (%r)", entry_id, exc)
        return False


async def _confirm(redis: Any, revocations: Revocations, entry_id: str, timeout_s: float | None) -> bool:
    target = _id_key(entry_id)
    wait_s = CONFIRM_S if timeout_s is None else timeout_s
    deadline = time.monotonic() + wait_s
    pause = 0.001
    while True:
        behind, gone = [], []
        now_ms = time.time() * 1000
        for field, value in (await redis.hgetall(READERS)).items():
            reader = _text(field)
            if reader == revocations.reader_id:
                continue  # this process applied the entry before writing it
            try:
                last_id, reported, poll = _text(value).split()
                silent_ms, poll_ms, read_to = now_ms - int(reported), int(poll), _id_key(last_id)
            except ValueError:
                gone.append(reader)  # not a report (written by hand): no process answers to it
                continue
            if silent_ms > max(GONE_MS, 2 * poll_ms):
                gone.append(reader)
            elif silent_ms <= 2 * poll_ms + LIVE_GRACE_MS and read_to < target:
                behind.append(reader)
        if gone:
            await redis.hdel(READERS, *gone)
        if not behind:
            return True
        if time.monotonic() >= deadline:
            log.warning("revocation %s not yet read by %s after %.1f s", entry_id, behind, wait_s)
            return False
        await asyncio.sleep(pause)
        pause = min(pause * 2, 0.02)


def _text(value: Any) -> str:
    """Entry text; bytes that are not UTF-8 (an entry written by hand) never stop the reader."""
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


async def follow(redis: Any, revocations: Revocations, poll_s: float | None = None) -> None:
    """Keep `revocations` up to date with the stream until cancelled: read what is new, then wait for the next
    entry with a blocking XREAD (at most `poll_s`, default `POLL_S`), which returns the moment another process
    adds one, so a logout reaches every process at once. After each read it reports how far it has read
    (`report`, which `confirm` waits on). Forgetting expired entries (`prune`, linear in the
    entries) runs at most once per `poll_s`, however fast entries arrive. The XREAD has a client-side
    deadline too: a connection that went silent (half-open TCP) is dropped and retried, not waited on
    forever. A Redis outage is retried every `poll_s` (what was written meanwhile is read then, from
    `last_id`); any other failure is logged and retried too, so the task never ends while the process
    serves."""
    failing = False
    pruned_at = 0.0
    while True:
        wait_s = POLL_S if poll_s is None else poll_s
        try:
            await read_new(redis, revocations)
            await report(redis, revocations, wait_s)
            if failing:
                log.info("reading %s again", STREAM)
            failing = False
            if time.monotonic() - pruned_at >= wait_s:
                revocations.prune(time.time())
                pruned_at = time.monotonic()
            # the entry itself is read by the next `read_new` (paged, from `last_id`); this only waits for it
            options = {NEVER_DECODE: True}
            block_ms = max(1, int(wait_s * 1000))
            xread = redis.execute_command(
                "XREAD", "COUNT", 1, "BLOCK", block_ms, "STREAMS", STREAM, revocations.last_id, **options
            )
            await asyncio.wait_for(xread, timeout=wait_s + XREAD_GRACE_S)
            continue
        except (RedisError, OSError, TimeoutError) as exc:
            if not failing:
                log.warning("cannot read %s (%r); retrying every %.0f s", STREAM, exc, wait_s)
            failing = True
        except Exception:
            log.exception("reading %s failed; retrying in %.0f s", STREAM, wait_s)
            failing = True
        revocations.prune(time.time())
        pruned_at = time.monotonic()
        await asyncio.sleep(wait_s)


async def first_read(redis: Any, revocations: Revocations) -> None:
    """Read the whole stream before the process serves (a token revoked elsewhere is refused from the first
    request on); a Redis that cannot answer now is left to `follow`."""
    try:
        await read_new(redis, revocations)
    except Exception as exc:  # the process still starts; `follow` retries
        log.warning("cannot read %s at startup (%s); `follow` retries", STREAM, exc)
