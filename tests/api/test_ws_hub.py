"""The per-process pub/sub hub against a real Redis: one connection, refcounted channels, fan-out."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from exchange.api.hub import Delivery, Hub, Topic


class EchoTopic(Topic):
    """Test topic: upper-cases each Redis message."""

    def __init__(self, name: str, channel: str) -> None:
        super().__init__(name)
        self.redis_channel = channel
        self.converted = 0

    async def convert(self, payload: bytes) -> list[Delivery]:
        self.converted += 1
        return [Delivery(payload.decode().upper())]


class Collector:
    def __init__(self) -> None:
        self.got: list[tuple[str, str]] = []
        self.event = asyncio.Event()

    def deliver(self, topic: str, delivery: Delivery) -> None:
        self.got.append((topic, delivery.text))
        self.event.set()

    async def wait_for(self, n: int, timeout: float = 3.0) -> None:
        async with asyncio.timeout(timeout):
            while len(self.got) < n:
                self.event.clear()
                await self.event.wait()


async def _numsub(client: aioredis.Redis, channel: str) -> int:
    result = await client.pubsub_numsub(channel)
    return int(result[0][1])


@pytest.fixture
async def pub(redis_url: str):
    client = aioredis.Redis.from_url(redis_url, protocol=2)
    yield client
    await client.aclose()


async def test_a_message_is_converted_once_and_reaches_every_local_subscriber(redis_url, pub):
    """One Redis message -> one conversion -> the same frame for every subscriber of the topic."""
    hub = Hub.from_url(redis_url)
    await hub.start()
    try:
        a, b = Collector(), Collector()
        topic = EchoTopic("t:x", "chan:x")
        await hub.subscribe("t:x", a, lambda: _ready(topic))
        await hub.subscribe("t:x", b, lambda: _ready(EchoTopic("t:x", "chan:x")))
        assert await _numsub(pub, "chan:x") == 1
        await pub.publish("chan:x", "hello")
        await a.wait_for(1)
        await b.wait_for(1)
        assert a.got == b.got == [("t:x", "HELLO")]
        assert topic.converted == 1
    finally:
        await hub.stop()


async def _ready(topic: Topic) -> Topic:
    return topic


async def test_topics_sharing_a_redis_channel_hold_one_subscription_until_the_last_leaves(redis_url, pub):
    """Two topics on one Redis channel: subscribed once; unsubscribed only when both are gone."""
    hub = Hub.from_url(redis_url)
    await hub.start()
    try:
        a, b = Collector(), Collector()
        await hub.subscribe("one", a, lambda: _ready(EchoTopic("one", "shared")))
        await hub.subscribe("two", b, lambda: _ready(EchoTopic("two", "shared")))
        assert hub.redis_channels == {"shared"}
        await pub.publish("shared", "m")
        await a.wait_for(1)
        await b.wait_for(1)
        assert a.got == [("one", "M")] and b.got == [("two", "M")]
        await hub.unsubscribe("one", a)
        assert hub.redis_channels == {"shared"}
        await hub.unsubscribe("two", b)
        assert hub.redis_channels == set()
        async with asyncio.timeout(3):
            while await _numsub(pub, "shared") != 0:
                await asyncio.sleep(0.01)
    finally:
        await hub.stop()


async def test_a_message_published_after_subscribe_returns_is_never_missed(redis_url, pub):
    """`subscribe` returns only once Redis confirmed the channel (the book snapshot relies on it)."""
    hub = Hub.from_url(redis_url)
    await hub.start()
    try:
        for i in range(20):
            sink = Collector()
            name = f"topic{i}"
            await hub.subscribe(name, sink, lambda name=name, i=i: _ready(EchoTopic(name, f"c{i}")))
            assert await pub.publish(f"c{i}", "x") == 1
            await sink.wait_for(1)
            await hub.unsubscribe(name, sink)
    finally:
        await hub.stop()


class SlowTopic(EchoTopic):
    """A topic whose `prepare` waits until told (a snapshot read still in flight)."""

    def __init__(self, name: str, channel: str) -> None:
        super().__init__(name, channel)
        self.in_prepare = asyncio.Event()
        self.go_on = asyncio.Event()

    async def prepare(self) -> None:
        self.in_prepare.set()
        await self.go_on.wait()


async def test_a_topic_takes_the_messages_published_while_it_prepares(redis_url, pub):
    """A message published while a new topic is in `prepare` (before its first subscriber is added) is
    converted by it: the candles topic buffers such trades for its snapshot, so none goes missing."""
    hub = Hub.from_url(redis_url)
    await hub.start()
    try:
        topic = SlowTopic("slow", "chan:slow")
        task = asyncio.create_task(hub.subscribe("slow", Collector(), lambda: _ready(topic)))
        await asyncio.wait_for(topic.in_prepare.wait(), 3)
        assert await pub.publish("chan:slow", "during") == 1
        async with asyncio.timeout(3):
            while topic.converted == 0:
                await asyncio.sleep(0.01)
        topic.go_on.set()
        await asyncio.wait_for(task, 3)
    finally:
        await hub.stop()


async def test_a_topic_slow_to_prepare_holds_up_no_other_topic_and_its_own_subscribers_wait_for_it(
    redis_url, pub
):
    """Topics are created one at a time per name: while one topic's `prepare` hangs (a stalled database
    read), another topic, even one on the same Redis channel, subscribes and delivers at once; a second
    subscriber of the slow topic waits until it is ready and then shares it."""
    hub = Hub.from_url(redis_url)
    await hub.start()
    try:
        slow = SlowTopic("slow", "chan:shared")
        first, second = Collector(), Collector()
        creating = asyncio.create_task(hub.subscribe("slow", first, lambda: _ready(slow)))
        await asyncio.wait_for(slow.in_prepare.wait(), 3)
        joining = asyncio.create_task(hub.subscribe("slow", second, lambda: _ready(SlowTopic("slow", "x"))))
        other, fast = Collector(), Collector()
        await asyncio.wait_for(
            hub.subscribe("other", other, lambda: _ready(EchoTopic("other", "chan:other"))), 1
        )
        await asyncio.wait_for(
            hub.subscribe("fast", fast, lambda: _ready(EchoTopic("fast", "chan:shared"))), 1
        )
        assert await pub.publish("chan:other", "o") == 1
        assert await pub.publish("chan:shared", "s") == 1  # one subscription for both topics of the channel
        await other.wait_for(1)
        await fast.wait_for(1)
        assert not creating.done() and not joining.done()
        slow.go_on.set()
        assert await asyncio.wait_for(creating, 3) is slow
        assert await asyncio.wait_for(joining, 3) is slow
        assert slow.subscribers == {first, second}
        await hub.unsubscribe("fast", fast)
        assert hub.redis_channels == {"chan:shared", "chan:other"}
        await pub.publish("chan:shared", "t")
        await second.wait_for(1)
        assert second.got == [("slow", "T")]
    finally:
        await hub.stop()


async def test_a_subscribe_racing_the_last_unsubscribe_of_its_channel_ends_subscribed(redis_url, pub):
    """The last topic of a channel leaving while a new one joins it: the UNSUBSCRIBE and SUBSCRIBE go out
    in the order they were decided, so the connection stays subscribed for the newcomer."""
    hub = Hub.from_url(redis_url)
    await hub.start()
    try:
        for i in range(20):
            old, new = Collector(), Collector()
            await hub.subscribe(f"old{i}", old, lambda i=i: _ready(EchoTopic(f"old{i}", f"race{i}")))
            joining = hub.subscribe(f"new{i}", new, lambda i=i: _ready(EchoTopic(f"new{i}", f"race{i}")))
            await asyncio.gather(hub.unsubscribe(f"old{i}", old), joining)
            assert hub.redis_channels == {f"race{i}"}
            assert await pub.publish(f"race{i}", "x") == 1
            await new.wait_for(1)
            await hub.unsubscribe(f"new{i}", new)
    finally:
        await hub.stop()


async def test_two_hubs_on_one_redis_both_deliver(redis_url, pub):
    """Two API processes (two hubs) each deliver the same published message to their own clients."""
    hubs = [Hub.from_url(redis_url), Hub.from_url(redis_url)]
    sinks = [Collector(), Collector()]
    for hub, sink in zip(hubs, sinks, strict=True):
        await hub.start()
        await hub.subscribe("t", sink, lambda: _ready(EchoTopic("t", "trades:X")))
    try:
        assert await pub.publish("trades:X", "trade") == 2
        for sink in sinks:
            await sink.wait_for(1)
            assert sink.got == [("t", "TRADE")]
    finally:
        for hub in hubs:
            await hub.stop()


async def test_a_failing_converter_or_sink_does_not_stop_the_reader(redis_url, pub):
    """A converter exception drops that message only; later messages still flow."""

    class Flaky(EchoTopic):
        async def convert(self, payload: bytes) -> list[Delivery]:
            if payload == b"boom":
                raise ValueError("bad payload")
            return await super().convert(payload)

    hub = Hub.from_url(redis_url)
    await hub.start()
    try:
        sink = Collector()
        await hub.subscribe("f", sink, lambda: _ready(Flaky("f", "flaky")))
        await pub.publish("flaky", "boom")
        await pub.publish("flaky", "ok")
        await sink.wait_for(1)
        assert sink.got == [("f", "OK")]
    finally:
        await hub.stop()


async def test_the_hub_reconnects_resubscribes_and_asks_stateful_topics_to_resync(redis_url, pub):
    """After its connection is killed the hub comes back on every channel and signals `resync`."""

    class Recorder(Collector):
        def __init__(self) -> None:
            super().__init__()
            self.resyncs = 0

        def deliver(self, topic: str, delivery: Delivery) -> None:
            if delivery.resync:
                self.resyncs += 1
                return
            super().deliver(topic, delivery)

    hub = Hub.from_url(redis_url)
    await hub.start()
    try:
        sink = Recorder()
        await hub.subscribe("book", sink, lambda: _ready(EchoTopic("book", "book:X")))
        killed = await pub.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
        assert int(killed) >= 1
        async with asyncio.timeout(10):
            while not sink.got:
                await pub.publish("book:X", "after")
                await asyncio.sleep(0.05)
        assert sink.got[0] == ("book", "AFTER")
        assert sink.resyncs >= 1
    finally:
        await hub.stop()
