"""`POST /api/auth/password`: a new password given the current one; every other session ends, the asking
one goes on; a wrong current password, a weak new one, or no session changes nothing."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient

from exchange.api.app import create_app
from exchange.api.settings import RateLimit, RateLimits
from tests.api.conftest import PASSWORD, User, error_code, make_settings, new_email, register, seed
from tests.api.test_revocation import status_of
from tests.api.test_sessions import _login, _refresh

NEW = "a brand new passphrase"


async def _change(client: AsyncTestClient[Litestar], user: User, current: str, new: str) -> tuple[int, dict]:
    r = await client.post(
        "/api/auth/password", json={"current_password": current, "new_password": new}, headers=user.headers
    )
    return r.status_code, r.json()


async def _logs_in(client: AsyncTestClient[Litestar], email: str, password: str) -> bool:
    r = await client.post("/api/auth/login", json={"email": email, "password": password})
    assert r.status_code in (200, 401), r.text
    return r.status_code == 200


async def test_a_new_password_ends_every_other_session_and_the_asking_one_goes_on(
    client: AsyncTestClient[Litestar], alice: User
) -> None:
    """Alice, logged in on a laptop (asking) and a phone, changes her password: the answer counts the one
    other session ended; the phone's refresh and access tokens stop working at once; the laptop's access
    token still works; the old password no longer logs in, the new one does."""
    phone = await _login(client, alice, "phone")
    status, body = await _change(client, alice, PASSWORD, NEW)
    assert status == 200 and body == {"account_id": alice.id, "sessions_ended": 1}, body
    assert await status_of(client, phone.access_token) == (False, False)
    assert await _refresh(client, phone.refresh_token) == 401
    assert await status_of(client, alice.access_token) == (True, True)
    assert await _refresh(client, alice.refresh_token) == 200
    assert not await _logs_in(client, alice.email, PASSWORD)
    assert await _logs_in(client, alice.email, NEW)


async def test_a_wrong_current_password_or_a_weak_new_one_changes_nothing(
    client: AsyncTestClient[Litestar], alice: User
) -> None:
    """403 WRONG_PASSWORD for a wrong current password; 422 WEAK_PASSWORD for a common password or the
    current password again; 422 VALIDATION_ERROR for a short one or a missing field. After each, the
    password is the old one and the other session lives on."""
    phone = await _login(client, alice, "phone")
    status, body = await _change(client, alice, "not my password", NEW)
    assert status == 403 and body["error"]["code"] == "WRONG_PASSWORD", body
    for weak in ("password123", PASSWORD):
        status, body = await _change(client, alice, PASSWORD, weak)
        assert status == 422 and body["error"]["code"] == "WEAK_PASSWORD", (weak, body)
    assert body["error"]["message"] == "the new password is the current one: choose another", body
    status, body = await _change(client, alice, PASSWORD, "short")
    assert status == 422 and body["error"]["code"] == "VALIDATION_ERROR", body
    r = await client.post("/api/auth/password", json={"new_password": NEW}, headers=alice.headers)
    assert r.status_code == 422 and error_code(r) == "VALIDATION_ERROR", r.text
    assert await _logs_in(client, alice.email, PASSWORD)
    assert not await _logs_in(client, alice.email, NEW)
    assert await status_of(client, phone.access_token) == (True, True)


async def test_a_password_change_needs_a_token_of_a_session_of_the_account(
    client: AsyncTestClient[Litestar], alice: User, bob: User
) -> None:
    """Without a token: 401. Bob's token with alice's password changes bob's password check (403), never
    alice's password."""
    r = await client.post("/api/auth/password", json={"current_password": PASSWORD, "new_password": NEW})
    assert r.status_code == 401
    r = await client.post("/api/auth/password", json={})  # the token is told first, not the body
    assert r.status_code == 401, r.text
    status, body = await _change(client, bob, "wrong for bob", NEW)
    assert status == 403, body
    assert await _logs_in(client, alice.email, PASSWORD)


async def test_guessing_the_current_password_is_rate_limited(redis_url: str, pg_url: str) -> None:
    """A stolen access token cannot test passwords at will: the account's attempts share a login-sized
    limit (here 3 a minute); the 4th is 429 with Retry-After, the right password included."""
    seed(redis_url)
    limits = RateLimits(login_email=RateLimit(3, 60), login_ip=RateLimit(1000, 60))
    async with AsyncTestClient(create_app(make_settings(redis_url, pg_url, rate_limits=limits))) as client:
        user = await register(client, new_email("guess"))
        statuses = [(await _change(client, user, f"guess number {i}", NEW))[0] for i in range(3)]
        r = await client.post(
            "/api/auth/password",
            json={"current_password": PASSWORD, "new_password": NEW},
            headers=user.headers,
        )
        assert statuses == [403, 403, 403] and r.status_code == 429, (statuses, r.text)
        assert error_code(r) == "RATE_LIMITED" and int(r.headers["retry-after"]) >= 1
        assert "password changes for this account" in r.json()["error"]["message"]
