"""Layout and legibility in headless Chromium: what stays put, fits and reads on a phone and a desktop."""

from __future__ import annotations

import re
import uuid
from decimal import Decimal
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import Stack, shot
from tests.e2e.test_terminal import best, login, market, open_trade, place_limit, qty_for, rest_buy, snap

pytestmark = pytest.mark.browser

# each account tab's box, relative to the tab bar's left and top edge (the bar itself may sit lower or
# higher as the page above it changes), with the bar's own box and how far its content overflows it
TAB_BOXES = """() => {
    const bar = document.querySelector('[role=tablist][aria-label=Account]');
    const b = bar.getBoundingClientRect();
    const tabs = [...bar.querySelectorAll('[role=tab]')].map((t) => {
        const r = t.getBoundingClientRect();
        return { name: t.id, left: r.left - b.left, top: r.top - b.top, width: r.width, height: r.height,
                 right: r.right - b.left };
    });
    return { width: b.width, left: b.left, overflow: bar.scrollWidth - bar.clientWidth,
             scroll: bar.scrollLeft, innerWidth: window.innerWidth, tabs };
}"""


def _box(tab: dict[str, Any]) -> str:
    return f"x {tab['left']:.1f}, y {tab['top']:.1f}, {tab['width']:.1f}x{tab['height']:.1f}"


