"""The frames `exchange.api.rawsocket` writes are the ones the websockets library would write."""

from __future__ import annotations

import pytest
from websockets.frames import Frame, Opcode

from exchange.api.hub import Delivery
from exchange.api.rawsocket import RawSocket, text_frame


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536, 70000])
def test_text_frame_matches_the_websockets_serializer_at_every_length_boundary(size):
    payload = ("é" * size).encode()[:size]  # multi-byte UTF-8 cut anywhere is fine: only lengths matter here
    assert text_frame(payload) == Frame(Opcode.TEXT, payload).serialize(mask=False)


def test_a_delivery_carries_its_text_encoded_once_as_a_frame():
    d = Delivery('{"channel":"trades:BTC-USDT","data":[]}')
    assert d.frame == text_frame(d.text.encode())
    assert Delivery("", resync=True).frame == b""  # a resync signal is never written


def test_no_raw_socket_without_uvicorns_sansio_protocol():
    """Litestar's test client or any other server: the session keeps the ASGI path."""
    assert RawSocket.of({}) is None
    assert RawSocket.of({"exchange.raw_send": lambda message: None}) is None
