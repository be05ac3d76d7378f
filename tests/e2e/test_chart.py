"""The price chart in headless Chromium: what it tells about the candle under the pointer."""

from __future__ import annotations

import json
import re
import time
from decimal import Decimal
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import Stack
from tests.e2e.test_terminal import SYMBOL, market, open_trade

pytestmark = pytest.mark.browser


def grouped(value: str, decimals: int) -> str:
    """A price as the terminal prints it: fixed decimals, thousands separators."""
    return f"{Decimal(value):,.{decimals}f}"


def test_the_chart_reads_out_the_candle_under_the_pointer(stack: Stack, new_page: Any) -> None:
    """Above the chart: open, high, low, close, change and volume of the latest candle, and of the candle
    under the pointer while it is over the chart, as the candles endpoint gives them."""
    page = new_page(1440, 900)
    open_trade(page)
    chart = page.get_by_test_id("chart")
    expect(chart).not_to_have_attribute("data-bars", "0", timeout=20_000)
    readout = page.get_by_test_id("chart-ohlc")
    expect(readout).to_have_text(
        re.compile(r"^O [\d,.]+ H [\d,.]+ L [\d,.]+ C [\d,.]+ [+-]?[\d.]+% V [\d,.]+$")
    )
    tick = market(stack)["tick_size"]
    decimals = len(tick.split(".")[1]) if "." in tick else 0
    # two bars at least, so that one under the pointer is an earlier, closed one (the market maker trades
    # every few seconds from the start of the session)
    expect(chart).not_to_have_attribute("data-bars", re.compile(r"^[01]$"), timeout=150_000)
    page.mouse.move(1, 1)
    latest = readout.get_attribute("data-t")
    box = chart.bounding_box()
    assert box is not None and latest
    t = latest
    for step in range(60):  # right to left over the bars until the pointer is on an earlier one
        page.mouse.move(box["x"] + box["width"] * (0.9 - step * 0.012), box["y"] + box["height"] / 2)
        page.wait_for_timeout(80)
        t = readout.get_attribute("data-t") or latest
        if t != latest:
            break
    assert t != latest, "the readout did not follow the pointer to an earlier candle"
    text = readout.inner_text()
    r = httpx.get(f"{stack.base_url}/api/markets/{SYMBOL}/candles", params={"interval": "1m"}, timeout=10)
    candle = next((c for c in r.json() if str(c["t"]) == t), None)
    assert candle is not None, (t, r.text[:200])
    for key in ("o", "h", "l", "c"):
        assert grouped(candle[key], decimals) in text, (key, candle, text)
    page.mouse.move(1, 1)  # off the chart: the latest candle again
    expect(readout).not_to_have_attribute("data-t", t)


@pytest.mark.parametrize(("width", "height"), [(1024, 768), (390, 844)])
def test_the_candle_readout_is_whole_on_a_small_laptop_and_a_phone(
    stack: Stack, new_page: Any, width: int, height: int
) -> None:
    """Where the interval buttons leave it too little room, the readout takes a line of its own, whole:
    at 1024 px it was cut after the low ("O 59,849.13 H 60,063.05 L 59,735..."), on a phone after the open.
    On a phone it shows the prices and the change (the volume bars show the volume)."""
    page = new_page(width, height)
    open_trade(page)
    readout = page.get_by_test_id("chart-ohlc")
    expect(readout).to_have_text(re.compile(r"C [\d,.]+ [+-]?[\d.]+%"), timeout=20_000)
    assert readout.evaluate("e => e.scrollWidth <= e.clientWidth"), readout.inner_text()


def test_a_refused_history_read_is_said_above_the_chart_and_tried_again(stack: Stack, new_page: Any) -> None:
    """The candle history refused (a rate limit shared by everyone behind one address) used to leave an
    empty chart without a word: the refusal's message shows above the chart, and the read is tried again
    until the chart fills."""
    page = new_page(1440, 900)
    refused_until = time.monotonic() + 3
    body = json.dumps(
        {
            "error": {
                "code": "RATE_LIMITED",
                "message": "Too many market data requests from this address (at most 1200 a minute): "
                "try again in 3 s",
            }
        }
    )

    def refuse_for_a_while(route: Any) -> None:
        if time.monotonic() < refused_until:
            route.fulfill(
                status=429, body=body, headers={"Retry-After": "3", "Content-Type": "application/json"}
            )
        else:
            route.continue_()

    page.route("**/api/markets/*/candles*", refuse_for_a_while)
    page.goto(f"/#/trade/{SYMBOL}")
    problem = page.get_by_test_id("chart-problem")
    expect(problem).to_have_text(re.compile(r"^Chart data unavailable: Too many market data requests"))
    expect(problem).to_have_count(0, timeout=30_000)  # the next try (every 10 s) read the history
    expect(page.get_by_test_id("chart")).not_to_have_attribute("data-bars", re.compile(r"^[01]$"))
    expect(page.get_by_test_id("chart-ohlc")).to_have_text(re.compile(r"^O "))
