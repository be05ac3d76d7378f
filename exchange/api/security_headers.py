"""Security headers: three on every HTTP response, a strict Content-Security-Policy on the terminal's.

- `SECURITY_HEADERS`, on every HTTP response (API JSON, errors, the lean `POST /api/orders`, the terminal,
  `/schema`): `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`, `X-Frame-Options: DENY`.
  `ExchangeApp` wraps the server's `send` once per HTTP request with `secure_send`, before the lean order
  route and Litestar see it, so every answer gets them, including Litestar's routing errors (404/405) and
  whatever the lean route writes itself. The wrapper appends a static tuple to the `http.response.start`
  message: about a microsecond per request, against ~450 us of API CPU per order (docs/api.md).
- `TERMINAL_HEADERS`, on what the SPA routes serve (`/`, the `index.html` fallback, `/assets/*`): `CSP`.
  The terminal keeps its tokens in localStorage, so an injected script must have nowhere to come from and
  nowhere to send them: scripts and styles only from our origin, no inline code, `connect-src 'self'`
  (CSP3 lets `'self'` match `ws:`/`wss:` on the same host and port: the terminal's `/ws`). The built app
  needs nothing looser (checked by tests/e2e/test_terminal.py): React sets `style` through the CSSOM, which
  CSP does not govern, and the one inline `<style>` (the chart's attribution logo) is allowed by its hash,
  not by 'unsafe-inline'. Not on `/schema`: its Scalar UI loads script and CSS from cdn.jsdelivr.net and runs
  an inline configuration script.

No HSTS: the stack also runs on plain http://127.0.0.1; a TLS-terminating proxy should add it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["CHART_LOGO_STYLE_HASH", "CSP", "SECURITY_HEADERS", "TERMINAL_HEADERS", "secure_send"]

SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    # same-origin calls need no Referer (auth is a bearer header; the WebSocket checks Origin, which this
    # does not touch) and the only cross-origin requests (the chart's TradingView link, /schema's CDN) need
    # not learn where the user came from
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),  # for browsers without CSP `frame-ancestors`, and for the API too
)

# lightweight-charts 5 styles its TradingView attribution logo with an inline <style> element it creates
# (text `a#tv-attr-logo{...}`); allowing exactly that text by its hash keeps 'unsafe-inline' out of
# style-src. A new text (another version of the library) is refused and reported: the logo loses its
# position and colours, tests/e2e/test_terminal.py fails, and tests/api/test_security_headers.py names the
# hash to put here.
CHART_LOGO_STYLE_HASH = "sha256-3pRED1tOXas1FXFoPb9TGCjmYe9XQsmO9OV23khV2nY="

CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        f"style-src 'self' '{CHART_LOGO_STYLE_HASH}'",
        "img-src 'self' data:",  # index.html's `<link rel="icon" href="data:,">`
        "connect-src 'self'",  # REST and the same-origin WebSocket
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    )
)

TERMINAL_HEADERS: dict[str, str] = {"content-security-policy": CSP}


def secure_send(send: Any) -> Any:
    """`send`, adding `SECURITY_HEADERS` to the response start (an HTTP scope's ASGI `send`)."""

    async def send_secured(message: Any) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", ()), *SECURITY_HEADERS]
        await send(message)

    return send_secured
