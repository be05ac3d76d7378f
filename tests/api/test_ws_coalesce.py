"""Fan-out coalescing: book, trades and candles topics send at most one frame per channel per window."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import redis.asyncio as aioredis

from exchange.api.convert import MarketCache
from exchange.api.hub import Delivery, Hub
from exchange.api.ws.topics import BookTopic, TradesTopic, parse_channel
from exchange.engine.client import AsyncEngine

SYMBOL = "BTC-USDT"
WINDOW_S = 0.3


class Sink:
    def __init__(self) -> None:
        self.got: list[Delivery] = []

    def deliver(self, topic: str, delivery: Delivery) -> None:
        self.got.append(delivery)

    def frames(self) -> list[dict[str, Any]]:
        return [json.loads(d.text) for d in self.got]


@pytest.fixture
async def setup(redis_url: str):
    from exchange.seed import seed_all

    seed_all(redis_url)
    hub = Hub.from_url(redis_url)
    await hub.start()
    pub = aioredis.Redis.from_url(redis_url, protocol=2)
    markets = MarketCache(AsyncEngine(redis_url))
    yield hub, pub, markets
    await pub.aclose()
    await hub.stop()


async def _topic(topic: Any) -> Any:
    return topic


def book_msg(seq: int, bids: list[list[int]], asks: list[list[int]] | None = None) -> str:
    return json.dumps({"seq": seq, "bids": bids, "asks": asks or []})


async def align_to_window_start() -> None:
    """Sleep to just after a window boundary (windows are aligned on the loop clock)."""
    now = asyncio.get_running_loop().time()
    await asyncio.sleep(WINDOW_S - now % WINDOW_S + 0.01)


async def wait_until(cond: Any, timeout: float = 3.0) -> None:
    async with asyncio.timeout(timeout):
        while not cond():
            await asyncio.sleep(0.01)


async def test_book_updates_in_one_window_merge_into_one_frame_with_first_seq(setup) -> None:
    """Updates inside a window leave as one frame `first_seq..seq`, the last quantity of a level winning."""
    hub, pub, markets = setup
    sink = Sink()
    channel = parse_channel(f"book:{SYMBOL}")
    await hub.subscribe(channel.name, sink, lambda: _topic(BookTopic(channel, markets, WINDOW_S)))
    await align_to_window_start()
    await pub.publish(f"book:{SYMBOL}", book_msg(10, [[6_000_000, 100]]))
    for seq, qty in ((11, 200), (12, 300)):
        await pub.publish(f"book:{SYMBOL}", book_msg(seq, [[6_000_000, qty]], [[6_100_000, seq]]))
    await pub.publish(f"book:{SYMBOL}", book_msg(13, [[5_900_000, 0]]))
    await asyncio.sleep(WINDOW_S / 4)
    assert sink.got == [], "updates wait for the end of the window"
    await wait_until(lambda: len(sink.got) == 1)
    (frame,) = sink.frames()
    assert frame == {
        "channel": f"book:{SYMBOL}", "type": "update", "first_seq": 10, "seq": 13,
        "bids": [["60000", "0.003"], ["59000", "0"]], "asks": [["61000", "0.00012"]],
    }  # fmt: skip
    assert sink.got[0].first_seq == 10 and sink.got[0].seq == 13


async def test_a_gap_is_never_merged_away(setup) -> None:
    """Updates 21, 22 then 25 in one window: two frames (21..22 and 25..25), so sessions see the gap."""
    hub, pub, markets = setup
    sink = Sink()
    channel = parse_channel(f"book:{SYMBOL}")
    await hub.subscribe(channel.name, sink, lambda: _topic(BookTopic(channel, markets, WINDOW_S)))
    await align_to_window_start()
    for seq in (21, 22, 25):
        await pub.publish(f"book:{SYMBOL}", book_msg(seq, [[6_000_000, seq]]))
    await wait_until(lambda: len(sink.got) == 2)
    assert [(f["first_seq"], f["seq"]) for f in sink.frames()] == [(21, 22), (25, 25)]


async def test_trades_in_one_window_arrive_as_one_list(setup) -> None:
    """Trade messages inside a window become one `trades` frame listing every trade in order."""
    hub, pub, markets = setup
    sink = Sink()
    channel = parse_channel(f"trades:{SYMBOL}")
    await hub.subscribe(channel.name, sink, lambda: _topic(TradesTopic(channel, markets, WINDOW_S)))

    def trade(i: int) -> dict[str, Any]:
        return {"id": i, "price": 6_000_000, "qty": 10, "side": "buy", "ts": 1_700_000_000_000 + i}

    await align_to_window_start()
    await pub.publish(f"trades:{SYMBOL}", json.dumps([trade(1)]))
    await pub.publish(f"trades:{SYMBOL}", json.dumps([trade(2), trade(3)]))
    await pub.publish(f"trades:{SYMBOL}", json.dumps([trade(4)]))
    await wait_until(lambda: len(sink.got) == 1)
    await asyncio.sleep(WINDOW_S * 1.5)
    frames = sink.frames()
    assert len(frames) == 1
    assert [t["id"] for t in frames[0]["data"]] == [1, 2, 3, 4]
    assert frames[0]["data"][0]["price"] == "60000"
