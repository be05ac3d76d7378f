"""Logout ends access tokens before their `exp`: REST (both order paths), other API processes, WebSocket
sessions, and the `exchange user create --update` password reset (`exchange.api.revocation`)."""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from exchange.api import revocation
from exchange.api.app import create_app
from exchange.api.auth import TokenService
from exchange.api.revocation import AccessClaims, Revocations
from exchange.api.settings import RateLimit, Settings
from exchange.api.users_cli import run as user_cli
from tests.api.conftest import PASSWORD, User, error_code, login
from tests.api.test_refresh_cookie import COOKIE, cookie_login
from tests.api.test_ws_limits import close_code
from tests.api.test_ws_support import SYMBOL, Client, LiveServer, engine_for, fund

ORDER = {"symbol": "BTC-USDT", "side": "buy", "type": "limit", "price": "1000", "qty": "0.001"}


async def status_of(client: AsyncTestClient[Litestar], token: str) -> tuple[bool, bool]:
    """Is this bearer token accepted by (GET /api/me, POST /api/orders on the lean route)? The order may fail
    for its own reasons (no funds); only a 401 INVALID_TOKEN counts as refused."""
    headers = {"Authorization": f"Bearer {token}"}
    me = await client.get("/api/me", headers=headers)
    order = await client.post("/api/orders", json=ORDER, headers=headers)
    for r in (me, order):
        assert r.status_code != 401 or error_code(r) == "INVALID_TOKEN", r.text
    return me.status_code != 401, order.status_code != 401


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> float:
    """Seconds until `check()` holds (fails after `timeout`)."""
    start = time.monotonic()
    while not await check():
        assert time.monotonic() - start < timeout, "still not revoked"
        await asyncio.sleep(0.05)
    return time.monotonic() - start


# --- REST, one process ------------------------------------------------------------------------------


async def test_logout_with_the_cookie_ends_the_access_token_it_presents(
    client: AsyncTestClient[Litestar], alice: User
) -> None:
    """The terminal's logout (`{"access_token"}` with the cookie) ends that access token at once on both
    order paths and /api/me; the account's other sessions keep working."""
    tokens = await cookie_login(client, alice)
    access = tokens["access_token"]
    assert await status_of(client, access) == (True, True)
    r = await client.post("/api/auth/logout", json={"access_token": access})
    assert r.status_code == 204 and COOKIE not in client.cookies
    assert await status_of(client, access) == (False, False)
    me = await client.get("/api/me", headers={"Authorization": f"Bearer {access}"})
    assert error_code(me) == "INVALID_TOKEN" and "revoked" in me.json()["error"]["message"]
    assert await status_of(client, alice.access_token) == (True, True)


async def test_logout_with_a_refresh_token_also_ends_the_bearer_token(
    client: AsyncTestClient[Litestar], alice: User
) -> None:
    """A bot's logout (refresh token in the body, bearer header) ends both tokens; another session of the
    account is untouched."""
    other = await login(client, alice.email, alice.id)
    r = await client.post(
        "/api/auth/logout", json={"refresh_token": alice.refresh_token}, headers=alice.headers
    )
    assert r.status_code == 204
    assert await status_of(client, alice.access_token) == (False, False)
    assert await status_of(client, other.access_token) == (True, True)


async def test_logout_everywhere_ends_every_access_token_issued_before_it_and_a_new_login_works(
    client: AsyncTestClient[Litestar], alice: User, bob: User
) -> None:
    """Logout everywhere: every refresh and access token of the account ends, tokens issued right after
    (the same second) work, and other accounts are untouched."""
    other = await login(client, alice.email, alice.id)
    r = await client.post("/api/auth/logout", json={"everywhere": True}, headers=alice.headers)
    assert r.status_code == 204
    for user in (alice, other):
        assert await status_of(client, user.access_token) == (False, False)
    fresh = await login(client, alice.email, alice.id)
    assert await status_of(client, fresh.access_token) == (True, True)
    assert await status_of(client, bob.access_token) == (True, True)


