"""Security headers (exchange.api.security_headers): nosniff, no-referrer and DENY on every HTTP response,
the strict Content-Security-Policy on the terminal's, and none of it breaking /schema's CDN-hosted UI."""

from __future__ import annotations

import base64
import hashlib
import logging
import re
from pathlib import Path
from typing import cast

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from exchange.api.app import ExchangeApp, create_app
from exchange.api.security_headers import CHART_LOGO_STYLE_HASH, CSP
from exchange.api.settings import Settings
from tests.api.conftest import User, error_code, record_lean_route_decisions

FRONTEND = Path(__file__).resolve().parents[2] / "frontend"
COMMON = {"x-content-type-options": "nosniff", "referrer-policy": "no-referrer", "x-frame-options": "DENY"}
ORDER = {"symbol": "BTC-USDT", "side": "buy", "type": "limit", "price": "40000", "qty": "0.01"}


def assert_common_headers(response: httpx.Response, *, csp: bool) -> None:
    """Each common header exactly once; the terminal's CSP exactly once if `csp`, else not at all."""
    where = f"{response.request.method} {response.request.url.path} -> {response.status_code}"
    for name, value in COMMON.items():
        assert response.headers.get_list(name) == [value], (where, name)
    assert response.headers.get_list("content-security-policy") == ([CSP] if csp else []), where


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    """A stand-in for frontend/dist: an index.html and one asset."""
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><div id=root></div>")
    (tmp_path / "assets" / "app.js").write_text("console.log(1)")
    return tmp_path


def test_the_policy_is_the_strict_one() -> None:
    """The CSP allows our own origin only, no inline code (one inline style, by hash), no plugins, no
    framing, no <base>."""
    directives = dict(d.split(" ", 1) for d in CSP.split("; "))
    assert directives == {
        "default-src": "'self'",
        "script-src": "'self'",
        "style-src": f"'self' '{CHART_LOGO_STYLE_HASH}'",
        "img-src": "'self' data:",
        "connect-src": "'self'",
        "font-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'none'",
        "frame-ancestors": "'none'",
        "form-action": "'self'",
    }
    assert "unsafe" not in CSP


def test_the_chart_logo_style_hash_matches_the_bundled_chart_library() -> None:
    """The hash in the policy is that of the inline <style> text lightweight-charts creates for its
    attribution logo, in the built terminal and in the installed library (whichever are present here)."""
    bundles = [*sorted((FRONTEND / "dist" / "assets").glob("*.js"))]
    bundles.append(
        FRONTEND / "node_modules" / "lightweight-charts" / "dist" / "lightweight-charts.production.mjs"
    )
    texts = {
        found
        for bundle in bundles
        if bundle.is_file()
        for found in re.findall(r"a#tv-attr-logo\{[^\"'`]*", bundle.read_text(errors="replace"))
    }
    # `make setup` installs the frontend's packages: the library's text must be found, not assumed
    assert texts, "lightweight-charts' logo style not found in frontend/dist or frontend/node_modules"
    for text in texts:
        digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
        assert f"sha256-{digest}" == CHART_LOGO_STYLE_HASH, f"set CHART_LOGO_STYLE_HASH to sha256-{digest}"


async def test_the_terminal_gets_the_strict_csp(api_settings: Settings, dist: Path) -> None:
    """`/`, an asset and an unknown SPA path (the index.html fallback) carry the CSP and the common headers;
    an API path under the SPA catch-all answers its JSON 404 without the CSP."""
    from dataclasses import replace

    app = create_app(replace(api_settings, frontend_dist=dist))
    async with AsyncTestClient(app) as client:
        for path in ("/", "/assets/app.js", "/markets/BTC-USDT"):
            r = await client.get(path)
            assert r.status_code == 200, path
            assert_common_headers(r, csp=True)
        r = await client.get("/api/no-such-route")
        assert r.status_code == 404 and error_code(r) == "NOT_FOUND"
        assert_common_headers(r, csp=False)
        r = await client.post("/markets/BTC-USDT")  # Litestar's router: the SPA path is GET only
        assert r.status_code == 405
        assert_common_headers(r, csp=False)


async def test_head_answers_like_get_without_a_body(api_settings: Settings, dist: Path) -> None:
    """`HEAD /` (an uptime check's probe), an asset and an API read answer as GET does, same status and
    headers (the CSP and Content-Length too), with an empty body; a HEAD of an unknown API path is 404."""
    from dataclasses import replace

    app = create_app(replace(api_settings, frontend_dist=dist))
    async with AsyncTestClient(app) as client:
        for path, csp in (("/", True), ("/assets/app.js", True), ("/api/markets", False)):
            get, head = await client.get(path), await client.head(path)
            assert head.status_code == get.status_code == 200, path
            assert head.content == b"" and get.content, path
            assert head.headers["content-length"] == get.headers["content-length"], path
            assert head.headers["content-type"] == get.headers["content-type"], path
            assert_common_headers(head, csp=csp)
        assert (await client.head("/api/no-such-route")).status_code == 404


