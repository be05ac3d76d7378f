"""The bound on request heads (exchange.api.httpproto): uvicorn's httptools protocol buffered any header
size (a 64 MiB header got a 200, and stalled the process); with `BoundedHttpToolsProtocol` a head above
16 KiB gets 431 HEADERS_TOO_LARGE and a closed connection, while ordinary requests, keep-alive and the
WebSocket upgrade work as before."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import httpx
import yaml
from websockets.sync.client import connect

from exchange.api.app import create_app
from exchange.api.httpproto import HTTP_PROTOCOL, MAX_HEAD_BYTES
from exchange.api.settings import Settings
from tests.api.test_ws_support import LiveServer

ROOT = Path(__file__).resolve().parents[2]


def _serve(settings: Settings) -> LiveServer:
    live = LiveServer(create_app(settings))
    live.server.config.http = HTTP_PROTOCOL  # as `exchange up` and docker-compose run it
    return live.start()


def _raw_answer(port: int, request: bytes) -> bytes:
    """Send `request` in 4 KiB pieces (stopping if the server closes) and read until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        try:
            for i in range(0, len(request), 4096):
                sock.sendall(request[i : i + 4096])
        except (BrokenPipeError, ConnectionResetError):
            pass  # closed on us mid-send: the answer is already there
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except ConnectionResetError:
            pass
    return b"".join(chunks)


def test_a_head_above_the_bound_gets_431_and_a_closed_connection(api_settings: Settings) -> None:
    """A 1 MiB header: 431 with the error envelope and the common headers, the connection closed before
    the rest is read; a header just under the bound, keep-alive and a WebSocket still work."""
    live = _serve(api_settings)
    try:
        big = b"GET /healthz HTTP/1.1\r\nhost: x\r\nx-a: " + b"a" * (1 << 20) + b"\r\n\r\n"
        answer = _raw_answer(live.port, big)
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 431 "), answer[:200]
        assert b"x-content-type-options: nosniff" in head and b"connection: close" in head
        assert json.loads(body)["error"]["code"] == "HEADERS_TOO_LARGE"
        # heads that end within the bound's reach are counted exactly: a long URL, a POST with its body, a
        # WebSocket upgrade (none of them reaches the app)
        pad = b"p" * 20000
        for request in (
            b"GET /" + pad + b" HTTP/1.1\r\nhost: x\r\n\r\n",
            b"POST /api/orders HTTP/1.1\r\nhost: x\r\nx-pad: " + pad + b"\r\ncontent-length: 2\r\n\r\n{}",
            b"GET /ws HTTP/1.1\r\nhost: x\r\nconnection: Upgrade\r\nupgrade: websocket\r\n"
            b"sec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nx-pad: "
            + pad
            + b"\r\n\r\n",
        ):
            assert _raw_answer(live.port, request).startswith(b"HTTP/1.1 431 "), request[:60]
        with httpx.Client(base_url=live.http_url, timeout=10) as http:
            fine = {"x-a": "a" * (MAX_HEAD_BYTES - 1024)}
            assert [http.get("/healthz", headers=fine).status_code for _ in range(3)] == [200, 200, 200]
        with connect(live.ws_url, open_timeout=10) as ws:
            ws.send(json.dumps({"op": "ping"}))
            assert "pong" in str(ws.recv(timeout=10))
    finally:
        live.stop()


def test_exchange_up_and_docker_compose_run_the_bounded_protocol() -> None:
    """Both ways of running the API name the protocol (plain `uvicorn` would not bound heads)."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    command = " ".join(compose["services"]["api"]["command"])
    assert f"--http {HTTP_PROTOCOL}" in command
    stack = (ROOT / "exchange" / "stack.py").read_text()
    assert '"--http", HTTP_PROTOCOL' in stack