async def test_an_access_token_alone_can_be_ended_and_a_bad_one_is_401(
    client: AsyncTestClient[Litestar], alice: User
) -> None:
    """`{"access_token"}` without a cookie, refresh token or bearer: that token ends (204) and nothing else;
    one that does not verify is 401 INVALID_TOKEN."""
    r = await client.post("/api/auth/logout", json={"access_token": alice.access_token})
    assert r.status_code == 204
    assert await status_of(client, alice.access_token) == (False, False)
    r = await client.post("/api/auth/refresh", json={"refresh_token": alice.refresh_token})
    assert r.status_code == 200  # the refresh token was not part of it
    r = await client.post("/api/auth/logout", json={"access_token": "not-a-token"})
    assert r.status_code == 401 and error_code(r) == "INVALID_TOKEN"


async def test_a_logout_ignores_a_presented_access_token_that_no_longer_verifies(
    client: AsyncTestClient[Litestar], alice: User
) -> None:
    """With the cookie, an expired or garbled `access_token` does not fail the logout: 204, cookie cleared."""
    await cookie_login(client, alice)
    r = await client.post("/api/auth/logout", json={"access_token": "garbled"})
    assert r.status_code == 204 and COOKIE not in client.cookies


async def test_a_reused_refresh_token_ends_the_access_tokens_of_its_session(
    client: AsyncTestClient[Litestar], alice: User
) -> None:
    """A refresh token presented twice has leaked: the second use is 401 and every access token its session
    was issued (the thief's fresh one included) ends (other sessions: tests/api/test_sessions.py)."""
    first = await client.post("/api/auth/refresh", json={"refresh_token": alice.refresh_token})
    assert first.status_code == 200
    stolen = first.json()["access_token"]
    again = await client.post("/api/auth/refresh", json={"refresh_token": alice.refresh_token})
    assert again.status_code == 401
    for token in (alice.access_token, stolen):
        assert await status_of(client, token) == (False, False)


async def test_replaying_a_leaked_token_again_cannot_end_the_owners_later_sessions(
    client: AsyncTestClient[Litestar], alice: User, api_settings: Settings
) -> None:
    """The first reuse ends the leaked session (above). The owner logs in again; the thief replays the same
    old refresh token again and again: each is 401 SESSION_ENDED, the new session lives, and no revocation
    is written (the leaked token's session has ended)."""
    import redis as redis_sync

    assert (await client.post("/api/auth/refresh", json={"refresh_token": alice.refresh_token})).is_success
    again = await client.post("/api/auth/refresh", json={"refresh_token": alice.refresh_token})
    assert again.status_code == 401  # the reuse: that session ended
    fresh = await login(client, alice.email)
    r = redis_sync.Redis.from_url(api_settings.redis_url or "")
    written = r.xlen(revocation.STREAM)
    for _ in range(3):
        replay = await client.post("/api/auth/refresh", json={"refresh_token": alice.refresh_token})
        assert replay.status_code == 401 and error_code(replay) == "SESSION_ENDED"
    assert r.xlen(revocation.STREAM) == written
    r.close()
    assert await status_of(client, fresh.access_token) == (True, True)
    rotated = await client.post("/api/auth/refresh", json={"refresh_token": fresh.refresh_token})
    assert rotated.status_code == 200


# --- other processes ----------------------------------------------------------------------------------