def test_head_under_uvicorn_keeps_the_connection_and_sends_no_body(api_settings: Settings) -> None:
    """Under the real server: a HEAD (a fixed-length answer, and the streamed CSV export, which has no
    Content-Length) sends headers only, no chunked framing and no body, logs no error, and the same
    keep-alive connection then answers a GET."""
    import socket

    from exchange.api.auth import TokenService
    from tests.api.test_ws_support import LiveServer

    server = LiveServer(create_app(api_settings)).start()
    token = TokenService(api_settings).issue_access(5)
    errors: list[logging.LogRecord] = []
    handler = logging.Handler(logging.ERROR)
    handler.emit = errors.append  # type: ignore[method-assign]
    logging.getLogger("uvicorn.error").addHandler(handler)
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as conn:
            reader = conn.makefile("rb")

            def ask(method: str, path: str) -> tuple[bytes, dict[str, str], bytes]:
                head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\r\n"
                conn.sendall(head.encode())
                status = reader.readline()
                headers: dict[str, str] = {}
                while (line := reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.decode().partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = b"" if method == "HEAD" else reader.read(int(headers["content-length"]))
                return status, headers, body

            for path in ("/healthz", "/api/orders/export.csv"):
                status, headers, _ = ask("HEAD", path)
                assert status.startswith(b"HTTP/1.1 200"), (path, status)
                assert "transfer-encoding" not in headers, path
            status, headers, body = ask("GET", "/healthz")  # the same connection, right after
            assert status.startswith(b"HTTP/1.1 200") and body
    finally:
        logging.getLogger("uvicorn.error").removeHandler(handler)
        server.stop()
    assert not errors, [r.getMessage() for r in errors]


async def test_api_answers_and_errors_get_the_common_headers(
    client: AsyncTestClient[Litestar], alice: User
) -> None:
    """JSON answers, handler errors (401, 422), routing errors (404, 405) and the Prometheus text all carry
    nosniff, no-referrer and DENY, and no CSP."""
    cases = [
        (await client.get("/api/markets"), 200),
        (await client.get("/api/me", headers=alice.headers), 200),
        (await client.get("/api/me"), 401),
        (await client.post("/api/auth/login", json={"email": "x@example.com"}), 422),
        (await client.get("/api/no-such-route"), 404),
        (await client.put("/api/markets"), 405),
        (await client.get("/metrics"), 200),
    ]
    for response, status in cases:
        assert response.status_code == status, response.text
        assert_common_headers(response, csp=False)


async def test_the_lean_order_route_answers_with_the_common_headers(
    app: Litestar, client: AsyncTestClient[Litestar], alice: User
) -> None:
    """`POST /api/orders` answered by the lean route (201, and a 4xx it answers itself) has the headers,
    as does one it passes on to Litestar (a chunked body)."""
    served = record_lean_route_decisions(cast(ExchangeApp, app))
    placed = await client.post("/api/orders", json=ORDER, headers=alice.headers)
    refused = await client.post("/api/orders", json={**ORDER, "symbol": "NOPE-USDT"}, headers=alice.headers)
    passed_on = await client.post("/api/orders", content=b"{", headers=alice.headers)
    assert (placed.status_code, passed_on.status_code) == (201, 400), placed.text
    assert 400 <= refused.status_code < 500
    assert served == [True, True, False]
    for response in (placed, refused, passed_on):
        assert_common_headers(response, csp=False)


async def test_schema_keeps_its_cdn_ui_without_the_strict_csp(client: AsyncTestClient[Litestar]) -> None:
    """The Scalar UI at /schema loads its script and CSS from a CDN and configures itself inline: it gets
    the common headers but not the terminal's CSP (which would block it); so does the JSON document."""
    ui = await client.get("/schema")
    assert ui.status_code == 200 and ui.headers["content-type"].startswith("text/html")
    assert "https://cdn.jsdelivr.net/" in ui.text
    assert_common_headers(ui, csp=False)
    doc = await client.get("/schema/openapi.json")
    assert doc.status_code == 200 and doc.json()["openapi"].startswith("3.1")
    assert_common_headers(doc, csp=False)


def test_under_uvicorn_each_header_reaches_the_wire_once(api_settings: Settings, dist: Path) -> None:
    """Through a real uvicorn server: the terminal, an API answer and a lean-route order each carry every
    header exactly once (no duplicate from another layer)."""
    from dataclasses import replace

    from tests.api.test_ws_support import LiveServer, engine_for, fund, token

    app = cast(ExchangeApp, create_app(replace(api_settings, frontend_dist=dist)))
    server = LiveServer(app).start()
    try:
        served = record_lean_route_decisions(app)
        fund(engine_for(str(api_settings.redis_url)), 41)
        headers = {"authorization": f"Bearer {token(api_settings, 41)}"}
        with httpx.Client(base_url=server.http_url, timeout=10) as http:
            index = http.get("/")
            markets = http.get("/api/markets")
            order = http.post("/api/orders", json=ORDER, headers=headers)
        assert (index.status_code, markets.status_code, order.status_code) == (200, 200, 201), order.text
        assert served == [True]
        assert_common_headers(index, csp=True)
        assert_common_headers(markets, csp=False)
        assert_common_headers(order, csp=False)
    finally:
        server.stop()
