"""The hub's own pub/sub connection (`exchange.api.pubsub`) and the hub on it, against a real Redis: it
survives its connection being killed under subscribe churn, replaces a silent one, and pauses reading while
its handler lags."""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket

import pytest
import redis.asyncio as aioredis

from exchange.api import pubsub
from exchange.api.hub import Delivery, Hub, Topic
from exchange.api.pubsub import PubSubConnection


class PlainTopic(Topic):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.redis_channel = name

    async def convert(self, payload: bytes) -> list[Delivery]:
        return [Delivery(payload.decode())]


class Sink:
    def __init__(self) -> None:
        self.got: list[str] = []

    def deliver(self, topic: str, delivery: Delivery) -> None:
        if not delivery.resync:
            self.got.append(delivery.text)


async def _topic(name: str) -> Topic:
    return PlainTopic(name)


@pytest.fixture
async def pub(redis_url: str):
    client = aioredis.Redis.from_url(redis_url, protocol=2)
    yield client
    await client.aclose()


async def test_the_hub_still_delivers_after_its_connection_is_killed_again_and_again_under_subscribe_churn(
    redis_url, pub
):
    """Sessions subscribing and leaving while Redis drops the hub's connection every few hundred ms: every
    subscribe is answered (confirmed or timed out, never stuck), no unsubscribe fails, and afterwards each
    channel delivers again. (With redis-py's PubSub an unsubscribe here could fail with "read() called while
    another coroutine is already waiting for incoming data": it reconnected from the caller's task.)"""
    hub = Hub.from_url(redis_url)
    await hub.start()
    stop = asyncio.Event()

    async def kill() -> None:
        while not stop.is_set():
            await asyncio.sleep(random.uniform(0.1, 0.3))
            await pub.execute_command("CLIENT", "KILL", "TYPE", "pubsub")

    async def publish() -> None:
        while not stop.is_set():
            await pub.publish(f"churn:{random.randrange(4)}", "noise")
            await asyncio.sleep(0.002)

    async def churn() -> None:
        sink = Sink()
        until = asyncio.get_running_loop().time() + 2.5  # about a dozen kills
        while asyncio.get_running_loop().time() < until:
            name = f"churn:{random.randrange(4)}"
            # a confirmation lost with its connection times out: the session answers UNAVAILABLE
            with contextlib.suppress(TimeoutError):
                await hub.subscribe(name, sink, lambda name=name: _topic(name))
            await asyncio.sleep(random.uniform(0, 0.02))
            await hub.unsubscribe(name, sink)

    background = [asyncio.create_task(kill()), asyncio.create_task(publish())]
    try:
        async with asyncio.timeout(60):
            await asyncio.gather(*(churn() for _ in range(12)))
        stop.set()
        await asyncio.gather(*background)
        assert hub.connections > 3  # it was really cut off, several times
        sinks = {f"churn:{i}": Sink() for i in range(4)}
        for name, sink in sinks.items():
            await hub.subscribe(name, sink, lambda name=name: _topic(name))
        for name in sinks:
            await pub.publish(name, f"after {name}")
        async with asyncio.timeout(5):
            while any(f"after {name}" not in sink.got for name, sink in sinks.items()):
                await asyncio.sleep(0.01)
        assert hub.redis_channels == set(sinks)
    finally:
        stop.set()
        for task in background:
            task.cancel()
        await hub.stop()


async def test_a_connection_that_goes_silent_is_pinged_then_replaced() -> None:
    """A peer that takes the connection and never answers (no reset, no data): after a PING and another
    silent wait the connection is dropped and a new one made, which subscribes every channel again."""
    seen: list[bytes] = []
    accepted = asyncio.Event()

    async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.set()
        while data := await reader.read(1024):
            seen.append(data)
        writer.close()

    server = await asyncio.start_server(mute, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]

    async def ignore(kind: bytes, channel: bytes, data: object) -> None:
        return None

    conn = PubSubConnection(ignore, port=port, idle_s=0.2)
    conn.subscribe("book:X")
    task = asyncio.create_task(conn.run())
    try:
        async with asyncio.timeout(10):
            while b"".join(seen).count(b"book:X") < 2:  # subscribed on the first connection and the second
                await asyncio.sleep(0.05)
        assert conn.connections >= 2
        assert b"PING" in b"".join(seen)
    finally:
        task.cancel()
        server.close()
        await server.wait_closed()


