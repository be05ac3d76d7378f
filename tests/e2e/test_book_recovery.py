"""The order book recovers by itself when its subscription is refused or its snapshot is lost: the page
never stays on "syncing…" for good. A proxy between the page and the server (Playwright's WebSocket route)
plays the server's refusal or loses the frame."""

from __future__ import annotations

import json
import re
import threading
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import Stack
from tests.e2e.test_terminal import SYMBOL

pytestmark = pytest.mark.browser

BOOK = f"book:{SYMBOL}"


class Proxy:
    """Forwards every frame between the page and the server, except what `tamper` takes over: it sees each
    frame from the page (`up`) or the server (`down`) and returns True when it handled the frame itself."""

    def __init__(self, tamper: Any) -> None:
        self.tamper = tamper
        self.lock = threading.Lock()
        self.sent: list[tuple[str, list[str]]] = []  # every (un)subscribe the page sent: op, channels

    def route(self, page_side: Any) -> None:
        server = page_side.connect_to_server()

        def up(message: str | bytes) -> None:
            frame = json.loads(message)
            if frame.get("op") in ("subscribe", "unsubscribe"):
                with self.lock:
                    self.sent.append((frame["op"], list(frame.get("channels", []))))
            if not self.tamper("up", frame, page_side):
                server.send(message)

        def down(message: str | bytes) -> None:
            if not self.tamper("down", json.loads(message), page_side):
                page_side.send(message)

        page_side.on_message(up)
        server.on_message(down)

    def open_trade(self, new_page: Any) -> Any:
        """A page on the trade page whose WebSocket goes through this proxy; returns its order book."""
        page = new_page()
        page.route_web_socket(re.compile(r"/ws$"), self.route)
        page.goto(f"/#/trade/{SYMBOL}")
        return page.get_by_test_id("order-book")

    def book_ops(self) -> list[str]:
        """The page's subscribes and unsubscribes of the book, in order."""
        with self.lock:
            return [op for op, channels in self.sent if BOOK in channels]


def test_a_rate_limited_book_subscription_is_asked_for_again_after_retry_after(
    stack: Stack, new_page: Any
) -> None:
    """The first subscribe that names the book is answered RATE_LIMITED (retry_after 1 s) and never reaches
    the server: the page asks again after the wait and the book syncs."""
    refused: list[dict[str, Any]] = []

    def refuse_the_first_book_subscribe(way: str, frame: dict[str, Any], page_side: Any) -> bool:
        if way != "up" or frame.get("op") != "subscribe" or BOOK not in frame.get("channels", []) or refused:
            return False
        refused.append(frame)
        error = {"code": "RATE_LIMITED", "message": "too many snapshots", "retry_after": 1}
        page_side.send(json.dumps({"op": "error", "req_id": frame.get("req_id"), "error": error}))
        return True

    proxy = Proxy(refuse_the_first_book_subscribe)
    book = proxy.open_trade(new_page)
    expect(book).to_have_attribute("data-synced", "1", timeout=15_000)
    # asked again by the refused request's own retry (a plain subscribe), not by the stalled book's watchdog
    assert len(refused) == 1 and proxy.book_ops() == ["subscribe", "subscribe"], proxy.sent
    expect(book.locator("[data-testid=book-asks] .book-row").first).to_be_visible()


def test_a_lost_book_snapshot_is_asked_for_again_instead_of_syncing_forever(
    stack: Stack, new_page: Any
) -> None:
    """The server's first book snapshot never reaches the page (its updates do): after a while on
    "syncing…" the page subscribes to the book again and syncs."""
    lost: list[int] = []

    def lose_the_first_snapshot(way: str, frame: dict[str, Any], page_side: Any) -> bool:
        if way == "down" and frame.get("channel") == BOOK and frame.get("type") == "snapshot" and not lost:
            lost.append(int(frame["seq"]))
            return True
        return False

    proxy = Proxy(lose_the_first_snapshot)
    book = proxy.open_trade(new_page)
    expect(book).to_have_attribute("data-synced", "0")
    expect(book).to_have_attribute("data-synced", "1", timeout=25_000)
    assert len(lost) == 1 and proxy.book_ops() == ["subscribe", "unsubscribe", "subscribe"], proxy.sent
    expect(book.locator("[data-testid=book-asks] .book-row").first).to_be_visible()


def test_going_offline_marks_the_book_stale_at_once_and_coming_back_resyncs_it(
    stack: Stack, new_page: Any
) -> None:
    """The browser loses its network: the header stops saying Live and the book says it is stale within a
    couple of seconds (not after the 45 s a silent connection is given), and back online the book is in
    sync again without waiting for the reconnect backoff."""
    page = new_page(allow_console="ERR_INTERNET_DISCONNECTED|Failed to load resource")
    page.goto(f"/#/trade/{SYMBOL}")
    book, conn = page.get_by_test_id("order-book"), page.get_by_test_id("conn-state")
    expect(book).to_have_attribute("data-synced", "1", timeout=20_000)
    expect(conn).to_have_attribute("data-state", "open")
    page.context.set_offline(True)
    expect(conn).not_to_have_attribute("data-state", "open", timeout=3_000)
    expect(book).to_have_attribute("data-synced", "0", timeout=3_000)
    expect(book).to_contain_text("stale")
    page.context.set_offline(False)
    expect(conn).to_have_attribute("data-state", "open", timeout=10_000)
    expect(book).to_have_attribute("data-synced", "1", timeout=10_000)
