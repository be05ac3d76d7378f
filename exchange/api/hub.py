"""Per-process fan-out of Redis pub/sub to local WebSocket connections.

Each API process holds exactly ONE Redis pub/sub connection (owned by `Hub`). Local clients subscribe to
*topics* (names as the WebSocket client sees them, e.g. `book:BTC-USDT`, `candles:BTC-USDT:1m`, or
`orders:17` for account 17's private `orders` channel). A topic is backed by at most one Redis channel
(several topics may share one: `trades:BTC-USDT` feeds the trades topic and every candle topic of that
market) and owns a converter that turns each Redis message into the text frame(s) clients receive, once,
whatever the number of local subscribers. The hub subscribes to a Redis channel when its first topic
appears and unsubscribes when its last topic goes away.

Topics without a Redis channel (the `tickers` topic) produce frames from their own timer task.

Coalescing: a topic with `coalesce_s > 0` (book, trades, candles) does not answer each Redis message with a
frame. `absorb` merges the message into the topic's pending state (converted to API units once per process)
and `drain` turns that state into ONE frame for every subscriber at the end of the current window. Windows
are aligned on the event loop clock (flushes at multiples of `coalesce_s`), so topics whose windows are
multiples of each other flush in the same loop iteration and a client's frames of several channels are
written back to back. At 500 subscribers x hundreds of messages a second this is what keeps the fan-out
bounded (frames per client per channel <= 1 / coalesce_s); the price is up to one window of latency.

Delivery never blocks the reader: `Sink.deliver` must be synchronous and bounded (the WebSocket session
writes the ready-made frame to its socket, or queues the text, and disconnects a client that does not read).

The connection is our own `exchange.api.pubsub.PubSubConnection`: SUBSCRIBE and UNSUBSCRIBE are written
without waiting and one task reads, reconnects and re-subscribes (redis-py's asyncio PubSub, used before,
let a command that met a dropped connection reconnect from the sender's task while the reader read).

    Hub
     ├── one PubSubConnection, its task reads (and reconnects)
     ├── topics: name -> Topic (subscribers, converter, optional timer task)
     └── channel refcounts: redis channel -> number of topics using it
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from exchange.api import metrics
from exchange.api.pubsub import PubSubConnection
from exchange.api.rawsocket import text_frame

log = logging.getLogger(__name__)

PUBSUB_MESSAGES = metrics.REGISTRY.counter(
    "exchange_ws_pubsub_messages_total", "Redis pub/sub messages received by this process's hub"
)

SUBSCRIBE_TIMEOUT_S = 5.0
TOPIC_START_S = 10.0  # the longest a new topic may take to start (subscribe and `prepare`): TimeoutError


@dataclass(frozen=True, slots=True)
class Delivery:
    """One frame for every subscriber of a topic: the text, plus the book sequence for book updates."""

    text: str
    seq: int | None = None  # book: the last update merged into this frame
    resync: bool = False  # the pub/sub connection was re-established: stateful clients must re-snapshot
    first_seq: int | None = None  # book: the first update merged into this frame (None: same as `seq`)
    data: Any = None  # book: the frame as a dict, for the rare per-session rewrite of `first_seq`
    frame: bytes = field(default=b"", repr=False)  # `text` as a WebSocket text frame, encoded once

    def __post_init__(self) -> None:
        if not self.frame and not self.resync:
            object.__setattr__(self, "frame", text_frame(self.text.encode()))


class Sink(Protocol):
    """A local subscriber (one WebSocket session)."""

    def deliver(self, topic: str, delivery: Delivery) -> None:
        """Queue `delivery` for the client without blocking."""


class Topic:
    """A local channel: a Redis channel (or a timer) and a converter to client frames.

    Subclasses override `convert` (Redis payload -> frames) and optionally `run` (a timer loop for topics
    without a Redis channel; it calls `self.publish`).
    """

    redis_channel: str | None = None
    coalesce_s = 0.0  # > 0: `absorb` + `drain` at most once per window instead of `convert`

    def __init__(self, name: str) -> None:
        self.name = name
        self.subscribers: set[Sink] = set()
        self._task: asyncio.Task[None] | None = None
        self._flush_handle: asyncio.TimerHandle | None = None

    async def convert(self, payload: bytes) -> list[Delivery]:
        """Turn one Redis message into frames (called once per message, whatever the subscriber count)."""
        raise NotImplementedError

    async def absorb(self, payload: bytes) -> None:
        """Coalescing topics: merge one Redis message into the pending state."""
        raise NotImplementedError

    def drain(self) -> Delivery | None:
        """Coalescing topics: the pending state as one frame (and reset it); None when nothing is pending."""
        return None

    def schedule(self) -> None:
        """After `absorb`: flush at the end of the current window (the next multiple of `coalesce_s`)."""
        if self._flush_handle is not None:
            return
        loop = asyncio.get_running_loop()
        at = (math.floor(loop.time() / self.coalesce_s) + 1) * self.coalesce_s
        self._flush_handle = loop.call_at(at, self._on_timer)

    def _on_timer(self) -> None:
        self._flush_handle = None
        self.flush_now()

    def flush_now(self) -> None:
        """Publish the pending state (if any) to every subscriber."""
        try:
            delivery = self.drain()
        except Exception:
            log.exception("cannot build the frame of topic %s", self.name)
            return
        if delivery is not None:
            self.publish(delivery)

    async def prepare(self) -> None:
        """Load initial state; called once the Redis channel is live (messages may already arrive)."""

    async def run(self) -> None:
        """Timer loop for topics without a Redis channel; the default does nothing."""

    async def initial(self) -> Delivery | None:
        """An optional frame for a new subscriber (e.g. the current candle bar); None for nothing."""
        return None

    def publish(self, delivery: Delivery) -> None:
        for sink in list(self.subscribers):
            try:
                sink.deliver(self.name, delivery)
            except Exception:  # a broken sink must not stop the others
                log.exception("delivery to a subscriber of %s failed", self.name)

    def start(self) -> None:
        if type(self).run is not Topic.run:
            self._task = asyncio.create_task(self._run_guarded(), name=f"topic:{self.name}")

    async def _run_guarded(self) -> None:
        while True:
            try:
                await self.run()
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("topic %s timer failed; restarting in 1 s", self.name)
                await asyncio.sleep(1.0)

    async def stop(self) -> None:
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None


TopicFactory = Callable[[], Awaitable[Topic]]


@dataclass(slots=True)
class _NameLock:
    """One topic name's lock and how many hold or await it (`Hub._guard`)."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class Hub:
    """One Redis pub/sub connection shared by every WebSocket session of this process."""

    def __init__(self, url: str) -> None:
        self._conn = PubSubConnection.from_url(url, self._handle)
        self._reader: asyncio.Task[None] | None = None
        self._topics: dict[str, Topic] = {}
        self._by_channel: dict[str, set[Topic]] = {}
        self._confirmed: dict[str, asyncio.Future[None]] = {}
        self._locks: dict[str, _NameLock] = {}  # topic name -> its lock while anyone holds or awaits it
        self._keepalive = f"hub:{uuid.uuid4().hex}"
        self.messages_in = 0  # Redis messages received (for tests/metrics)

    @classmethod
    def from_url(cls, url: str) -> Hub:
        return cls(url)

    @property
    def connections(self) -> int:
        """Pub/sub connections made so far (1 until the first reconnection)."""
        return self._conn.connections

    # lifecycle -------------------------------------------------------------------------------------
    async def start(self) -> None:
        # a channel of its own confirms that the connection works before the first WebSocket is served
        fut = self._future(self._keepalive)
        self._conn.subscribe(self._keepalive)
        self._reader = asyncio.create_task(self._conn.run(), name="hub-reader")
        await asyncio.wait_for(asyncio.shield(fut), SUBSCRIBE_TIMEOUT_S)

    async def stop(self) -> None:
        for topic in list(self._topics.values()):
            await topic.stop()
        self._topics.clear()
        self._by_channel.clear()
        self._conn.close()  # its task ends by itself; the cancel and the bounded wait are a backstop
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.wait({self._reader}, timeout=2.0)
            self._reader = None

    # subscriptions ---------------------------------------------------------------------------------
    def topic(self, name: str) -> Topic | None:
        return self._topics.get(name)

    @property
    def redis_channels(self) -> set[str]:
        return set(self._by_channel)

    async def subscribe(self, name: str, sink: Sink, factory: TopicFactory) -> Topic:
        """Add `sink` to topic `name` (created by `factory` if new). Returns once the Redis channel is live.

        Every message Redis delivers from its subscription's confirmation on reaches `sink`, some maybe
        before this returns (the sink holds them until it is ready), so a snapshot read afterwards can be
        reconciled with the updates that follow it, and nothing published after this returns is missed.
        A new topic's messages during its `prepare` reach it too (the candles topic folds them into its
        first bar).

        Topics are created one at a time per name (`_guard`), not per hub: a topic whose creation waits
        (a Redis subscription not yet confirmed, a slow `prepare`) holds up no other topic, and gives up
        (TimeoutError) after TOPIC_START_S, so its name's lock is never held for longer.
        """
        async with self._guard(name):
            topic = self._topics.get(name)
            if topic is not None:
                topic.subscribers.add(sink)
                return topic
            topic = await factory()
            self._topics[name] = topic
            topic.subscribers.add(sink)
            try:
                # bounded: this topic's other subscribers wait for it, holding the name's lock
                async with asyncio.timeout(TOPIC_START_S):
                    channel = topic.redis_channel
                    if channel is not None:
                        await self._join_channel(topic, channel)
                    await topic.prepare()
            except BaseException:
                await self._drop(topic)
                raise
            topic.start()
            return topic

    async def unsubscribe(self, name: str, sink: Sink) -> None:
        async with self._guard(name):
            topic = self._topics.get(name)
            if topic is None:
                return
            topic.subscribers.discard(sink)
            if not topic.subscribers:
                await self._drop(topic)

    @contextlib.asynccontextmanager
    async def _guard(self, name: str) -> AsyncIterator[None]:
        """Hold topic `name`'s lock (made on first use, forgotten when no one holds or waits for it)."""
        entry = self._locks.get(name)
        if entry is None:
            entry = self._locks[name] = _NameLock()
        entry.users += 1
        try:
            async with entry.lock:
                yield
        finally:
            entry.users -= 1
            if entry.users == 0:
                del self._locks[name]

    async def _join_channel(self, topic: Topic, channel: str) -> None:
        """Add `topic` to the users of `channel` and wait until Redis has confirmed the subscription: the
        first user sends SUBSCRIBE, later ones wait on the same confirmation (topics of one market share
        `trades:{SYM}`). Deciding and sending happen with no wait in between (the connection's writes are
        synchronous), so a SUBSCRIBE and the UNSUBSCRIBE of a channel's last user leave in the order their
        decisions were made and the connection ends subscribed exactly when the channel has users."""
        users = self._by_channel.setdefault(channel, set())
        users.add(topic)
        fut = self._confirmed.get(channel)
        if len(users) == 1 or fut is None:
            fut = self._future(channel)
            self._conn.subscribe(channel)
        # The reader resolves the future when Redis confirms: from then on every PUBLISH reaches us.
        try:
            await asyncio.wait_for(asyncio.shield(fut), SUBSCRIBE_TIMEOUT_S)
        except TimeoutError:
            state = "connected" if self._conn.connected else "not connected"
            log.warning(
                "Redis did not confirm SUBSCRIBE %s within %g s (%s)", channel, SUBSCRIBE_TIMEOUT_S, state
            )
            raise

    async def _drop(self, topic: Topic) -> None:
        if self._topics.get(topic.name) is topic:
            del self._topics[topic.name]
        await topic.stop()
        channel = topic.redis_channel
        if channel is None:
            return
        users = self._by_channel.get(channel, set())
        users.discard(topic)
        if not users:
            self._by_channel.pop(channel, None)
            self._confirmed.pop(channel, None)
            self._conn.unsubscribe(channel)

    async def unsubscribe_all(self, names: list[str], sink: Sink) -> None:
        for name in names:
            await self.unsubscribe(name, sink)

    def _future(self, channel: str) -> asyncio.Future[None]:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._confirmed[channel] = fut
        return fut

    # reader ----------------------------------------------------------------------------------------
    async def _handle(self, kind: bytes, raw_channel: bytes, data: Any) -> None:
        """One reply of the pub/sub connection (`PubSubConnection` calls it in order, from its task)."""
        channel = raw_channel.decode()
        if kind == b"subscribe":
            fut = self._confirmed.get(channel)
            if fut is not None and not fut.done():
                fut.set_result(None)
            elif fut is not None:
                # A second confirmation for a live channel: the connection was re-established, messages
                # may have been lost in between. Stateful subscribers (book) must take a new snapshot.
                for topic in list(self._by_channel.get(channel, ())):
                    topic.publish(Delivery(text="", resync=True))
            return
        if kind != b"message":
            return
        self.messages_in += 1
        PUBSUB_MESSAGES.inc()
        payload = data if isinstance(data, bytes) else str(data).encode()
        for topic in list(self._by_channel.get(channel, ())):
            if not topic.subscribers:
                continue
            if topic.coalesce_s > 0:
                try:
                    await topic.absorb(payload)
                except Exception:
                    log.exception("cannot absorb a message of %s into topic %s", channel, topic.name)
                    continue
                topic.schedule()
                continue
            try:
                deliveries = await topic.convert(payload)
            except Exception:
                log.exception("cannot convert a message of %s for topic %s", channel, topic.name)
                continue
            for delivery in deliveries:
                topic.publish(delivery)
