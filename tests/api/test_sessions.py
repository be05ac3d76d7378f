"""Login sessions: each login is one; a rotation hands it on; ending one (its logout, `DELETE
/api/auth/sessions/{id}`, a reused refresh token of it) ends its refresh and access tokens and no other
session's; `GET /api/auth/sessions` lists the live ones; an admin can end all of an account's; sessions of
tokens issued before the table existed are made by the migration from their rotation chains."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import httpx
import psycopg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from psycopg_pool import AsyncConnectionPool

from exchange.api import accounts, routes_auth
from exchange.api.accounts import purge_sessions
from exchange.api.app import create_app
from exchange.api.auth import TokenService
from exchange.api.revocation import AccessClaims, Revocations
from exchange.api.settings import RateLimit, RateLimits, Settings
from exchange.db.migrate import MIGRATIONS_DIR, migrate
from exchange.servers import PostgresServer
from tests.api.conftest import PASSWORD, User, error_code, make_settings, seed
from tests.api.test_revocation import status_of
from tests.api.test_ws_limits import close_code
from tests.api.test_ws_support import Client, LiveServer


async def _login(client: AsyncTestClient[Litestar], user: User, agent: str) -> User:
    r = await client.post(
        "/api/auth/login", json={"email": user.email, "password": PASSWORD}, headers={"User-Agent": agent}
    )
    assert r.status_code == 200, r.text
    return User(user.id, user.email, r.json()["access_token"], r.json()["refresh_token"])


async def _refresh(client: AsyncTestClient[Litestar], token: str) -> int:
    return (await client.post("/api/auth/refresh", json={"refresh_token": token})).status_code


async def _sessions(client: AsyncTestClient[Litestar], user: User) -> list[dict[str, object]]:
    r = await client.get("/api/auth/sessions", headers=user.headers)
    assert r.status_code == 200, r.text
    sessions: list[dict[str, object]] = r.json()
    return sessions


def _sid(settings_tokens: TokenService, user: User) -> str:
    return settings_tokens.decode_access_claims(user.access_token).sid


async def test_a_reused_refresh_token_ends_its_own_session_only(
    client: AsyncTestClient[Litestar], alice: User
) -> None:
    """The laptop's refresh token leaks and is used twice: the laptop's session ends (its refresh and access
    tokens, the thief's fresh pair included); the phone, another login of the same account, lives on."""
    phone = await _login(client, alice, "phone")
    stolen = await client.post("/api/auth/refresh", json={"refresh_token": alice.refresh_token})
    assert stolen.status_code == 200
    assert await _refresh(client, alice.refresh_token) == 401  # the reuse
    thief = stolen.json()
    assert await _refresh(client, thief["refresh_token"]) == 401
    for token in (alice.access_token, thief["access_token"]):
        assert await status_of(client, token) == (False, False)
    assert await status_of(client, phone.access_token) == (True, True)
    assert await _refresh(client, phone.refresh_token) == 200


async def test_logout_with_a_refresh_token_ends_every_access_token_of_its_session(
    client: AsyncTestClient[Litestar], alice: User
) -> None:
    """Logging a device out (its refresh token, no access token presented) ends the access tokens that
    session was given, the rotated-in ones too; another session's tokens still work."""
    other = await _login(client, alice, "other")
    rotated = await client.post("/api/auth/refresh", json={"refresh_token": alice.refresh_token})
    newer = rotated.json()
    r = await client.post("/api/auth/logout", json={"refresh_token": newer["refresh_token"]})
    assert r.status_code == 204
    for token in (alice.access_token, newer["access_token"]):
        assert await status_of(client, token) == (False, False)
    assert await status_of(client, other.access_token) == (True, True)
    assert await _refresh(client, other.refresh_token) == 200


async def test_sessions_lists_the_live_logins_with_their_agent_and_marks_the_current_one(
    client: AsyncTestClient[Litestar], alice: User, bob: User, app: Litestar
) -> None:
    """Two logins besides the first: three sessions, newest use first, each with its User-Agent and address,
    `current` on the asker's. A rotation keeps the session (same id, later `last_used_at`); an ended
    session leaves the list; bob sees only his own."""
    tokens: TokenService = app.state.tokens
    laptop = await _login(client, alice, "Laptop/1.0")
    phone = await _login(client, alice, "Phone/2.0 " + "x" * 300)
    listed = await _sessions(client, laptop)
    assert [s["id"] for s in listed] == [_sid(tokens, phone), _sid(tokens, laptop), _sid(tokens, alice)]
    assert [s["current"] for s in listed] == [False, True, False]
    assert listed[0]["user_agent"] == ("Phone/2.0 " + "x" * 300)[:200]  # bounded
    assert listed[1]["user_agent"] == "Laptop/1.0" and listed[1]["ip"]
    before = listed[2]["last_used_at"]
    assert isinstance(before, int) and before <= int(time.time() * 1000)

    time.sleep(0.01)
    rotated = await client.post("/api/auth/refresh", json={"refresh_token": alice.refresh_token})
    fresh = User(alice.id, alice.email, rotated.json()["access_token"], rotated.json()["refresh_token"])
    listed = await _sessions(client, fresh)
    assert listed[0]["id"] == _sid(tokens, alice) and listed[0]["current"] is True
    assert isinstance(listed[0]["last_used_at"], int) and listed[0]["last_used_at"] > before

    assert (
        await client.post("/api/auth/logout", json={"refresh_token": phone.refresh_token})
    ).status_code == 204
    assert {s["id"] for s in await _sessions(client, laptop)} == {_sid(tokens, alice), _sid(tokens, laptop)}
    assert [s["id"] for s in await _sessions(client, bob)] == [_sid(tokens, bob)]


async def test_ending_a_session_by_id_logs_that_device_out_and_only_the_owner_can(
    client: AsyncTestClient[Litestar], alice: User, bob: User, app: Litestar
) -> None:
    """DELETE /api/auth/sessions/{id} from the laptop ends the phone's session: its refresh token is
    refused and its access token at once. Bob naming alice's session gets 404 and changes nothing; so does
    ending an ended session; a malformed id is 422."""
    tokens: TokenService = app.state.tokens
    phone = await _login(client, alice, "phone")
    phone_sid = _sid(tokens, phone)
    r = await client.delete(f"/api/auth/sessions/{phone_sid}", headers=bob.headers)
    assert r.status_code == 404 and error_code(r) == "NOT_FOUND"
    assert await status_of(client, phone.access_token) == (True, True)

    r = await client.delete(f"/api/auth/sessions/{phone_sid}", headers=alice.headers)
    assert r.status_code == 204, r.text
    assert await status_of(client, phone.access_token) == (False, False)
    assert await _refresh(client, phone.refresh_token) == 401
    assert await status_of(client, alice.access_token) == (True, True)

    again = await client.delete(f"/api/auth/sessions/{phone_sid}", headers=alice.headers)
    assert again.status_code == 404
    bad = await client.delete("/api/auth/sessions/no%20such", headers=alice.headers)
    assert bad.status_code == 422
    assert (await client.get("/api/auth/sessions")).status_code == 401


async def test_a_refresh_of_an_ended_session_says_so_and_one_of_no_session_is_an_invalid_token(
    client: AsyncTestClient[Litestar], alice: User, app: Litestar
) -> None:
    """A device logged out from another (or by its own logout) gets 401 SESSION_ENDED on its next refresh, so
    a terminal reloaded later can say why it was logged out; a well-signed refresh token the server never
    stored is 401 INVALID_TOKEN, as is one the server never signed."""
    tokens: TokenService = app.state.tokens
    phone, tablet = await _login(client, alice, "phone"), await _login(client, alice, "tablet")
    ended = await client.delete(f"/api/auth/sessions/{_sid(tokens, phone)}", headers=alice.headers)
    assert ended.status_code == 204
    r = await client.post("/api/auth/refresh", json={"refresh_token": phone.refresh_token})
    assert r.status_code == 401 and error_code(r) == "SESSION_ENDED", r.text
    assert "log in again" in r.json()["error"]["message"]
    logout = await client.post("/api/auth/logout", json={"refresh_token": tablet.refresh_token})
    assert logout.status_code == 204
    r = await client.post("/api/auth/refresh", json={"refresh_token": tablet.refresh_token})
    assert r.status_code == 401 and error_code(r) == "SESSION_ENDED"

    unknown, _ = tokens.issue_refresh(alice.id, _sid(tokens, alice))  # signed here, never stored
    for token in (unknown, unknown[:-4] + "AAAA"):
        r = await client.post("/api/auth/refresh", json={"refresh_token": token})
        assert r.status_code == 401 and error_code(r) == "INVALID_TOKEN", r.text
    assert (await client.post("/api/auth/refresh", json={"refresh_token": alice.refresh_token})).is_success


async def test_an_admin_ends_every_session_of_an_account(
    client: AsyncTestClient[Litestar], admin: User, alice: User, bob: User
) -> None:
    """POST /api/admin/accounts/{id}/logout: alice's two sessions end (refresh and access tokens); bob's
    lives. 404 for no such account; 403 for a non-admin, which ends nothing."""
    second = await _login(client, alice, "second")
    r = await client.post(f"/api/admin/accounts/{alice.id}/logout", headers=bob.headers)
    assert r.status_code == 403
    assert await status_of(client, second.access_token) == (True, True)

    r = await client.post(f"/api/admin/accounts/{alice.id}/logout", headers=admin.headers)
    assert r.status_code == 200 and r.json() == {"account_id": alice.id, "sessions_ended": 2}
    for user in (alice, second):
        assert await status_of(client, user.access_token) == (False, False)
        assert await _refresh(client, user.refresh_token) == 401
    assert await status_of(client, bob.access_token) == (True, True)
    r = await client.post("/api/admin/accounts/999999999/logout", headers=admin.headers)
    assert r.status_code == 404 and error_code(r) == "UNKNOWN_ACCOUNT"


def test_a_session_revocation_ends_that_sessions_tokens_until_they_must_have_expired() -> None:
    """The in-memory view: a `sid` entry refuses the tokens of that session only, and is forgotten once every
    token the session issued has expired."""
    view = Revocations(600)
    view.apply({"account": "7", "sid": "s-1", "exp": "1000"})
    assert view.revoked(AccessClaims(7, "j1", 0, 2000, "s-1"))
    assert not view.revoked(AccessClaims(7, "j2", 0, 2000, "s-2"))
    assert not view.revoked(AccessClaims(7, "j3", 0, 2000, ""))  # a token of no session
    view.prune(999)
    assert view.revoked(AccessClaims(7, "j1", 0, 2000, "s-1"))
    view.prune(1000)
    assert len(view) == 0


@pytest.fixture
def legacy_db(pg_server: PostgresServer, tmp_path: Path) -> str:
    """A database migrated up to 0002 (before sessions), then with 0003 left to apply."""
    url = pg_server.create_database(f"sessions_{time.time_ns()}")
    before = tmp_path / "before"
    before.mkdir()
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        if path.name < "0003":
            shutil.copy(path, before / path.name)
    migrate(url, before)
    return url


def test_the_migration_makes_a_session_of_each_rotation_chain(legacy_db: str) -> None:
    """Refresh tokens from before sessions: the chain a -> b -> c (c live) becomes one live session named a;
    the chain d -> e (both revoked) one ended session named d; the lone f (live) its own."""
    with psycopg.connect(legacy_db, autocommit=True) as conn:
        account = conn.execute(
            "INSERT INTO accounts (email, password_hash) VALUES ('legacy@example.com', 'x') RETURNING id"
        ).fetchone()
        assert account is not None
        rows = [
            ("a", "now() - interval '3 hours'", "now()", "'c1'"),
            ("c1", "now() - interval '2 hours'", "now()", "'c2'"),
            ("c2", "now() - interval '1 hour'", "NULL", "NULL"),
            ("d", "now() - interval '5 hours'", "now()", "'e'"),
            ("e", "now() - interval '4 hours'", "now()", "NULL"),
            ("f", "now()", "NULL", "NULL"),
        ]
        for jti, issued, revoked, replaced in rows:
            conn.execute(
                "INSERT INTO refresh_tokens (jti, account_id, issued_at, expires_at, revoked_at, "
                f"replaced_by) VALUES (%s, %s, {issued}, now() + interval '1 day', {revoked}, {replaced})",
                (jti, account[0]),
            )
    assert migrate(legacy_db) == ["0003_sessions"] + [
        p.stem for p in sorted(MIGRATIONS_DIR.glob("*.sql")) if p.name > "0003_sessions.sql"
    ]
    with psycopg.connect(legacy_db) as conn:
        members = dict(conn.execute("SELECT jti, session_id FROM refresh_tokens").fetchall())
        sessions = {
            sid: (ended, created < used)
            for sid, ended, created, used in conn.execute(
                "SELECT id, ended_at IS NOT NULL, created_at, last_used_at FROM sessions"
            ).fetchall()
        }
    assert members == {"a": "a", "c1": "a", "c2": "a", "d": "d", "e": "d", "f": "f"}
    assert sessions == {"a": (False, True), "d": (True, True), "f": (False, False)}


def test_ending_a_session_closes_its_websocket_and_not_the_other_sessions(settings: Settings) -> None:
    """Two logins of one account, each on a WebSocket with `orders`: ending the phone's session from the
    laptop gets the phone's connection TOKEN_REVOKED and close 4001; the laptop's keeps its private feed."""
    server = LiveServer(create_app(settings)).start()
    try:
        email = f"ws-session-{time.time_ns()}@example.com"
        api = f"{server.http_url}/api"
        assert (
            httpx.post(f"{api}/auth/register", json={"email": email, "password": PASSWORD}).status_code == 201
        )
        tokens = [
            httpx.post(f"{api}/auth/login", json={"email": email, "password": PASSWORD}).json()[
                "access_token"
            ]
            for _ in range(2)
        ]
        laptop, phone = Client(server.ws_url), Client(server.ws_url)
        for ws, token in ((laptop, tokens[0]), (phone, tokens[1])):
            assert ws.request({"op": "auth", "req_id": "a", "token": token})["op"] == "authenticated"
            assert (
                ws.request({"op": "subscribe", "req_id": "s", "channels": ["orders"]})["op"] == "subscribed"
            )
        listed = httpx.get(f"{api}/auth/sessions", headers={"Authorization": f"Bearer {tokens[0]}"}).json()
        (phone_sid,) = [s["id"] for s in listed if not s["current"]]
        r = httpx.delete(f"{api}/auth/sessions/{phone_sid}", headers={"Authorization": f"Bearer {tokens[0]}"})
        assert r.status_code == 204
        revoked = phone.until(lambda f: f.get("op") == "error", timeout=5)
        assert revoked["error"]["code"] == "TOKEN_REVOKED"
        assert close_code(phone) == 4001
        assert laptop.request({"op": "ping", "req_id": "x"})["op"] == "pong"
        assert (
            laptop.request({"op": "subscribe", "req_id": "s2", "channels": ["balances"]})["op"]
            == "subscribed"
        )
        laptop.close()
    finally:
        server.stop()


def test_the_purge_deletes_expired_refresh_tokens_and_long_dead_sessions_only(pg_url: str) -> None:
    """In batches. Deleted: a refresh token expired over a day ago, a session ended 31 days ago, one idle
    31 days with no unexpired token. Kept: a token expired an hour ago, a live session's tokens, a session
    ended 29 days ago, an old session that still holds an unexpired token."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        row = conn.execute(
            "INSERT INTO accounts (email, password_hash) VALUES (%s, 'x') RETURNING id",
            (f"purge-{time.time_ns()}@example.com",),
        ).fetchone()
        assert row is not None
        account, tag = row[0], f"p{time.time_ns()}"
        sessions = {  # id: (ended_at, last_used_at)
            "live": ("NULL", "now()"),
            "ended31": ("now() - interval '31 days'", "now() - interval '31 days'"),
            "ended29": ("now() - interval '29 days'", "now() - interval '29 days'"),
            "idle31": ("NULL", "now() - interval '31 days'"),
            "old_but_held": ("NULL", "now() - interval '31 days'"),
        }
        for sid, (ended, used) in sessions.items():
            conn.execute(
                "INSERT INTO sessions (id, account_id, ended_at, last_used_at) "
                f"VALUES (%s, %s, {ended}, {used})",
                (f"{tag}-{sid}", account),
            )
        tokens = {  # jti: (session, expires_at)
            "expired2d": ("live", "now() - interval '2 days'"),
            "expired1h": ("live", "now() - interval '1 hour'"),
            "current": ("live", "now() + interval '7 days'"),
            "held": ("old_but_held", "now() + interval '1 day'"),
            "idle": ("idle31", "now() - interval '24 days'"),
        }
        for jti, (sid, expires) in tokens.items():
            conn.execute(
                "INSERT INTO refresh_tokens (jti, account_id, session_id, expires_at) "
                f"VALUES (%s, %s, %s, {expires})",
                (f"{tag}-{jti}", account, f"{tag}-{sid}"),
            )
        purged = purge_sessions(conn, batch=1)  # one row a transaction: the batches loop
        left_sessions = {
            r[0].removeprefix(f"{tag}-")
            for r in conn.execute("SELECT id FROM sessions WHERE account_id = %s", (account,)).fetchall()
        }
        left_tokens = {
            r[0].removeprefix(f"{tag}-")
            for r in conn.execute(
                "SELECT jti FROM refresh_tokens WHERE account_id = %s", (account,)
            ).fetchall()
        }
    assert left_sessions == {"live", "ended29", "old_but_held"}
    assert left_tokens == {"expired1h", "current", "held"}
    assert purged[0] >= 2 and purged[1] >= 2  # (other tests' rows may be purged too)


def _ceiling_client(
    redis_url: str, pg_url: str, monkeypatch: pytest.MonkeyPatch, email_all: int
) -> AsyncTestClient[Litestar]:
    """An app whose logins come from the address in header `x-test-ip`, with the email's all-address ceiling
    (`login_email_all`) at `email_all` a minute and the other login limits out of the way."""
    monkeypatch.setattr(routes_auth, "client_ip", lambda req: req.headers.get("x-test-ip", "testclient"))
    seed(redis_url)
    limits = RateLimits(
        login_email=RateLimit(100, 60),
        login_email_all=RateLimit(email_all, 60),
        login_ip=RateLimit(1000, 60),
        register_ip=RateLimit(100, 60),
    )
    return AsyncTestClient(create_app(make_settings(redis_url, pg_url, rate_limits=limits)))


async def _registered(client: AsyncTestClient[Litestar], prefix: str) -> str:
    email = f"{prefix}-{time.time_ns()}@example.com"
    r = await client.post("/api/auth/register", json={"email": email, "password": PASSWORD})
    assert r.is_success, r.text
    return email


async def _login_from(
    client: AsyncTestClient[Litestar], email: str, ip: str, password: str = PASSWORD
) -> httpx.Response:
    body = {"email": email, "password": password}
    return await client.post("/api/auth/login", json=body, headers={"x-test-ip": ip})


async def test_an_address_the_owner_signed_in_from_still_logs_in_while_the_email_is_guessed_from_many(
    redis_url: str, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`login_email_all` is spent by guesses from many addresses; a login from an address this account
    signed in from before still succeeds, while a new address (right password or not) gets 429."""
    async with _ceiling_client(redis_url, pg_url, monkeypatch, email_all=4) as client:
        email = await _registered(client, "owner")

        async def login_from(ip: str, password: str) -> int:
            return (await _login_from(client, email, ip, password)).status_code

        assert await login_from("10.0.0.1", PASSWORD) == 200  # the owner's address (1 of 4)
        guesses = [await login_from(f"10.9.0.{n}", "wrong password") for n in range(4)]
        assert guesses == [401, 401, 401, 429]
        assert await login_from("10.9.0.9", PASSWORD) == 429  # a new address: the ceiling holds
        assert await login_from("10.0.0.1", PASSWORD) == 200  # the owner's: known, let through
        assert await login_from("10.0.0.1", "wrong password") == 401  # (a wrong password is still wrong)


async def test_log_out_all_other_devices_ends_every_session_but_the_askers(
    client: AsyncTestClient[Litestar], alice: User, bob: User, app: Litestar
) -> None:
    """DELETE /api/auth/sessions from the laptop ends the other two logins (refresh and access tokens) and
    keeps the laptop's; bob's session is untouched. A token of no session (issued before sessions) is 401
    and ends nothing."""
    tokens: TokenService = app.state.tokens
    phone, tablet = await _login(client, alice, "phone"), await _login(client, alice, "tablet")
    r = await client.delete(
        "/api/auth/sessions", headers={"Authorization": f"Bearer {tokens.issue_access(alice.id)}"}
    )
    assert r.status_code == 401 and error_code(r) == "INVALID_TOKEN"
    assert await status_of(client, phone.access_token) == (True, True)

    r = await client.delete("/api/auth/sessions", headers=alice.headers)
    assert r.status_code == 200 and r.json() == {"account_id": alice.id, "sessions_ended": 2}
    for other in (phone, tablet):
        assert await status_of(client, other.access_token) == (False, False)
        assert await _refresh(client, other.refresh_token) == 401
    assert [s["id"] for s in await _sessions(client, alice)] == [_sid(tokens, alice)]
    assert await status_of(client, bob.access_token) == (True, True)


async def test_a_cookie_login_ends_the_session_of_the_cookie_it_replaces(
    client: AsyncTestClient[Litestar], alice: User, app: Litestar
) -> None:
    """A browser that logs in again (another tab, another account) replaces its refresh cookie: the session
    of the old cookie ends instead of lingering, unreachable, for a week; a body login (a bot) ends
    nothing."""
    tokens: TokenService = app.state.tokens
    first = await client.post(
        "/api/auth/login", json={"email": alice.email, "password": PASSWORD, "refresh_cookie": True}
    )
    old_sid = tokens.decode_access_claims(first.json()["access_token"]).sid
    second = await client.post(
        "/api/auth/login", json={"email": alice.email, "password": PASSWORD, "refresh_cookie": True}
    )
    new_sid = tokens.decode_access_claims(second.json()["access_token"]).sid
    listed = {s["id"] for s in await _sessions(client, alice)}
    assert new_sid in listed and old_sid not in listed and _sid(tokens, alice) in listed
    assert await status_of(client, first.json()["access_token"]) == (False, False)


async def _own_pool(pg_url: str) -> AsyncConnectionPool:
    """A pool on this test's event loop (the app's services live on the test client's loop)."""
    pool = AsyncConnectionPool(pg_url, min_size=1, max_size=2, open=False)
    await pool.open()
    return pool


async def _no_revoke(account_id: int, sids: list[str]) -> None:
    return None


async def test_a_login_that_checked_a_password_reset_meanwhile_is_refused(
    client: AsyncTestClient[Litestar], alice: User, pg_url: str
) -> None:
    """The session is stored only if the password is still the one the login verified: a reset that lands
    between the check and the store wins (no session, no token survives it)."""
    with psycopg.connect(pg_url) as conn:
        row = conn.execute("SELECT password_hash FROM accounts WHERE id = %s", (alice.id,)).fetchone()
    assert row is not None
    pool = await _own_pool(pg_url)
    try:
        sessions = accounts.Sessions(pool, _no_revoke, 960)
        expires = int(time.time()) + 60
        assert not await sessions.start("stale-1", alice.id, "not-the-hash", "j-stale-1", expires, "", "")
        assert await sessions.start("fresh-1", alice.id, row[0], "j-fresh-1", expires, "", "")
    finally:
        await pool.close()
    with psycopg.connect(pg_url) as conn:
        stored = {r[0] for r in conn.execute("SELECT id FROM sessions WHERE account_id = %s", (alice.id,))}
    assert "fresh-1" in stored and "stale-1" not in stored


async def test_a_session_ends_only_together_with_its_revocation(
    client: AsyncTestClient[Litestar], alice: User, app: Litestar, pg_url: str
) -> None:
    """The revocation is written before the session's end commits: when it cannot be written, the session
    stays live (its tokens work everywhere alike) and ending it again succeeds, rather than a 404 for a
    session ended in the database whose access tokens other processes still accept."""
    phone = await _login(client, alice, "phone")
    sid = _sid(app.state.tokens, phone)

    async def failing(account_id: int, sids: list[str]) -> None:
        raise RuntimeError("Redis unreachable")

    pool = await _own_pool(pg_url)
    try:
        with pytest.raises(RuntimeError):
            await accounts.Sessions(pool, failing, 960).end(alice.id, sid)
    finally:
        await pool.close()
    assert await status_of(client, phone.access_token) == (True, True)
    assert sid in {s["id"] for s in await _sessions(client, alice)}
    r = await client.delete(f"/api/auth/sessions/{sid}", headers=alice.headers)
    assert r.status_code == 204
    assert await status_of(client, phone.access_token) == (False, False)


async def test_an_account_keeps_at_most_its_live_session_cap(
    client: AsyncTestClient[Litestar], alice: User, app: Litestar, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A login beyond `MAX_LIVE_SESSIONS` ends the least recently used session (refresh and access tokens),
    so a bot that logs in on every run cannot pile sessions up."""
    monkeypatch.setattr(accounts, "MAX_LIVE_SESSIONS", 2)
    second = await _login(client, alice, "second")
    assert await status_of(client, alice.access_token) == (True, True)
    third = await _login(client, alice, "third")
    assert await status_of(client, alice.access_token) == (False, False)  # the oldest: ended
    assert await _refresh(client, alice.refresh_token) == 401
    tokens: TokenService = app.state.tokens
    assert {s["id"] for s in await _sessions(client, third)} == {_sid(tokens, second), _sid(tokens, third)}


async def test_an_ended_sessions_address_no_longer_passes_the_email_ceiling(
    redis_url: str, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only a live session makes an address known: after a logout everywhere (or a password reset), an address
    a thief signed in from is held to the email's all-address ceiling like any other."""
    async with _ceiling_client(redis_url, pg_url, monkeypatch, email_all=2) as client:
        email = await _registered(client, "ended")
        r = await _login_from(client, email, "10.6.6.6")  # 1 of 2
        assert r.status_code == 200
        bearer = {"Authorization": f"Bearer {r.json()['access_token']}"}
        r = await client.post("/api/auth/logout", json={"everywhere": True}, headers=bearer)
        assert r.status_code == 204
        assert (await _login_from(client, email, "10.7.0.1", "wrong password")).status_code == 401
        assert (await _login_from(client, email, "10.6.6.6")).status_code == 429
