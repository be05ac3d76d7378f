"""A WebSocket client that stops reading is disconnected instead of being buffered without bound."""

from __future__ import annotations

import base64
import json
import os
import socket
import time

import pytest
import redis

from exchange.api import metrics
from exchange.api.app import create_app
from exchange.api.ws import WsSettings
from exchange.api.ws.session import WS_DROPPED
from exchange.seed import seed_all
from tests.api.test_ws_support import SYMBOL, Client, LiveServer, ws_settings


def _masked_text_frame(text: str) -> bytes:
    payload = text.encode()
    mask = os.urandom(4)
    header = bytes([0x81])
    n = len(payload)
    if n < 126:
        header += bytes([0x80 | n])
    else:
        header += bytes([0x80 | 126]) + n.to_bytes(2, "big")
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def _raw_ws(port: int) -> socket.socket:
    """A hand-made WebSocket client with a tiny receive buffer, which we never read from."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    sock.sendall(_masked_text_frame(json.dumps({"op": "subscribe", "channels": [f"trades:{SYMBOL}"]})))
    return sock


def _wait(pred, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


@pytest.mark.parametrize(
    ("ws", "limits", "reasons"),
    [
        ("auto", WsSettings(buffer_bytes=64 * 1024), ("buffer_full",)),
        ("websockets", WsSettings(queue_size=20, send_timeout_s=2.0), ("queue_full", "send_stalled")),
    ],
    ids=["direct-write", "asgi-queue"],
)
def test_a_client_that_does_not_read_is_disconnected_and_others_keep_working(
    redis_url, pg_url, ws, limits, reasons
):
    """Under uvicorn's default protocol frames go straight to the socket and a client is dropped once its
    unread bytes pass `buffer_bytes`; on the queued ASGI path (another protocol) once its queue fills or a
    send stalls. Either way the server stays healthy."""
    seed_all(redis_url)
    app = create_app(ws_settings(redis_url, pg_url))
    app.state.ws_settings = limits
    server = LiveServer(app, ws=ws).start()
    pub = redis.Redis.from_url(redis_url, protocol=2)

    def dropped_total() -> float:
        return sum(WS_DROPPED.value(reason) for reason in reasons)

    try:
        baseline = metrics.WS_CLIENTS.value()
        dropped = dropped_total()
        sock = _raw_ws(server.port)
        assert _wait(lambda: metrics.WS_CLIENTS.value() == baseline + 1, 5)
        assert _wait(lambda: pub.pubsub_numsub(f"trades:{SYMBOL}")[0][1] == 1, 5)
        batch = json.dumps(
            [
                {"id": i, "price": 6_000_000 + i, "qty": 100, "side": "buy", "ts": 1_700_000_000_000}
                for i in range(200)
            ]
        )
        for _ in range(600):  # ~10 MB of frames, far beyond socket buffers and either bound
            pub.publish(f"trades:{SYMBOL}", batch)
            if metrics.WS_CLIENTS.value() == baseline:
                break
        assert _wait(lambda: metrics.WS_CLIENTS.value() == baseline, 15), "slow client still connected"
        assert dropped_total() == dropped + 1
        # the server released its Redis subscription with the client
        assert _wait(lambda: pub.pubsub_numsub(f"trades:{SYMBOL}")[0][1] == 0, 5)
        # the socket reaches EOF once we drain it: the server closed it
        sock.settimeout(10)
        closed = False
        try:
            while sock.recv(1 << 16):
                pass
            closed = True
        except ConnectionResetError:
            closed = True
        assert closed
        sock.close()
        # a well-behaved client is still served
        ok = Client(server.ws_url)
        ok.send({"op": "ping"})
        assert ok.op("pong")["op"] == "pong"
        ok.close()
    finally:
        pub.close()
        server.stop()


def test_the_server_sends_heartbeats(redis_url, pg_url):
    """With a short interval the server pings idle clients with `{"op": "ping", "ts"}`."""
    seed_all(redis_url)
    app = create_app(ws_settings(redis_url, pg_url))
    app.state.ws_settings = WsSettings(ping_interval_s=0.2)
    server = LiveServer(app).start()
    try:
        c = Client(server.ws_url)
        ping = c.op("ping", timeout=3)
        assert isinstance(ping["ts"], int) and ping["ts"] > 1_600_000_000_000
        c.close()
    finally:
        server.stop()
