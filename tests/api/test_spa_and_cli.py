"""The built frontend served at / with an SPA fallback, and `exchange user create`."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from exchange.api.app import create_app
from exchange.api.users_cli import create_user
from exchange.cli import main
from tests.api.conftest import PASSWORD, error_code, login, make_settings, seed


def terminal_app(redis_url: str, pg_url: str, dist: Path, assets: list[str] | None) -> Litestar:
    """An app serving a built terminal from `dist`: its index.html and, unless None, an `assets/` folder
    holding the named scripts."""
    seed(redis_url)
    (dist / "index.html").write_text("<!doctype html><div id=root></div>")
    if assets is not None:
        (dist / "assets").mkdir()
        for name in assets:
            (dist / "assets" / name).write_text("console.log(1)")
    return create_app(make_settings(redis_url, pg_url, frontend_dist=dist))


async def test_frontend_is_served_with_spa_fallback(redis_url: str, pg_url: str, tmp_path: Path) -> None:
    """/ and unknown non-API paths give index.html, assets keep their type, API paths stay JSON 404s."""
    app = terminal_app(redis_url, pg_url, tmp_path, ["app.js"])
    async with AsyncTestClient(app) as client:
        for path in ("/", "/markets/BTC-USDT", "/account/orders"):
            r = await client.get(path)
            assert r.status_code == 200 and "id=root" in r.text, path
            assert r.headers["content-type"].startswith("text/html")
        r = await client.get("/assets/app.js")
        assert r.status_code == 200 and "javascript" in r.headers["content-type"]
        r = await client.get("/assets/../../etc/passwd")
        assert "root:" not in r.text
        r = await client.get("/api/no-such-route")
        assert r.status_code == 404 and error_code(r) == "NOT_FOUND"
        assert (await client.get("/api/markets")).status_code == 200
        assert (await client.get("/healthz")).json()["status"] == "ok"


async def test_paths_that_cannot_name_a_file_get_the_terminal_page_not_a_500(
    redis_url: str, pg_url: str, tmp_path: Path
) -> None:
    """A NUL byte or a name too long for the filesystem in an SPA path is an unknown path like any other:
    index.html, for GET and HEAD (resolving such a path raised ValueError / OSError: a 500)."""
    app = terminal_app(redis_url, pg_url, tmp_path, None)
    async with AsyncTestClient(app) as client:
        for path in ("/%00", "/healthz%00", "/" + "a" * 300, "/x/" + "b" * 5000):
            r = await client.get(path)
            assert r.status_code == 200 and "id=root" in r.text, path[:40]
            head = await client.head(path)
            assert head.status_code == 200 and head.content == b"", path[:40]
        r = await client.get("/assets/x%00.js")  # no file either, but a file was asked for: 404
        assert r.status_code == 404 and error_code(r) == "NOT_FOUND"


async def test_a_missing_asset_is_404_not_the_terminal_page(
    redis_url: str, pg_url: str, tmp_path: Path
) -> None:
    """After an upgrade a cached index.html asks for bundles that are gone: `/assets/index-OLD123.js` (or
    any missing file) must be 404, not index.html with 200 (a MIME error and a blank terminal), for GET and
    HEAD; page paths keep the SPA fallback."""
    app = terminal_app(redis_url, pg_url, tmp_path, [])
    async with AsyncTestClient(app) as client:
        for path in ("/assets/index-OLD123.js", "/assets/index-OLD.css", "/assets/sub/x", "/favicon.ico"):
            r = await client.get(path)
            assert r.status_code == 404 and error_code(r) == "NOT_FOUND", path
            assert "id=root" not in r.text
            assert (await client.head(path)).status_code == 404, path
        assert (await client.get("/trade/BTC-USDT")).status_code == 200


async def test_index_html_is_revalidated_and_hashed_assets_are_cached_for_good(
    redis_url: str, pg_url: str, tmp_path: Path
) -> None:
    """`index.html` (at / and as the fallback) carries `Cache-Control: no-cache`, so a browser never keeps
    one naming old bundles; the hashed `/assets/*` are `immutable` for a year."""
    app = terminal_app(redis_url, pg_url, tmp_path, ["index-AbC123.js"])
    async with AsyncTestClient(app) as client:
        for path in ("/", "/index.html", "/trade/BTC-USDT"):
            r = await client.get(path)
            assert r.status_code == 200 and r.headers["cache-control"] == "no-cache", path
        r = await client.get("/assets/index-AbC123.js")
        assert r.status_code == 200
        assert r.headers["cache-control"] == "public, max-age=31536000, immutable"


async def test_user_create_cli_makes_an_admin_who_can_log_in(
    redis_url: str, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`exchange user create --admin` creates an admin; a generated password is printed and works; `--update`
    reports an update, not a creation."""
    assert main(["user", "create", "Root@Example.com", "--admin", "--database-url", pg_url]) == 0
    out = capsys.readouterr().out
    password = out.split("password: ", 1)[1].strip()
    with psycopg.connect(pg_url) as conn:
        row = conn.execute("SELECT email, is_admin FROM accounts WHERE email = 'root@example.com'").fetchone()
    assert row == ("root@example.com", True)
    assert out.startswith("created admin account ")
    assert main(["user", "create", "root@example.com", "--database-url", pg_url]) == 1  # exists
    # --update resets the password of the existing account, says so, and keeps its admin role
    args = ["user", "create", "root@example.com", "--update", "--database-url", pg_url]
    assert main([*args, "--password", "a new password"]) == 0
    assert capsys.readouterr().out.startswith("updated (new password) admin account ")
    password = "a new password"
    seed(redis_url)
    async with AsyncTestClient(create_app(make_settings(redis_url, pg_url))) as client:
        r = await client.post("/api/auth/login", json={"email": "root@example.com", "password": password})
        assert r.status_code == 200


def test_create_user_validates_input(pg_url: str) -> None:
    """A bad email or short password is refused before touching the database."""
    with pytest.raises(ValueError, match="email"):
        create_user(pg_url, "not-an-email", PASSWORD)
    with pytest.raises(ValueError, match="password"):
        create_user(pg_url, "x@example.com", "short")


async def test_update_resets_the_password_and_ends_the_old_sessions(redis_url: str, pg_url: str) -> None:
    """--update on an existing email sets the new password, and the refresh tokens issued under the old one
    stop working (whoever held one kept the account after a reset)."""
    create_user(pg_url, "reset@example.com", "first password")
    seed(redis_url)
    async with AsyncTestClient(create_app(make_settings(redis_url, pg_url))) as client:
        old = {"email": "reset@example.com", "password": "first password"}
        r = await client.post("/api/auth/login", json=old)
        assert r.status_code == 200
        old_refresh = r.json()["refresh_token"]
        client.cookies.clear()
        create_user(pg_url, "reset@example.com", PASSWORD, update=True)
        r = await client.post("/api/auth/refresh", json={"refresh_token": old_refresh})
        assert r.status_code == 401, r.text
        user = await login(client, "reset@example.com")
        assert user.access_token
        client.cookies.clear()
        r = await client.post("/api/auth/refresh", json={"refresh_token": user.refresh_token})
        assert r.status_code == 200  # the new password's session works
