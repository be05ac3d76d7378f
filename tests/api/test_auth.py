"""Registration, login, refresh rotation, logout and /api/me."""

from __future__ import annotations

import psycopg
import pytest
import redis
from litestar import Litestar
from litestar.testing import AsyncTestClient

from exchange.api.auth import hash_password_sync
from exchange.api.users_cli import create_user
from tests.api.conftest import PASSWORD, User, error_code, login, new_email, register


async def test_register_returns_201_with_the_account(client: AsyncTestClient[Litestar]) -> None:
    """Registering answers 201 with the new account (email lower-cased, not admin)."""
    r = await client.post("/api/auth/register", json={"email": "Carol@Example.COM", "password": PASSWORD})
    assert r.status_code == 201
    body = r.json()
    assert body["email"] == "carol@example.com"
    assert body["is_admin"] is False
    assert isinstance(body["id"], int) and body["id"] >= 1
    assert isinstance(body["created_at"], int)


async def test_register_twice_is_email_taken(client: AsyncTestClient[Litestar]) -> None:
    """A second registration with the same email (any case) is 409 EMAIL_TAKEN."""
    email = new_email()
    await register(client, email)
    r = await client.post("/api/auth/register", json={"email": email.upper(), "password": PASSWORD})
    assert r.status_code == 409
    assert error_code(r) == "EMAIL_TAKEN"


async def test_register_credits_demo_funds(client: AsyncTestClient[Litestar], alice: User) -> None:
    """In demo mode a new account holds the demo balances."""
    r = await client.get("/api/balances", headers=alice.headers)
    assert r.status_code == 200
    balances = {b["asset"]: b for b in r.json()}
    assert balances["USDT"] == {"asset": "USDT", "available": "100000", "held": "0"}
    assert balances["BTC"]["available"] == "2"


async def test_register_skips_a_demo_asset_whose_supply_is_exhausted(
    client: AsyncTestClient[Litestar], redis_url: str
) -> None:
    """When a demo deposit would take an asset's supply to 2^53, that asset is skipped and the account
    still gets every other demo balance."""
    r = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        r.hset("asset:MINA", "supply", str(2**53 - 10))  # as if thousands of accounts held demo MINA
        user = await register(client)
    finally:
        r.close()
    balances = {
        b["asset"]: b["available"] for b in (await client.get("/api/balances", headers=user.headers)).json()
    }
    assert balances.get("MINA", "0") == "0"
    assert balances["USDT"] == "100000" and balances["DOT"] == "2000"


async def test_register_rejects_short_password_and_unknown_fields(client: AsyncTestClient[Litestar]) -> None:
    """A too-short password and an unknown body field are 422 VALIDATION_ERROR."""
    r = await client.post("/api/auth/register", json={"email": new_email(), "password": "short"})
    assert r.status_code == 422 and error_code(r) == "VALIDATION_ERROR"
    r = await client.post(
        "/api/auth/register", json={"email": new_email(), "password": PASSWORD, "is_admin": True}
    )
    assert r.status_code == 422 and error_code(r) == "VALIDATION_ERROR"


async def test_register_refuses_passwords_guessers_try_first_and_creates_nothing(
    client: AsyncTestClient[Litestar], pg_url: str
) -> None:
    """Only spaces, one character repeated, the email or its name, or a common password: 422 WEAK_PASSWORD
    with a reason, and no account (the email stays free). `exchange user create` refuses them too."""
    email = "traderjoe." + new_email()
    for weak in (" " * 8, "aaaaaaaa", "Password1", "12345678", email, email.split("@")[0].upper() + " "):
        r = await client.post("/api/auth/register", json={"email": email, "password": weak})
        assert r.status_code == 422 and error_code(r) == "WEAK_PASSWORD", weak
        assert r.json()["error"]["message"].startswith("th"), weak
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM accounts WHERE email = %s", (email,)).fetchone() == (0,)
    with pytest.raises(ValueError, match="guessers"):
        create_user(pg_url, new_email(), "qwertyuiop")
    assert (await register(client, email)).access_token  # a good password then works


async def test_login_does_not_apply_the_password_rules(
    client: AsyncTestClient[Litestar], pg_url: str
) -> None:
    """An account whose password predates the rules still logs in with it."""
    email = new_email()
    with psycopg.connect(pg_url) as conn:
        row = (email, hash_password_sync("password"))
        conn.execute("INSERT INTO accounts (email, password_hash) VALUES (%s, %s)", row)
    r = await client.post("/api/auth/login", json={"email": email, "password": "password"})
    assert r.status_code == 200, r.text


async def test_login_with_wrong_password_is_401(client: AsyncTestClient[Litestar], alice: User) -> None:
    """A wrong password and an unknown email both answer 401 INVALID_CREDENTIALS."""
    r = await client.post("/api/auth/login", json={"email": alice.email, "password": "wrong password!"})
    assert r.status_code == 401 and error_code(r) == "INVALID_CREDENTIALS"
    r = await client.post("/api/auth/login", json={"email": new_email("nobody"), "password": PASSWORD})
    assert r.status_code == 401 and error_code(r) == "INVALID_CREDENTIALS"
    r = await client.post("/api/auth/login", json={"email": alice.email, "password": "x"})
    assert r.status_code == 401 and error_code(r) == "INVALID_CREDENTIALS"  # registration's length rule