async def test_reading_pauses_while_the_handler_lags_and_no_message_is_lost(redis_url, pub, monkeypatch):
    """More messages waiting than MAX_INBOX: the connection stops reading (Redis keeps them) until the
    handler catches up; every message is handled, in order."""
    monkeypatch.setattr(pubsub, "MAX_INBOX", 10)
    release = asyncio.Event()
    handled: list[bytes] = []

    async def slow(kind: bytes, channel: bytes, data: object) -> None:
        if kind == b"message":
            await release.wait()
            assert isinstance(data, bytes)
            handled.append(data)

    conn = PubSubConnection.from_url(redis_url, slow)
    conn.subscribe("lag")
    task = asyncio.create_task(conn.run())
    try:
        async with asyncio.timeout(5):
            while int((await pub.pubsub_numsub("lag"))[0][1]) < 1:
                await asyncio.sleep(0.02)
        for i in range(200):
            await pub.publish("lag", str(i))
        paused = False
        async with asyncio.timeout(5):
            while not paused:
                paused = conn._proto is not None and conn._proto.paused
                await asyncio.sleep(0.01)
        assert len(conn.inbox) <= 200
        release.set()
        async with asyncio.timeout(5):
            while len(handled) < 200:
                await asyncio.sleep(0.01)
        assert handled == [str(i).encode() for i in range(200)]
        assert conn._proto is not None and not conn._proto.paused
    finally:
        task.cancel()


def test_a_refused_connection_is_tried_again_with_backoff() -> None:
    """Nothing listening: `run` keeps trying (it never gives up the live data) and connects once a server
    is there."""

    async def scenario() -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]

        async def ignore(kind: bytes, channel: bytes, data: object) -> None:
            return None

        conn = PubSubConnection(ignore, port=port)
        conn.subscribe("later")
        task = asyncio.create_task(conn.run())
        try:
            await asyncio.sleep(0.5)
            assert conn.connections == 0
            got = asyncio.Event()

            async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
                if b"later" in await reader.read(1024):
                    got.set()
                writer.close()

            server = await asyncio.start_server(accept, "127.0.0.1", port)
            try:
                async with asyncio.timeout(10):
                    await got.wait()
                assert conn.connections >= 1
            finally:
                server.close()
        finally:
            task.cancel()

    asyncio.run(scenario())


async def test_close_ends_the_connection_task_by_itself_while_messages_flow(redis_url, pub):
    """`close` while messages keep arriving: `run` returns on its own (no cancel needed), and the
    connection is gone from Redis."""
    got = asyncio.Event()

    async def note(kind: bytes, channel: bytes, data: object) -> None:
        if kind == b"message":
            got.set()

    conn = PubSubConnection.from_url(redis_url, note)
    conn.subscribe("flow")
    task = asyncio.create_task(conn.run())
    stop = asyncio.Event()

    async def publish() -> None:
        while not stop.is_set():
            await pub.publish("flow", "m")
            await asyncio.sleep(0.001)

    publisher = asyncio.create_task(publish())
    try:
        async with asyncio.timeout(5):
            await got.wait()
        conn.close()
        async with asyncio.timeout(2):
            await task
        assert not task.cancelled() and not conn.connected
        async with asyncio.timeout(3):
            while int((await pub.pubsub_numsub("flow"))[0][1]) != 0:
                await asyncio.sleep(0.02)
    finally:
        stop.set()
        await publisher
        task.cancel()
