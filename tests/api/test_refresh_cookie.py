"""The terminal's session: a refresh token held in an httpOnly cookie (`refresh_cookie: true` at login)."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.api.conftest import PASSWORD, User, error_code

COOKIE = "exchange_refresh"


async def cookie_login(client: AsyncTestClient[Litestar], user: User) -> dict[str, str]:
    r = await client.post(
        "/api/auth/login", json={"email": user.email, "password": PASSWORD, "refresh_cookie": True}
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


def set_cookie(headers: object) -> str:
    values = [v for k, v in headers.multi_items() if k.lower() == "set-cookie"]  # type: ignore[attr-defined]
    assert len(values) == 1, values
    return str(values[0])


async def test_a_cookie_login_sets_an_httponly_strict_cookie_and_no_body_token(
    client: AsyncTestClient[Litestar], alice: User
) -> None:
    """With refresh_cookie the refresh token is only in an HttpOnly, SameSite=Strict cookie scoped to
    /api/auth that lives as long as the token; the body has the access token alone."""
    r = await client.post(
        "/api/auth/login", json={"email": alice.email, "password": PASSWORD, "refresh_cookie": True}
    )
    assert r.status_code == 200
    assert set(r.json()) == {"access_token", "token_type", "expires_in"}
    header = set_cookie(r.headers)
    attrs = {a.strip().split("=")[0].lower(): a.strip() for a in header.split(";")}
    assert header.startswith(f"{COOKIE}=ey")
    assert "httponly" in attrs and attrs["samesite"].lower() == "samesite=strict"
    assert attrs["path"] == "Path=/api/auth"
    assert attrs["max-age"] == "Max-Age=604800"
    assert "secure" not in attrs  # plain http (a local terminal); see the https test
    me = await client.get("/api/me", headers={"Authorization": f"Bearer {r.json()['access_token']}"})
    assert me.status_code == 200 and me.json()["id"] == alice.id


async def test_a_cookie_over_https_is_secure(app: Litestar, alice: User) -> None:
    """Behind https (or a proxy that says so) the cookie is also Secure."""
    async with AsyncTestClient(app, base_url="https://testserver.local") as tls:
        r = await tls.post(
            "/api/auth/login", json={"email": alice.email, "password": PASSWORD, "refresh_cookie": True}
        )
        assert r.status_code == 200
        assert "secure" in [a.strip().lower() for a in set_cookie(r.headers).split(";")]


async def test_refresh_with_the_cookie_rotates_it(client: AsyncTestClient[Litestar], alice: User) -> None:
    """`{}` rotates the cookie's token: a new access token, a new cookie and no token in the body; the old
    cookie value stops working."""
    await cookie_login(client, alice)
    old = client.cookies[COOKIE]
    r = await client.post("/api/auth/refresh", json={}, headers={"Origin": "http://testserver.local"})
    assert r.status_code == 200, r.text
    assert set(r.json()) == {"access_token", "token_type", "expires_in"}
    new = client.cookies[COOKIE]
    assert new != old
    me = await client.get("/api/me", headers={"Authorization": f"Bearer {r.json()['access_token']}"})
    assert me.json()["id"] == alice.id
    client.cookies.clear()
    replay = await client.post("/api/auth/refresh", json={"refresh_token": old})
    assert replay.status_code == 401 and error_code(replay) == "SESSION_ENDED"


async def test_a_foreign_origin_cannot_use_the_cookie(client: AsyncTestClient[Litestar], alice: User) -> None:
    """A page of another origin that gets the cookie sent is 403 FORBIDDEN, and the token is not rotated."""
    await cookie_login(client, alice)
    token = client.cookies[COOKIE]
    for path in ("/api/auth/refresh", "/api/auth/logout"):
        r = await client.post(path, json={}, headers={"Origin": "https://evil.example"})
        assert r.status_code == 403 and error_code(r) == "FORBIDDEN", path
    assert client.cookies[COOKIE] == token
    client.cookies.clear()
    r = await client.post("/api/auth/refresh", json={"refresh_token": token})
    assert r.status_code == 200  # still the live token: neither call above used it


async def test_refresh_without_a_body_token_or_cookie_is_401(client: AsyncTestClient[Litestar]) -> None:
    """`{}` and no cookie: 401 INVALID_TOKEN."""
    r = await client.post("/api/auth/refresh", json={})
    assert r.status_code == 401 and error_code(r) == "INVALID_TOKEN"


async def test_logout_with_the_cookie_revokes_it_and_clears_it(
    client: AsyncTestClient[Litestar], alice: User
) -> None:
    """`{}` with the cookie revokes that session only (another one still refreshes) and expires the cookie,
    even though a bearer token is sent too."""
    await cookie_login(client, alice)
    token = client.cookies[COOKIE]
    r = await client.post("/api/auth/logout", json={}, headers=alice.headers)
    assert r.status_code == 204
    assert "max-age=0" in set_cookie(r.headers).lower()
    assert COOKIE not in client.cookies
    r = await client.post("/api/auth/refresh", json={"refresh_token": token})
    assert r.status_code == 401
    r = await client.post("/api/auth/refresh", json={"refresh_token": alice.refresh_token})
    assert r.status_code == 200  # alice's other (body) session was not revoked


async def test_logout_with_a_dead_cookie_still_clears_it(client: AsyncTestClient[Litestar]) -> None:
    """A garbled or expired cookie does not make logout fail: 204 and the cookie is cleared."""
    client.cookies.set(COOKIE, "not-a-token", domain="testserver.local", path="/api/auth")
    r = await client.post("/api/auth/logout", json={})
    assert r.status_code == 204
    assert "max-age=0" in set_cookie(r.headers).lower()


async def test_a_foreign_page_cannot_log_the_terminal_into_another_account(
    client: AsyncTestClient[Litestar], alice: User, bob: User
) -> None:
    """Login CSRF: a foreign page's form (text/plain, which Litestar still reads as JSON) asking for the
    cookie is 403 FORBIDDEN and sets nothing, so the victim's cookie stays hers."""
    await cookie_login(client, alice)
    mine = client.cookies[COOKIE]
    body = f'{{"email": "{bob.email}", "password": "{PASSWORD}", "refresh_cookie": true}}'
    r = await client.post(
        "/api/auth/login",
        content=body,
        headers={"Origin": "https://evil.example", "content-type": "text/plain"},
    )
    assert r.status_code == 403 and error_code(r) == "FORBIDDEN", r.text
    assert "set-cookie" not in r.headers
    assert client.cookies[COOKIE] == mine
    r = await client.post("/api/auth/refresh", json={}, headers={"Origin": "http://testserver.local"})
    me = await client.get("/api/me", headers={"Authorization": f"Bearer {r.json()['access_token']}"})
    assert me.json()["id"] == alice.id


async def test_a_body_token_moves_into_the_cookie(client: AsyncTestClient[Litestar], alice: User) -> None:
    """`{refresh_token, refresh_cookie: true}` (a session the previous terminal kept in storage) rotates the
    token and returns the new one as the cookie only; the old token stops working."""
    r = await client.post(
        "/api/auth/refresh", json={"refresh_token": alice.refresh_token, "refresh_cookie": True}
    )
    assert r.status_code == 200, r.text
    assert set(r.json()) == {"access_token", "token_type", "expires_in"}
    assert client.cookies[COOKIE].startswith("ey")
    client.cookies.clear()
    again = await client.post("/api/auth/refresh", json={"refresh_token": alice.refresh_token})
    assert again.status_code == 401