async def test_login_returns_a_bearer_token_pair(client: AsyncTestClient[Litestar], alice: User) -> None:
    """Login answers access and refresh tokens, token_type bearer and expires_in <= 900."""
    r = await client.post("/api/auth/login", json={"email": alice.email, "password": PASSWORD})
    body = r.json()
    assert r.status_code == 200
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer"
    assert 0 < body["expires_in"] <= 900


async def test_me_returns_the_authenticated_account(client: AsyncTestClient[Litestar], alice: User) -> None:
    """GET /api/me answers the token's account; without a token it is 401."""
    r = await client.get("/api/me", headers=alice.headers)
    assert r.status_code == 200
    assert r.json()["id"] == alice.id and r.json()["email"] == alice.email
    r = await client.get("/api/me")
    assert r.status_code == 401 and error_code(r) == "UNAUTHORIZED"


async def test_refresh_rotates_and_the_old_token_stops_working(
    client: AsyncTestClient[Litestar], alice: User
) -> None:
    """A refresh returns a new pair; the used refresh token is refused afterwards."""
    r = await client.post("/api/auth/refresh", json={"refresh_token": alice.refresh_token})
    assert r.status_code == 200
    new = r.json()
    assert new["refresh_token"] != alice.refresh_token
    me = await client.get("/api/me", headers={"Authorization": f"Bearer {new['access_token']}"})
    assert me.status_code == 200 and me.json()["id"] == alice.id
    again = await client.post("/api/auth/refresh", json={"refresh_token": alice.refresh_token})
    assert again.status_code == 401 and error_code(again) == "SESSION_ENDED"


async def test_reusing_a_rotated_refresh_token_revokes_the_family(
    client: AsyncTestClient[Litestar], alice: User
) -> None:
    """Replaying an already used refresh token also revokes the token that replaced it."""
    r = await client.post("/api/auth/refresh", json={"refresh_token": alice.refresh_token})
    newer = r.json()["refresh_token"]
    await client.post("/api/auth/refresh", json={"refresh_token": alice.refresh_token})
    r = await client.post("/api/auth/refresh", json={"refresh_token": newer})
    assert r.status_code == 401 and error_code(r) == "SESSION_ENDED"


async def test_an_access_token_is_not_a_refresh_token(client: AsyncTestClient[Litestar], alice: User) -> None:
    """Presenting an access token to /refresh (and a refresh token as bearer) is 401."""
    r = await client.post("/api/auth/refresh", json={"refresh_token": alice.access_token})
    assert r.status_code == 401
    r = await client.get("/api/me", headers={"Authorization": f"Bearer {alice.refresh_token}"})
    assert r.status_code == 401


async def test_logout_with_a_refresh_token_revokes_it(client: AsyncTestClient[Litestar], alice: User) -> None:
    """After logout with a refresh token, that token no longer refreshes (other sessions still do)."""
    other = await login(client, alice.email, alice.id)
    r = await client.post("/api/auth/logout", json={"refresh_token": alice.refresh_token})
    assert r.status_code == 204
    r = await client.post("/api/auth/refresh", json={"refresh_token": alice.refresh_token})
    assert r.status_code == 401
    r = await client.post("/api/auth/refresh", json={"refresh_token": other.refresh_token})
    assert r.status_code == 200


async def test_logout_with_a_bearer_token_ends_its_own_session_and_everywhere_ends_them_all(
    client: AsyncTestClient[Litestar], alice: User
) -> None:
    """`{}` with a bearer access token ends that token's session only (a bot logging out does not log out the
    trader's browser); `{"everywhere": true}` ends every session of the account."""
    other = await login(client, alice.email, alice.id)
    third = await login(client, alice.email, alice.id)
    r = await client.post("/api/auth/logout", json={}, headers=alice.headers)
    assert r.status_code == 204
    r = await client.post("/api/auth/refresh", json={"refresh_token": alice.refresh_token})
    assert r.status_code == 401
    assert (await client.get("/api/me", headers=alice.headers)).status_code == 401
    r = await client.post("/api/auth/refresh", json={"refresh_token": other.refresh_token})
    assert r.status_code == 200, r.text  # another device's session lives on
    r = await client.post("/api/auth/logout", json={"everywhere": True}, headers=third.headers)
    assert r.status_code == 204
    for user in (other, third):
        assert (await client.get("/api/me", headers=user.headers)).status_code == 401
    r = await client.post("/api/auth/refresh", json={"refresh_token": third.refresh_token})
    assert r.status_code == 401


async def test_logout_without_a_body_is_logout_with_an_empty_object(
    client: AsyncTestClient[Litestar], alice: User
) -> None:
    """A bodyless POST (a common client habit) counts as `{}`: with a bearer token, that token's session."""
    r = await client.post("/api/auth/logout", headers=alice.headers)
    assert r.status_code == 204, r.text
    r = await client.post("/api/auth/refresh", json={"refresh_token": alice.refresh_token})
    assert r.status_code == 401
    r = await client.post("/api/auth/logout", json={"refresh_tokn": "x"}, headers=alice.headers)
    assert r.status_code == 422 and error_code(r) == "VALIDATION_ERROR"  # a body is still read strictly


async def test_logout_without_any_token_is_401(client: AsyncTestClient[Litestar]) -> None:
    """Logout with neither a refresh token nor a bearer token is 401."""
    r = await client.post("/api/auth/logout", json={})
    assert r.status_code == 401 and error_code(r) == "UNAUTHORIZED"