async def test_another_api_process_refuses_the_token_as_soon_as_the_logout_has_answered(
    api_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two apps (two API processes) on one Redis: once a logout through one has answered, the other refuses
    the token it had verified and cached, on its very next request. The followers' wait is made a minute
    long, so only the blocking read waking on the new entry can end it (a poll could not), and the second
    process's reading is slowed by 0.2 s: the logout answers only after that process has read it
    (`revocation.confirm`), not merely after writing it. When a process stops it leaves the readers."""
    monkeypatch.setattr(revocation, "POLL_S", 60.0)
    read_new = revocation.read_new
    async with (
        AsyncTestClient(create_app(api_settings)) as one,
        AsyncTestClient(create_app(api_settings)) as two,
    ):
        slow = two.app.state.tokens.revocations

        async def slow_read(redis: object, view: Revocations) -> int:
            if view is slow:
                await asyncio.sleep(0.2)
            return await read_new(redis, view)

        monkeypatch.setattr(revocation, "read_new", slow_read)
        email = f"revoke-{time.time_ns()}@example.com"
        r = await one.post("/api/auth/register", json={"email": email, "password": PASSWORD})
        user = await login(one, email, r.json()["id"])
        assert await status_of(two, user.access_token) == (True, True)
        r = await one.post("/api/auth/logout", json={"access_token": user.access_token})
        assert r.status_code == 204
        assert await status_of(two, user.access_token) == (False, False)
        assert slow.reader_id in await _readers(api_settings)
    assert slow.reader_id not in await _readers(api_settings)


async def _readers(settings: Settings) -> list[str]:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(settings.redis_url or "", decode_responses=True)
    try:
        return list(await client.hkeys(revocation.READERS))
    finally:
        await client.aclose()


async def test_a_revocation_waits_for_live_readers_only_and_forgets_the_dead(redis_url: str) -> None:
    """`confirm` waits for each reader that reported within two polls (plus a grace) until it has read the
    entry, at most its bound (then answers False: the revocation still reaches that reader as it reads);
    a reader silent longer is not waited for, and one silent a minute or more, or whose report is not one,
    is deleted; a Redis that fails while confirming leaves the revocation written, only unconfirmed."""
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    view = Revocations(access_ttl_s=600)
    now = int(time.time() * 1000)
    try:
        await client.delete(revocation.READERS)
        await client.hset(
            revocation.READERS,
            mapping={
                "behind": f"1-0 {now} 1000",
                "silent": f"1-0 {now - 5_000} 1000",  # beyond two polls and the grace: not waited for
                "gone": f"1-0 {now - 61_000} 1000",
                "garbled": "what",
                "slow-poller": f"1-0 {now - 61_000} 60000",  # silent a minute, but it polls every minute
                view.reader_id: f"0-0 {now} 1000",  # the revoking process itself
            },
        )
        assert not await revocation.confirm(client, view, "5-0", timeout_s=0.05)
        assert set(await client.hkeys(revocation.READERS)) == {
            "behind",
            "silent",
            "slow-poller",
            view.reader_id,
        }

        async def catch_up() -> None:
            await asyncio.sleep(0.05)
            await client.hset(revocation.READERS, "behind", f"5-0 {int(time.time() * 1000)} 1000")
            await client.hset(revocation.READERS, "slow-poller", f"7-0 {int(time.time() * 1000)} 60000")

        started = time.monotonic()
        task = asyncio.create_task(catch_up())
        assert await revocation.confirm(client, view, "5-0", timeout_s=5.0)
        assert 0.04 < time.monotonic() - started < 2.0
        await task
        # a reader that is ahead, or at the entry, is done; "5-0" < "10-0" as ids, not as text
        assert await revocation.confirm(client, view, "4-9", timeout_s=0.0)
        await client.hset(revocation.READERS, "behind", f"9-0 {int(time.time() * 1000)} 1000")
        assert not await revocation.confirm(client, view, "10-0", timeout_s=0.0)
        # Redis gone after the entry was written: the revocation stands, unconfirmed (no error to the caller)
        dead = aioredis.Redis.from_url("redis://127.0.0.1:1/0")
        assert not await revocation.confirm(dead, view, "10-0")
        await dead.aclose()
    finally:
        await client.delete(revocation.READERS)
        await client.aclose()


# --- WebSocket ----------------------------------------------------------------------------------------


def test_a_revoked_token_ends_private_data_with_token_revoked_and_close_4001(settings: Settings) -> None:
    """A connection subscribed to `orders` whose token a logout revokes gets TOKEN_REVOKED and close 4001;
    one with public channels only is told (TOKEN_REVOKED) and stays open, its trading ops answering
    INVALID_TOKEN."""
    engine = engine_for(settings.redis_url or "")
    fund(engine, 71)
    issuer = TokenService(settings)
    private_token, public_token = issuer.issue_access(71), issuer.issue_access(71)
    server = LiveServer(create_app(settings)).start()
    try:
        private, public = Client(server.ws_url), Client(server.ws_url)
        assert private.request({"op": "auth", "req_id": "a", "token": private_token})["op"] == "authenticated"
        assert (
            private.request({"op": "subscribe", "req_id": "s", "channels": ["orders"]})["op"] == "subscribed"
        )
        assert public.request({"op": "auth", "req_id": "a", "token": public_token})["op"] == "authenticated"
        assert (
            public.request({"op": "subscribe", "req_id": "s", "channels": ["tickers"]})["op"] == "subscribed"
        )
        for token in (private_token, public_token):
            r = httpx.post(f"{server.http_url}/api/auth/logout", json={"access_token": token}, timeout=5)
            assert r.status_code == 204
        revoked = private.until(lambda f: f.get("op") == "error", timeout=5)
        assert revoked["error"]["code"] == "TOKEN_REVOKED"
        assert close_code(private) == 4001
        told = public.until(lambda f: f.get("op") == "error", timeout=5)  # told, not closed
        assert told["error"]["code"] == "TOKEN_REVOKED" and "public channels stay" in told["error"]["message"]
        order = {"op": "place", "req_id": "p", "symbol": SYMBOL, "side": "buy", "type": "limit"}
        denied = public.request({**order, "price": "1000", "qty": "0.001"})
        assert denied["error"]["code"] == "INVALID_TOKEN" and "revoked" in denied["error"]["message"]
        assert public.request({"op": "ping", "req_id": "x"})["op"] == "pong"
        public.close()
    finally:
        server.stop()


def test_a_token_that_expires_while_a_private_subscribe_is_under_way_ends_the_connection(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`subscribe` checks the token, then awaits (market lookups, the hub) before `orders` is held: a token
    that expires (or is revoked) meanwhile still ends private data, TOKEN_EXPIRED and close 4001, rather
    than leave an `orders` feed that nothing checks again (a security review found the gap)."""
    from exchange.api.convert import MarketCache

    engine = engine_for(settings.redis_url or "")
    fund(engine, 74)
    # a token whose `exp` is ~1.5 s away: issued by a clock set back by almost its lifetime
    issuer = TokenService(settings, clock=lambda: time.time() - settings.access_ttl_s + 1.5)
    short = issuer.issue_access(74)
    original, slow = MarketCache.get, {"armed": False}

    async def slow_get(self: MarketCache, symbol: str) -> object:  # latency before `orders` is held
        if slow["armed"]:
            slow["armed"] = False
            await asyncio.sleep(2.5)
        return await original(self, symbol)

    monkeypatch.setattr(MarketCache, "get", slow_get)
    server = LiveServer(create_app(settings)).start()
    try:
        ws = Client(server.ws_url)
        assert ws.request({"op": "auth", "req_id": "a", "token": short})["op"] == "authenticated"
        slow["armed"] = True
        ws.send({"op": "subscribe", "req_id": "s", "channels": [f"trades:{SYMBOL}", "orders"]})
        ended = ws.until(lambda f: f.get("op") == "error" and f.get("req_id") is None, timeout=6)
        assert ended["error"]["code"] == "TOKEN_EXPIRED"
        assert close_code(ws) == 4001
    finally:
        server.stop()


# --- password reset -----------------------------------------------------------------------------------


async def test_a_password_reset_ends_the_old_passwords_access_tokens(
    client: AsyncTestClient[Litestar], alice: User, api_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`exchange user create --update` with the stack's Redis known ends every access token of the account,
    and returns only once the running API process has read that (as a logout answers): the app's reading
    slowed by 0.2 s, the old token is refused on the very next request after the command returns."""
    monkeypatch.setenv("EXCHANGE_REDIS_URL", api_settings.redis_url or "")
    read_new, view = revocation.read_new, client.app.state.tokens.revocations

    async def slow_read(redis: object, revocations: Revocations) -> int:
        if revocations is view:
            await asyncio.sleep(0.2)
        return await read_new(redis, revocations)

    monkeypatch.setattr(revocation, "read_new", slow_read)
    assert await status_of(client, alice.access_token) == (True, True)
    args = argparse.Namespace(
        email=alice.email, password="a-new-Passw0rd-for-alice", admin=False, update=True,
        database_url=api_settings.database_url, data_dir=None,
    )  # fmt: skip
    assert await asyncio.to_thread(user_cli, args) == 0
    assert await status_of(client, alice.access_token) == (False, False)


# --- the in-memory view and the stream ------------------------------------------------------------------


def claims(account: int = 5, jti: str = "j", iat_ms: int = 1_000_000, exp: int = 2_000) -> AccessClaims:
    return AccessClaims(account, jti, iat_ms, exp)


def test_an_account_revocation_ends_tokens_issued_up_to_its_millisecond_only() -> None:
    """`before` compares with `iat` in milliseconds: tokens issued earlier or in that millisecond end (one
    signed then may precede the revocation: erring toward revoking), later ones live; a later revocation of
    the account only moves the bound forward."""
    view = Revocations(access_ttl_s=600)
    view.apply({"account": "5", "before": "1000000"})
    assert view.revoked(claims(iat_ms=999_999))
    assert view.revoked(claims(iat_ms=1_000_000))
    assert not view.revoked(claims(iat_ms=1_000_001))
    assert not view.revoked(claims(account=6, iat_ms=1))
    view.apply({"account": "5", "before": "900000"})  # an older entry read late
    assert view.revoked(claims(iat_ms=950_000))


def test_an_all_accounts_entry_ends_every_token_issued_up_to_it_and_wakes_every_listener() -> None:
    """`{"all_before": ms}` (written by `exchange restore`) revokes every account's tokens issued at or
    before that millisecond, whatever their session, calls every account's listeners (their sockets check
    their tokens), and is forgotten once no token it names can be alive; a malformed one is skipped."""
    view = Revocations(access_ttl_s=600)
    woken: list[int] = []
    for account in (5, 6):
        view.listen(account, lambda account=account: woken.append(account))
    view.apply({"all_before": "oops"})
    assert len(view) == 0 and woken == [] and not view.revoked(claims(iat_ms=0))  # none yet: none revoked
    view.apply({"all_before": "1000000"})
    assert view.revoked(claims(account=5, iat_ms=1_000_000)) and view.revoked(claims(account=99, iat_ms=1))
    assert not view.revoked(claims(account=5, iat_ms=1_000_001))
    assert sorted(woken) == [5, 6]
    view.prune(now_s=1_500)
    assert view.revoked(claims(iat_ms=999))
    view.prune(now_s=1_601)  # 601 s after it: every token it names has expired
    assert len(view) == 0 and not view.revoked(claims(iat_ms=999))


def test_the_view_skips_malformed_entries_and_forgets_what_names_no_live_token() -> None:
    """A malformed entry is skipped; `prune` drops revoked tokens past their `exp` and account bounds older
    than a token's lifetime."""
    view = Revocations(access_ttl_s=600)
    view.apply({"account": "x", "jti": "a", "exp": "1"})
    view.apply({"before": "5"})
    assert len(view) == 0
    view.apply({"account": "5", "jti": "a", "exp": "2000"})
    view.apply({"account": "5", "before": "1000000"})  # 1,000 s
    view.prune(now_s=1_500)
    assert view.revoked(claims(jti="a")) and view.revoked(claims(jti="b", iat_ms=1))
    view.prune(now_s=2_001)  # the token expired; the bound is 1,001 s old (> 600)
    assert len(view) == 0 and not view.revoked(claims(jti="a", iat_ms=1))


async def test_repeated_logouts_with_one_token_write_one_entry_and_logouts_are_rate_limited(
    client: AsyncTestClient[Litestar], alice: User, api_settings: Settings
) -> None:
    """A token already revoked here is not written again (concurrent repeats included: the first applies
    it before it writes), so repeating a logout cannot grow `auth:revoked`; and logouts per client IP have
    their own limit (429)."""
    import redis as redis_sync

    limited = replace(api_settings, rate_limits=replace(api_settings.rate_limits, logout_ip=RateLimit(3, 60)))
    async with AsyncTestClient(create_app(limited)) as other:
        codes = [(await other.post("/api/auth/logout", json={})).status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429]  # (no session to end: 401) until the fourth in the minute

    r = redis_sync.Redis.from_url(api_settings.redis_url or "")
    before = r.xlen(revocation.STREAM)
    answers = await asyncio.gather(
        *[client.post("/api/auth/logout", json={"access_token": alice.access_token}) for _ in range(20)]
    )
    codes = sorted(a.status_code for a in answers)
    assert codes == [204] + [401] * 19  # the first ends it; the others present a token revoked already
    assert r.xlen(revocation.STREAM) - before == 1
    r.close()


async def test_a_new_process_reads_the_stream_before_it_serves_and_survives_a_garbled_entry(
    api_settings: Settings,
) -> None:
    """An API process starting after a logout refuses the revoked token from its first request; an entry
    that is not UTF-8 (written by hand) is skipped, and the process keeps reading after it."""
    import redis as redis_sync

    issuer = TokenService(api_settings)
    early, late = issuer.issue_access(4242), issuer.issue_access(4343)
    r = redis_sync.Redis.from_url(api_settings.redis_url or "")
    r.xadd(revocation.STREAM, {"account": "4242", "before": str(int(time.time() * 1000) + 1000)})
    r.xadd(revocation.STREAM, {"account": b"\xff\xfe", "jti": b"\xff", "exp": "1"})
    async with AsyncTestClient(create_app(api_settings)) as fresh:
        assert await _refused(fresh, early)  # the very first request
        assert not await _refused(fresh, late)
        r.xadd(revocation.STREAM, {"account": "4343", "before": str(int(time.time() * 1000) + 1000)})
        await eventually(lambda: _refused(fresh, late))  # read after the garbled entry
    r.close()


async def _refused(client: AsyncTestClient[Litestar], token: str) -> bool:
    """Is the token refused (`GET /api/balances`: an engine read, any account id)?"""
    r = await client.get("/api/balances", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code in (200, 401), r.text
    return r.status_code == 401 and error_code(r) == "INVALID_TOKEN"


def test_listeners_hear_their_account_only_and_a_failing_one_does_not_stop_the_others() -> None:
    view = Revocations(access_ttl_s=600)
    heard: list[str] = []

    def broken() -> None:
        raise RuntimeError("boom")

    view.listen(5, broken)
    view.listen(5, lambda: heard.append("five"))
    view.listen(6, lambda: heard.append("six"))
    view.apply({"account": "5", "jti": "a", "exp": "9"})
    assert heard == ["five"]
    view.unlisten(5, broken)
    view.apply({"account": "5", "jti": "b", "exp": "9"})
    assert heard == ["five", "five"]


async def test_the_stream_is_trimmed_past_a_token_lifetime_and_read_from_where_it_left(
    redis_url: str,
) -> None:
    """Each write drops entries older than the access-token lifetime (plus a minute); `read_new` applies
    each entry once, in order, from the last id it read."""
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        await client.delete(revocation.STREAM)
        await client.xadd(revocation.STREAM, {"account": "1", "jti": "old", "exp": "1"}, id="1000-0")
        writer, reader = Revocations(access_ttl_s=600), Revocations(access_ttl_s=600)
        await revocation.revoke_token(client, writer, claims(account=2, jti="new", exp=int(time.time()) + 60))
        entries = await client.xrange(revocation.STREAM)
        assert [e[1]["jti"] for e in entries] == ["new"]
        assert writer.revoked(claims(account=2, jti="new"))  # applied at once by the writer
        assert await revocation.read_new(client, reader) == 1
        await revocation.revoke_account(client, writer, 3, time.time())
        assert await revocation.read_new(client, reader) == 1
        assert await revocation.read_new(client, reader) == 0
        assert reader.revoked(claims(account=2, jti="new")) and reader.revoked(claims(account=3, iat_ms=1))
    finally:
        await client.delete(revocation.STREAM)
        await client.aclose()


def test_a_tokens_iat_is_to_the_millisecond_and_its_exp_whole_seconds(settings: Settings) -> None:
    """The claims a revocation compares: `iat_ms` from the issuing clock, `exp` = whole second + ttl."""
    second = int(time.time())
    issuer = TokenService(replace(settings, access_ttl_s=600), clock=lambda: second + 0.1234)
    got = TokenService(settings).decode_access_claims(issuer.issue_access(9))
    assert (got.account_id, got.iat_ms, got.exp) == (9, second * 1000 + 123, second + 600)