def _moved(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> list[str]:
    """The tabs whose box changed by more than half a pixel, from where to where."""
    return [
        f"{a['name']}: {_box(a)} -> {_box(b)}"
        for a, b in zip(before, after, strict=True)
        if any(abs(a[k] - b[k]) > 0.5 for k in ("left", "top", "width", "height"))
    ]


def _outside(boxes: dict[str, Any]) -> list[str]:
    """The tabs not wholly inside the tab bar (and the window), or a bar that scrolls sideways."""
    out = [
        t["name"]
        for t in boxes["tabs"]
        if t["left"] < -0.5
        or t["right"] > boxes["width"] + 0.5
        or boxes["left"] + t["right"] > boxes["innerWidth"] + 0.5
    ]
    return out + (["(the bar scrolls sideways)"] if boxes["overflow"] > 0 or boxes["scroll"] else [])


@pytest.mark.parametrize(("width", "height"), [(390, 844), (1280, 800)])
def test_account_tabs_stay_put_when_the_open_order_count_changes(
    stack: Stack, new_page: Any, width: int, height: int
) -> None:
    """The account tabs keep their places when an order placed elsewhere makes the Open tab count it: the
    count has its room kept, up to three digits (it used to appear only above zero and push every tab to its
    right aside by 21-39 px, under the finger), and all six tabs still lie inside the bar."""
    email = stack.register("tabs-still")
    page = new_page(width, height)
    login(page, email)
    open_trade(page)
    page.get_by_role("tablist", name="Account").scroll_into_view_if_needed()
    open_tab = page.get_by_role("tab", name="Open orders")
    expect(open_tab).not_to_contain_text("(1)")
    before = page.evaluate(TAB_BOXES)
    assert not _outside(before), f"tabs outside the bar at {width}px: {_outside(before)} ({before})"

    m = market(stack)
    price, tick = snap(best(page, "bids") * Decimal("0.95"), m["tick_size"]), Decimal(m["tick_size"])
    headers = {"Authorization": f"Bearer {stack.token(email)}"}
    with httpx.Client(base_url=stack.base_url, headers=headers, timeout=10) as c:
        rest_buy(stack, c, price)
        expect(open_tab).to_contain_text("(1)")
        one = page.evaluate(TAB_BOXES)
        for i in range(1, 112):  # three digits, where the bar used to overflow at 390 px
            rest_buy(stack, c, price - i * tick)
        expect(open_tab).to_contain_text("(112)")
        many = page.evaluate(TAB_BOXES)
        shot(page, f"20-tabs-with-count-{width}")
        assert c.delete("/api/orders").status_code == 200
    for count, after in (("1", one), ("112", many)):
        moved = _moved(before["tabs"], after["tabs"])
        assert not moved, f"tabs moved at {width}px when the count became {count}: {moved}"
        assert not _outside(after), f"tabs outside the bar at {width}px: {_outside(after)} ({after})"


# the box of the first open order's Cancel button, of the account card and of the window, and what lies on
# top at the button's centre (all read in one task of the page)
CANCEL_BOX = """() => {
    const btn = document.querySelector('[data-testid=open-orders] tbody tr[data-order-id] button');
    const card = btn.closest('.account-card').getBoundingClientRect();
    const r = btn.getBoundingClientRect();
    const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    return {
        button: { left: r.left, right: r.right, top: r.top, bottom: r.bottom },
        card: { left: card.left, right: card.right, top: card.top, bottom: card.bottom },
        window: { width: window.innerWidth, height: window.innerHeight },
        onTop: btn.contains(hit),
        scrolled: btn.closest('.table-scroll').scrollLeft,
    };
}"""


def test_an_open_orders_cancel_button_is_in_sight_on_a_phone_and_cancels(stack: Stack, new_page: Any) -> None:
    """At 390x844 an open order's Cancel button lies wholly inside the screen and the account card without
    scrolling the table sideways (the table was 508 px wide in a 372 px card, the button at 444-507 px),
    nothing covers it, and a tap where it shows cancels the order."""
    email = stack.register("phone-cancel")
    page = new_page(390, 844)
    login(page, email)
    open_trade(page)
    m = market(stack)
    headers = {"Authorization": f"Bearer {stack.token(email)}"}
    with httpx.Client(base_url=stack.base_url, headers=headers, timeout=10) as c:
        rest_buy(stack, c, snap(best(page, "bids") * Decimal("0.95"), m["tick_size"]))
    page.get_by_role("tab", name="Open orders").click()
    rows = page.locator("[data-testid=open-orders] tbody tr[data-order-id]")
    expect(rows).to_have_count(1)
    # the row to the middle of the screen by scrolling the page only (never the table sideways)
    page.evaluate(
        """() => {
            const r = document.querySelector('[data-testid=open-orders] tbody tr[data-order-id]');
            window.scrollBy(0, r.getBoundingClientRect().top - window.innerHeight / 2);
        }"""
    )
    box = page.evaluate(CANCEL_BOX)
    shot(page, "21-phone-cancel")
    b, card, win = box["button"], box["card"], box["window"]
    assert box["scrolled"] == 0, box
    assert b["left"] >= 0 and b["right"] <= win["width"], f"Cancel is off-screen sideways: {box}"
    assert b["top"] >= 0 and b["bottom"] <= win["height"], f"Cancel is off-screen: {box}"
    assert b["left"] >= card["left"] and b["right"] <= card["right"], f"Cancel is outside the card: {box}"
    assert box["onTop"], f"something covers the Cancel button: {box}"
    # a click where the button is at that moment (the page above it may still settle: the ticker bar wraps
    # as its figures change), never scrolling the table sideways to reach it
    scroller = page.locator(".account-card .table-scroll").filter(has=rows.first).element_handle()
    rows.first.get_by_role("button", name="Cancel order").click()
    assert scroller.evaluate("(el) => el.scrollLeft") == 0  # the click needed no sideways scroll either
    expect(page.get_by_test_id("toast").filter(has_text="Order cancelled")).to_be_visible()
    expect(rows).to_have_count(0)


# every element of the header that shows (not hidden, not the 1 px screen-reader-only text): those that
# reach past the window's edges, and those whose own content is cut (clipped or ellipsized)
HEADER_FIT = """() => {
    const header = document.querySelector('header.topbar');
    const shown = [...header.querySelectorAll('*')].filter((e) => {
        const r = e.getBoundingClientRect();
        return r.width > 1 && r.height > 1 && getComputedStyle(e).visibility !== 'hidden';
    });
    const name = (e) => `${e.tagName.toLowerCase()}.${e.className || ''} "${e.textContent.trim()}"`;
    const h = header.getBoundingClientRect();
    return {
        pageOverflow: document.documentElement.scrollWidth - window.innerWidth,
        headerOverflow: header.scrollWidth - header.clientWidth,
        headerWidth: Math.round(h.width),
        contentRight: Math.round(Math.max(...shown.map((e) => e.getBoundingClientRect().right))),
        past: shown.filter((e) => {
            const r = e.getBoundingClientRect();
            return r.left < -0.5 || r.right > window.innerWidth + 0.5;
        }).map(name),
        cut: shown.filter((e) => getComputedStyle(e).overflowX !== 'visible'
            && e.scrollWidth > e.clientWidth + 0.5).map(name),
    };
}"""


def test_on_a_phone_the_page_stays_where_it_was_scrolled_while_the_book_changes(
    stack: Stack, new_page: Any
) -> None:
    """At 360x780, scrolled so the book's middle is the top edge of the screen (as one scrolls down to the
    account panel), new bids just under the best one move the book's rows inside its card of fixed height:
    the page itself does not scroll. The browser anchored the page on a book row and scrolled it by each
    row's move, 20 to 60 px at every re-quote, so a button being tapped jumped away from the finger."""
    email = stack.register("phone-anchor")
    page = new_page(360, 780)
    login(page, email)
    open_trade(page)
    m = market(stack)
    tick = Decimal(m["tick_size"])
    top = best(page, "bids")
    page.get_by_test_id("order-book").evaluate(
        """(b) => { const r = b.getBoundingClientRect();
                    window.scrollBy(0, Math.round(r.top + r.height / 2)); }"""
    )
    start = page.evaluate(
        """() => { window.__scrolls = [];
                   addEventListener('scroll', () => __scrolls.push(scrollY)); return scrollY; }"""
    )
    assert start > 0, "the page did not scroll down to the book"
    headers = {"Authorization": f"Bearer {stack.token(email)}"}
    with httpx.Client(base_url=stack.base_url, headers=headers, timeout=10) as c:
        prices = [snap(top - k * tick, m["tick_size"]) for k in (1, 2, 3, 5, 8)]
        for price in prices:  # each a row in the book (a new level, or more on one), the next rows move down
            rest_buy(stack, c, price)
        page.wait_for_function(
            """(prices) => prices.every((p) =>
                [...document.querySelectorAll('[data-testid=book-bids] .book-row')]
                    .some((r) => Number(r.dataset.price) === Number(p)))""",
            arg=[format(p, "f") for p in prices],
        )
        page.wait_for_timeout(1_000)  # and the market maker's re-quotes meanwhile
        # (the scroll event of our own scrollBy may come after the listener: it is at `start`)
        scrolls = page.evaluate("() => window.__scrolls")
        assert all(y == start for y in scrolls), f"the page scrolled by itself from {start} to {scrolls}"
        assert c.delete("/api/orders").status_code == 200


def test_the_header_fits_a_phone_at_360_375_and_390(stack: Stack, new_page: Any) -> None:
    """At 360, 375 and 390 px wide, logged out and logged in, every part of the header (logo, navigation,
    connection, log in / sign up / log out) lies inside the window and none is cut, and the page does not
    scroll sideways (logged out, the header's content was 390 px wide: the page scrolled at 375 and 360)."""
    email = stack.register("header")
    problems = []
    for logged_in in (False, True):
        for width in (360, 375, 390):
            page = new_page(width, 800)
            if logged_in:
                login(page, email)
            page.goto("/#/markets")
            expect(page.locator("tr[data-symbol]").first).to_be_visible()
            # the header's last item, which the others push right
            role, name = ("button", "Log out") if logged_in else ("link", "Sign up")
            expect(page.get_by_role(role, name=name)).to_be_visible()
            fit = page.evaluate(HEADER_FIT)
            state = "in" if logged_in else "out"
            shot(page, f"22-header-{width}-{state}")
            if fit["pageOverflow"] > 0 or fit["headerOverflow"] > 0 or fit["past"] or fit["cut"]:
                problems.append(f"{width}px, logged {state}: {fit}")
            page.context.close()
    assert not problems, "the header does not fit:\n" + "\n".join(problems)


def test_a_sign_up_error_goes_once_a_field_is_edited(stack: Stack, new_page: Any) -> None:
    """The server's refusal of a sign-up (a password of one character repeated) shows until the trader edits
    a field: typing in the password, or the email, clears it, instead of a stale message contradicting
    what the browser's own validation says next."""
    page = new_page()
    page.goto("/#/signup")
    page.get_by_label("Email").fill(f"stale-{uuid.uuid4().hex[:10]}@example.com")
    password = page.get_by_label("Password")
    password.fill("aaaaaaaa")
    page.get_by_role("button", name="Sign up", exact=True).click()
    error = page.get_by_test_id("auth-error")
    expect(error).to_contain_text("one character repeated")
    shot(page, "23-signup-error")
    password.press_sequentially("b")
    expect(error).to_have_count(0)

    password.fill("aaaaaaaa")
    page.get_by_role("button", name="Sign up", exact=True).click()
    expect(error).to_be_visible()
    page.get_by_label("Email").press("End")
    page.get_by_label("Email").press_sequentially("m")
    expect(error).to_have_count(0)


def _luminance(css: str) -> float:
    """WCAG 2 relative luminance of a computed `rgb(r, g, b)` colour."""
    parts = re.findall(r"[\d.]+", css)
    assert len(parts) == 3 or (len(parts) == 4 and float(parts[3]) == 1), f"not an opaque colour: {css}"

    def channel(v: float) -> float:
        v /= 255
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(float(p)) for p in parts[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


COLOURS = """(e) => {
    const s = getComputedStyle(e);
    return { color: s.color, background: s.backgroundColor, opacity: s.opacity, size: s.fontSize,
             weight: s.fontWeight };
}"""


def test_the_buy_and_sell_buttons_white_text_reads_at_4_5_to_1(stack: Stack, new_page: Any) -> None:
    """The order form's submit button, enabled, in buy and in sell mode, and the chosen side's toggle have
    white text at a WCAG contrast of at least 4.5:1 on their background (it was 3.0:1 on buy, 3.49:1 on
    sell)."""
    page = new_page()
    login(page, stack.register("contrast"))
    open_trade(page)
    m = market(stack)
    form = page.get_by_test_id("order-form")
    submit = page.get_by_test_id("submit-order")
    ratios = {}
    for side, book_side in (("buy", "bids"), ("sell", "asks")):
        toggle = form.get_by_role("button", name=side.capitalize(), exact=True)
        toggle.click()
        form.get_by_role("button", name="Limit", exact=True).click()
        price = snap(best(page, book_side), m["tick_size"])  # at the book: no fat-finger question
        form.locator("input[name=price]").fill(format(price, "f"))
        form.locator("input[name=qty]").fill(qty_for(m, price))
        form.locator("input[name=qty]").blur()
        expect(submit).to_be_enabled()  # legible as used, not dimmed as a disabled button
        for what, el in ((f"{side} submit", submit), (f"{side} toggle", toggle)):
            c = el.evaluate(COLOURS)
            assert c["opacity"] == "1", (what, c)
            ratios[what] = (round(contrast(c["color"], c["background"]), 2), c)
    shot(page, "24-sell-button")
    low = {what: r for what, r in ratios.items() if r[0] < 4.5}
    assert not low, f"text contrast under 4.5:1: {low}"
    # never submitted: nothing to cancel
    expect(page.locator("[data-testid=open-orders] tbody tr[data-order-id]")).to_have_count(0)


def test_a_small_laptop_shows_the_book_and_the_account_panel_beside_the_chart(
    stack: Stack, new_page: Any
) -> None:
    """At 1024x768 (a small laptop, a tablet held sideways) the book sits beside the chart with its spread
    row on the first screen and uncut, the account tabs start on it too, and nothing scrolls sideways. (The
    tablet grid, the book under the chart, put the spread at y 747 and the open orders at y 1367.)"""
    page = new_page(1024, 768)
    open_trade(page)
    chart = page.locator(".area-chart").bounding_box()
    book = page.locator(".area-book").bounding_box()
    assert chart is not None and book is not None
    assert abs(book["y"] - chart["y"]) < 1 and book["x"] > chart["x"] + chart["width"] - 1, (chart, book)
    assert chart["width"] >= 400, chart
    spread = page.get_by_test_id("book-spread").bounding_box()
    assert spread is not None and spread["y"] + spread["height"] <= 768, spread
    gap = page.locator(".book-spread-gap")
    assert gap.evaluate("g => g.scrollWidth <= g.clientWidth"), gap.inner_text()  # "96.21 (0.160%)" whole
    tabs = page.get_by_role("tablist", name="Account").bounding_box()
    assert tabs is not None and tabs["y"] + tabs["height"] <= 768, tabs
    assert page.evaluate("document.documentElement.scrollWidth") <= 1024
    shot(page, "layout-1024")


def test_a_click_anywhere_in_a_sortable_header_cell_sorts(stack: Stack, new_page: Any) -> None:
    """The markets table sorts on a click anywhere in a header cell, not only on its word: a right-aligned
    column's cell is clicked in its padding at the top left corner, far from its label."""
    page = new_page(1440, 900)
    page.goto("/#/markets")
    expect(page.locator("[data-testid=last-price]").first).to_have_text(re.compile(r"\d"))
    header = page.locator("[data-testid=markets-table] th").filter(has_text="Last")
    box = header.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + 2, box["y"] + 2)  # in the cell's padding, its top left corner
    expect(header).to_have_attribute("aria-sort", "descending")
    lasts = [Decimal(t.replace(",", "")) for t in page.locator("[data-testid=last-price]").all_inner_texts()]
    assert lasts == sorted(lasts, reverse=True)


def test_logged_out_the_account_panel_on_a_phone_is_no_taller_than_its_line(
    stack: Stack, new_page: Any
) -> None:
    """On a phone the logged-out account panel (its tabs and "Log in or sign up to trade") takes the room of
    that content, not the 280 px its tables get once logged in, so the trades tape below is not pushed down
    for nothing."""
    page = new_page(390, 844)
    open_trade(page)
    panel = page.locator(".area-account")
    expect(panel).to_contain_text("to trade")
    box = panel.bounding_box()
    assert box is not None and box["height"] < 150, box
    login(page, stack.register("phonepanel"))
    open_trade(page)
    box = panel.bounding_box()
    assert box is not None and box["height"] >= 280, box


# the chart card, its chart box, the chart drawn in it (lightweight-charts' element: the candles and the time
# axis under them), the order form, and whether what lies on top just inside the form's top edge, over its
# Buy toggle, belongs to the form (all read in one task of the page)
CHART_FIT = """() => {
    const box = (e) => {
        const r = e.getBoundingClientRect();
        return { left: r.left, right: r.right, top: r.top, bottom: r.bottom, height: r.height };
    };
    const form = document.querySelector('[data-testid=order-form]');
    const toggle = box(form.querySelector('[role=group][aria-label=Side]'));
    const hit = document.elementFromPoint(toggle.left + 8, toggle.top + 2);
    return {
        card: box(document.querySelector('.chart-card')),
        box: box(document.querySelector('.chart-box')),
        drawn: box(document.querySelector('.chart-box .tv-lightweight-charts')),
        form: box(form),
        formOnTop: form.contains(hit),
    };
}"""


def _chart_misfits(fit: dict[str, Any], phone: bool) -> list[str]:
    """What does not fit: the chart box outside its card, the chart drawn outside its box (or not filling
    it, its time axis then mid-card), and on a phone, where the form is under the chart, the chart reaching
    past the form's top or anything covering the form's first row."""
    card, box, drawn, form = fit["card"], fit["box"], fit["drawn"], fit["form"]
    out = []
    for side in ("left", "top"):
        if box[side] < card[side] - 0.5 or drawn[side] < box[side] - 0.5:
            out.append(f"past the card's {side}")
    for side in ("right", "bottom"):
        if box[side] > card[side] + 0.5 or drawn[side] > box[side] + 0.5:
            out.append(f"past the card's {side}")
    if drawn["height"] < box["height"] - 1:
        out.append("the chart does not fill its box")
    if phone:
        if card["bottom"] > form["top"] + 0.5 or drawn["bottom"] > form["top"] + 0.5:
            out.append("the chart reaches into the order form")
        if not fit["formOnTop"]:
            out.append("something covers the order form's Buy/Sell toggle")
        if drawn["height"] < 240:
            out.append("the chart is under 240 px tall")
    return out


@pytest.mark.parametrize(
    ("width", "height", "logged_in"),
    [(390, 844, False), (390, 844, True), (360, 780, False), (800, 900, False), (1280, 800, False)],
)
def test_the_chart_with_its_time_axis_fits_its_card_above_the_order_form(
    stack: Stack, new_page: Any, width: int, height: int, logged_in: bool
) -> None:
    """The chart, its time axis included, lies inside its card at every width, and on a phone (390x844,
    360x780) the card ends above the order form, whose Buy/Sell toggle nothing covers. (At 390x844 the chart
    box, 300 px at least, reached 24 px past its card: its time axis covered half of the Buy button.)"""
    page = new_page(width, height)
    if logged_in:
        login(page, stack.register("chart-fit"))
    open_trade(page, "ETH-USDT")
    expect(page.get_by_test_id("chart")).not_to_have_attribute("data-bars", "0", timeout=20_000)
    expect(page.locator(".chart-box .tv-lightweight-charts")).to_be_visible()
    page.wait_for_timeout(300)  # the chart follows its box's size at the next frame
    fit = page.evaluate(CHART_FIT)
    shot(page, f"25-chart-fit-{width}")
    misfits = _chart_misfits(fit, phone=width < 760)
    assert not misfits, f"at {width}x{height}: {misfits} ({fit})"


# the trade page's cards, the window's height and how far the page scrolls, and the open orders' rows wholly
# inside the window and their tab's box (all read in one task of the page)
TRADE_FIT = """() => {
    const box = (e) => {
        if (!e) return null;
        const r = e.getBoundingClientRect();
        return { left: r.left, right: r.right, top: r.top, bottom: r.bottom, height: r.height };
    };
    const one = (sel) => box(document.querySelector(sel));
    const body = document.querySelector('.account-card .tab-body');
    const inBody = box(body);
    const rows = [...document.querySelectorAll('[data-testid=open-orders] tbody tr[data-order-id]')]
        .map(box).filter((r) => r.top >= inBody.top - 0.5 && r.bottom <= Math.min(inBody.bottom,
            window.innerHeight) + 0.5);
    const list = document.querySelector('[data-testid=trades]');
    return {
        height: window.innerHeight,
        scroll: document.documentElement.scrollHeight - window.innerHeight,
        grid: one('.trade-grid'),
        chart: one('.chart-card'),
        book: one('[data-testid=order-book]'),
        trades: one('.trades-card'),
        list: box(list),
        listOverflow: getComputedStyle(list).overflowY,
        account: one('.account-card'),
        openRows: rows.length,
        form: one('[data-testid=order-form]'),
    };
}"""

DESKTOPS = [(1280, 800), (1440, 900), (1920, 1080)]


@pytest.mark.parametrize(("width", "height"), DESKTOPS)
def test_on_a_desktop_the_trade_page_fills_the_window_with_the_account_panel_on_the_first_screen(
    stack: Stack, new_page: Any, width: int, height: int
) -> None:
    """At 1280x800, 1440x900 and 1920x1080 the trade page is as tall as the window, no taller and no
    shorter (its height did not follow the window's: 979 px with a full trades tape, scrolling at 1280x800
    and 1440x900, about 100 px empty at the bottom at 1920x1080): the book, the trades tape and the
    account panel end inside it, five open orders show whole in the panel without scrolling the
    page (at 1280x800 the panel began at y 554: two or three rows), and the tape scrolls inside its card
    instead of being cut at the window's bottom."""
    email = stack.register("fill")
    page = new_page(width, height)
    login(page, email)
    open_trade(page)
    m = market(stack)
    price, tick = snap(best(page, "bids") * Decimal("0.9"), m["tick_size"]), Decimal(m["tick_size"])
    headers = {"Authorization": f"Bearer {stack.token(email)}"}
    with httpx.Client(base_url=stack.base_url, headers=headers, timeout=10) as c:
        for i in range(6):
            rest_buy(stack, c, price - i * tick)
        page.get_by_role("tab", name="Open orders").click()
        expect(page.locator("[data-testid=open-orders] tbody tr[data-order-id]")).to_have_count(6)
        expect(page.locator("[data-testid=trades] .trade-row").first).to_be_visible()
        page.wait_for_timeout(300)  # the toasts of the orders settle; nothing here depends on them
        fit = page.evaluate(TRADE_FIT)
        shot(page, f"50-fill-{width}x{height}")
        assert c.delete("/api/orders").status_code == 200
    problems = []
    if fit["scroll"] > 4:
        problems.append(f"the page scrolls by {fit['scroll']} px")
    if fit["grid"]["bottom"] < height - 12:  # the page's own padding is 8 px
        problems.append(f"{height - fit['grid']['bottom']:.0f} px of the window stay empty under the grid")
    for name in ("grid", "book", "trades", "account", "chart"):
        if fit[name]["bottom"] > height + 0.5:
            problems.append(f"the {name} ends at y {fit[name]['bottom']:.0f}, below the window")
    if fit["openRows"] < 5:
        problems.append(
            f"{fit['openRows']} open orders show whole in the window (the panel at y "
            f"{fit['account']['top']:.0f}, {fit['account']['height']:.0f} px tall)"
        )
    if fit["listOverflow"] != "auto" or fit["list"]["bottom"] > fit["trades"]["bottom"] + 0.5:
        problems.append(f"the trades tape does not scroll inside its card: {fit['list']} {fit['trades']}")
    assert not problems, f"at {width}x{height}: {problems} ({fit})"


# the order book's bid rows wholly inside their side's box, how many that box holds (its height over a
# row's), and the chart card's height
BOOK_FIT = """() => {
    const side = document.querySelector('[data-testid=book-bids]');
    const s = side.getBoundingClientRect();
    const rows = [...side.querySelectorAll('.book-row')].map((r) => r.getBoundingClientRect());
    const whole = rows.filter((r) => r.top >= s.top - 0.5 && r.bottom <= s.bottom + 0.5
        && r.left >= s.left - 0.5 && r.right <= s.right + 0.5);
    return {
        rows: whole.length,
        room: rows.length ? Math.floor((s.height + 0.5) / rows[0].height) : 0,
        chart: document.querySelector('.chart-card').getBoundingClientRect().height,
    };
}"""


def test_a_taller_window_shows_a_taller_chart_and_more_book_levels(stack: Stack, new_page: Any) -> None:
    """With 30 more bid levels in the book, the chart is taller at 1920x1080 than at 1280x800 and the book
    shows more bids, as many as its side has room for at each size (the chart stayed 440 px and the book
    showed 8 bids a side, whatever the window, with empty room under them at 1920x1080)."""
    email = stack.register("tall")
    m = market(stack)
    tick = Decimal(m["tick_size"])
    headers = {"Authorization": f"Bearer {stack.token(email)}"}
    seen = {}
    with httpx.Client(base_url=stack.base_url, headers=headers, timeout=10) as c:
        tickers = {t["symbol"]: t for t in c.get("/api/tickers").json()}
        low = snap(Decimal(tickers[m["symbol"]]["last"]) * Decimal("0.9"), m["tick_size"])
        for i in range(30):
            rest_buy(stack, c, low - i * tick)
        for width, height in ((1280, 800), (1920, 1080)):
            page = new_page(width, height)
            open_trade(page)
            page.wait_for_function(
                "(p) => [...document.querySelectorAll('[data-testid=book-bids] .book-row')]"
                ".some((r) => Number(r.dataset.price) === Number(p))",
                arg=format(low, "f"),
            )
            page.wait_for_timeout(300)
            seen[(width, height)] = page.evaluate(BOOK_FIT)
            shot(page, f"51-book-{width}x{height}")
            page.context.close()
        assert c.delete("/api/orders").status_code == 200
    small, large = seen[(1280, 800)], seen[(1920, 1080)]
    assert large["chart"] >= small["chart"] + 100, f"the chart does not grow with the window: {seen}"
    assert large["rows"] > small["rows"], f"the book shows no more bids in a taller window: {seen}"
    for size, fit in seen.items():
        assert fit["rows"] >= fit["room"] >= 5, f"at {size} the book leaves room for bids it has: {seen}"


# the vertical gaps in the order form's column: from the grid's top to its first card, between its cards
# and from its last card to the grid's bottom
FORM_COLUMN_GAPS = """() => {
    const grid = document.querySelector('.trade-grid').getBoundingClientRect();
    const form = document.querySelector('[data-testid=order-form]').getBoundingClientRect();
    const cards = [...document.querySelectorAll('.trade-grid .card')].map((c) => c.getBoundingClientRect())
        .filter((r) => r.height > 0 && r.left < form.right - 1 && r.right > form.left + 1)
        .sort((a, b) => a.top - b.top);
    const edges = [grid.top, ...cards.flatMap((r) => [r.top, r.bottom]), grid.bottom];
    const gaps = [];
    for (let i = 0; i < edges.length; i += 2) gaps.push(Math.round(edges[i + 1] - edges[i]));
    return { gaps, cards: cards.length };
}"""


@pytest.mark.parametrize(("width", "height"), [(1440, 900), (1920, 1080)])
def test_the_order_form_column_has_no_dead_space_on_a_tall_window(
    stack: Stack, new_page: Any, width: int, height: int
) -> None:
    """At 1440x900 and 1920x1080 the order form's column holds no empty stretch taller than 24 px (under
    "Prices for a volume" an empty column of about 500 px stood at 1920x1080): the trades tape takes the
    room the form leaves."""
    page = new_page(width, height)
    login(page, stack.register("deadspace"))
    open_trade(page)
    column = page.evaluate(FORM_COLUMN_GAPS)
    shot(page, f"52-form-column-{width}x{height}")
    assert max(column["gaps"]) <= 24, f"at {width}x{height} the form column has an empty stretch: {column}"


# the boxes of the toasts that show, and of what they must leave uncovered
TOAST_CLEAR = """() => {
    const box = (e) => {
        const r = e.getBoundingClientRect();
        return { left: r.left, right: r.right, top: r.top, bottom: r.bottom };
    };
    return {
        toasts: [...document.querySelectorAll('[data-testid=toast]')]
            .filter((t) => t.getBoundingClientRect().height > 0).map(box),
        clear: {
            book: box(document.querySelector('[data-testid=order-book]')),
            trades: box(document.querySelector('.trades-card')),
            form: box(document.querySelector('[data-testid=order-form]')),
        },
        window: { width: window.innerWidth, height: window.innerHeight },
    };
}"""


def _overlaps(a: dict[str, float], b: dict[str, float]) -> bool:
    return min(a["right"], b["right"]) - max(a["left"], b["left"]) > 0.5 and (
        min(a["bottom"], b["bottom"]) - max(a["top"], b["top"]) > 0.5
    )


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (1440, 900)])
def test_on_a_desktop_toasts_leave_the_book_the_trades_and_the_order_form_clear(
    stack: Stack, new_page: Any, width: int, height: int
) -> None:
    """An order placed with the form, and two more placed elsewhere: their three toasts lie inside the
    window and cover neither the order book, nor the trades tape, nor the order form (its submit button
    and its messages). At the bottom right they covered the tape and the book's lowest bids."""
    email = stack.register("toast-clear")
    page = new_page(width, height)
    login(page, email)
    open_trade(page)
    m = market(stack)
    price = snap(best(page, "bids") * Decimal("0.95"), m["tick_size"])
    place_limit(page, "buy", price, qty_for(m, price))
    accepted = page.get_by_test_id("toast").filter(has_text="Order accepted")
    expect(accepted).to_have_count(1)
    headers = {"Authorization": f"Bearer {stack.token(email)}"}
    with httpx.Client(base_url=stack.base_url, headers=headers, timeout=10) as c:
        for i in (1, 2):
            rest_buy(stack, c, price - i * Decimal(m["tick_size"]))
        expect(accepted).to_have_count(3)
        for i in range(3):
            expect(accepted.nth(i)).to_be_visible()
        where = page.evaluate(TOAST_CLEAR)
        shot(page, f"53-toasts-{width}x{height}")
        assert c.delete("/api/orders").status_code == 200
    assert len(where["toasts"]) >= 3, where
    win = where["window"]
    problems = [
        f"toast {t} covers the {name} {b}"
        for t in where["toasts"]
        for name, b in where["clear"].items()
        if _overlaps(t, b)
    ]
    problems += [
        f"toast {t} reaches outside the window"
        for t in where["toasts"]
        if t["left"] < 0 or t["top"] < 0 or t["right"] > win["width"] or t["bottom"] > win["height"]
    ]
    assert not problems, f"at {width}x{height}:\n" + "\n".join(problems)
