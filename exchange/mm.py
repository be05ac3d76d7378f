"""The demo market maker: `exchange mm --url http://127.0.0.1:8000`.

It trades as ordinary accounts through the public REST API (httpx), so it exercises exactly what a user
does: a *maker* account keeps a ladder of post-only bids and asks (`--levels` per side) around a random-walk
mid price for every market and re-quotes every `--interval` seconds; a *taker* account sometimes crosses the
spread with a small market order, so a fresh exchange shows moving prices, a book, trades and candles within
seconds. Two accounts, because the engine's self-trade prevention would cancel a crossing order against the
same account's quotes.

The accounts are `mm-maker@demo.exchange` and `mm-taker@demo.exchange`, registered on first start (the API
must run in demo mode, `EXCHANGE_DEMO=1`, to fund them). Their password is `EXCHANGE_MM_PASSWORD`, else
derived from `EXCHANGE_JWT_SECRET` (so only someone holding the secret can log in as the market maker), else
a fixed demo password. It survives API restarts (retries with backoff) and refreshes its access token
before it expires.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import logging
import math
import os
import random
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from pathlib import Path
from typing import Any

import httpx

from exchange.config import StackSettings, read_stack_file

log = logging.getLogger("exchange.mm")


def _error_message(r: httpx.Response) -> str:
    """The API's error message (`{"error": {"message"}}`), else the start of the body."""
    try:
        return str(r.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return r.text[:200]


START_PRICES: dict[str, str] = {
    "BTC-USDT": "60000",
    "ETH-USDT": "3000",
    "BNB-USDT": "600",
    "MINA-USDT": "0.5",
    "ATOM-USDT": "8",
    "DOT-USDT": "6",
}
LEVEL_NOTIONAL = Decimal("150")  # quote value of one ladder level
STEP_BPS = Decimal(8)  # distance between ladder levels, in basis points of the mid
VOLATILITY = 0.0008  # stdev of the mid's log change per re-quote
TAKER_PROBABILITY = 0.35
MAX_BACKOFF_S = 5.0
DEFAULT_URL = "http://127.0.0.1:8000"
PACE_BURST = 10  # requests an account's pacer lets go at once (then one every 1/rate s)


UNPACED = 1e9  # the rate of a market maker whose API sets no order limit (EXCHANGE_RATE_ORDERS=0)


def default_rate() -> float:
    """Orders and cancels a second for each account: half the API's per-account limit (the same
    EXCHANGE_RATE_ORDERS, 200 unless set, which `exchange up` passes to both), so requests that reach the
    API bunched up, and its other processes' unspent share of the limit, stay under it; 0 (no limit):
    unpaced."""
    try:
        limit = int(os.environ.get("EXCHANGE_RATE_ORDERS", "200"))
    except ValueError:
        limit = 200
    return UNPACED if limit <= 0 else max(1.0, 0.5 * limit)


class Pacer:
    """Spaces one account's requests to at most `rate` a second, `burst` at once: a token bucket in its
    virtual-scheduling form (GCRA), so any one second sees at most rate + burst of them. A re-quote fires
    every order of every market at once; unpaced, two re-quotes could meet in one window of the API's
    limit and be refused. `hold` keeps every request back while a 429's Retry-After runs."""

    def __init__(
        self, rate: float, burst: int = PACE_BURST, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a pacer needs a rate above 0 and a burst of at least 1")
        self.gap = 1.0 / rate
        self.slack = self.gap * (burst - 1)
        self.clock = clock
        self._due = -math.inf  # when the next request would be due at the steady rate

    def delay(self) -> float:
        """Take the next request's slot: the seconds to wait before sending it (0: now)."""
        now = self.clock()
        due = max(self._due, now)
        self._due = due + self.gap
        return max(0.0, due - self.slack - now)

    async def wait(self) -> None:
        delay = self.delay()
        if delay > 0:
            await asyncio.sleep(delay)

    def hold(self, seconds: float) -> None:
        """Send nothing for `seconds` (from now), then resume at the steady rate."""
        self._due = max(self._due, self.clock() + seconds + self.slack)


class ApiUnavailable(Exception):
    """The API did not answer (connection refused, timeout, 5xx)."""


class UnknownMarkets(Exception):
    """`--markets` names markets the API does not list: a mistake to report, not to retry."""


@dataclass
class MarketState:
    symbol: str
    tick: Decimal
    lot: Decimal
    min_qty: Decimal
    min_notional: Decimal
    mid: Decimal
    live: list[int] = field(default_factory=list)  # ids of the maker's resting quotes

    def round_price(self, price: Decimal, up: bool) -> Decimal:
        ticks = (price / self.tick).to_integral_value(ROUND_CEILING if up else ROUND_FLOOR)
        return max(ticks, Decimal(1)) * self.tick

    def qty_for(self, notional: Decimal, price: Decimal) -> Decimal:
        lots = (notional / price / self.lot).to_integral_value(ROUND_CEILING)
        qty = max(lots * self.lot, self.min_qty)
        while qty * price < self.min_notional:
            qty += self.lot * max(1, int(qty / self.lot) // 10)
        return qty


def _fmt(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


@dataclass
class Session:
    """One logged-in account: keeps its access token fresh."""

    http: httpx.AsyncClient
    email: str
    password: str
    access_token: str = ""
    refresh_token: str = ""
    expires_at: float = 0.0
    lifetime: float = 0.0  # the access token's, as the API gave it (expires_in)
    account_id: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    pacer: Pacer | None = None  # spaces `request` (orders and cancels); None: unpaced

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ApiUnavailable(f"{method} {path}: {exc!r}") from exc
        if response.status_code >= 500:
            raise ApiUnavailable(f"{method} {path}: HTTP {response.status_code}")
        return response

    async def login(self) -> None:
        r = await self._send("POST", "/api/auth/login", json={"email": self.email, "password": self.password})
        if r.status_code == 401:
            reg = await self._send(
                "POST", "/api/auth/register", json={"email": self.email, "password": self.password}
            )
            if reg.status_code not in (201, 409):
                raise RuntimeError(f"cannot register {self.email}: {reg.status_code} {reg.text}")
            r = await self._send(
                "POST", "/api/auth/login", json={"email": self.email, "password": self.password}
            )
        if r.status_code != 200:
            raise RuntimeError(f"cannot log in as {self.email}: {r.status_code} {r.text}")
        self._store(r.json())
        me = await self._send("GET", "/api/me", headers=self.headers)
        if me.status_code == 200:
            self.account_id = int(me.json()["id"])

    def _store(self, tokens: dict[str, Any]) -> None:
        self.access_token = tokens["access_token"]
        self.refresh_token = tokens["refresh_token"]
        self.lifetime = float(tokens["expires_in"])
        self.expires_at = time.monotonic() + self.lifetime

    async def ensure_token(self) -> None:
        async with self.lock:
            # renewed a minute before it expires, or at its last quarter when it lives under 4 minutes: a
            # fixed minute would renew a 60 s token at every request, and the login limits would lock out
            # every user behind the same address
            margin = min(60.0, self.lifetime / 4)
            if self.access_token and time.monotonic() < self.expires_at - margin:
                return
            if self.refresh_token:
                r = await self._send("POST", "/api/auth/refresh", json={"refresh_token": self.refresh_token})
                if r.status_code == 200:
                    self._store(r.json())
                    return
            await self.login()

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        if self.pacer is not None:
            await self.pacer.wait()
        await self.ensure_token()
        r = await self._send(method, path, headers=self.headers, **kwargs)
        if r.status_code == 401:  # e.g. the API restarted with another key: log in again once
            self.access_token = self.refresh_token = ""
            await self.ensure_token()
            r = await self._send(method, path, headers=self.headers, **kwargs)
        return r


def _hold(session: Session, r: httpx.Response) -> None:
    """Keep the session's requests back for the 429's Retry-After (1 s when it gives none or garbage)."""
    try:
        seconds = float(r.headers.get("retry-after", "1"))
    except ValueError:
        seconds = 1.0
    if session.pacer is not None:
        session.pacer.hold(min(max(seconds, 0.0), 60.0))


def mm_password(email: str) -> str:
    explicit = os.environ.get("EXCHANGE_MM_PASSWORD")
    if explicit:
        return explicit
    secret = os.environ.get("EXCHANGE_JWT_SECRET", "")
    if secret:
        return hashlib.sha256(f"exchange-mm:{secret}:{email}".encode()).hexdigest()[:32]
    return "demo-market-maker-password"


class MarketMaker:
    def __init__(
        self,
        url: str,
        *,
        levels: int = 5,
        interval_s: float = 1.0,
        symbols: list[str] | None = None,
        rng: random.Random | None = None,
        account_prefix: str = "mm",
        rate: float | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.levels = levels
        self.interval_s = interval_s
        self.rate = rate or default_rate()
        self.symbols = symbols
        self.rng = rng or random.Random()
        self.http = httpx.AsyncClient(base_url=self.url, timeout=httpx.Timeout(5.0))
        domain = "demo.exchange"
        maker_email, taker_email = f"{account_prefix}-maker@{domain}", f"{account_prefix}-taker@{domain}"
        self.maker = Session(self.http, maker_email, mm_password(maker_email), pacer=Pacer(self.rate))
        self.taker = Session(self.http, taker_email, mm_password(taker_email), pacer=Pacer(self.rate))
        self.markets: dict[str, MarketState] = {}
        self.placed = 0
        self.trades = 0
        self.cycles = 0
        self._warned_funds_at = -math.inf
        self._warned_rate_at = -math.inf

    async def close(self) -> None:
        await self.http.aclose()

    async def load_markets(self) -> None:
        r = await self.maker._send("GET", "/api/markets")
        r.raise_for_status()
        listed = {m["symbol"] for m in r.json()}
        unknown = sorted(set(self.symbols or ()) - listed)
        if unknown:
            raise UnknownMarkets(
                f"no market {', '.join(unknown)} at {self.url} (it lists {', '.join(sorted(listed))})"
            )
        for m in r.json():
            symbol = m["symbol"]
            if m["status"] != "trading" or (self.symbols and symbol not in self.symbols):
                continue
            if symbol in self.markets:
                continue
            state = MarketState(
                symbol=symbol,
                tick=Decimal(m["tick_size"]),
                lot=Decimal(m["lot_size"]),
                min_qty=Decimal(m["min_qty"]),
                min_notional=Decimal(m["min_notional"]),
                mid=Decimal(START_PRICES.get(symbol, "0")),
            )
            if state.mid <= 0:
                state.mid = await self._book_mid(symbol) or state.tick * 10_000
            self.markets[symbol] = state

    async def _book_mid(self, symbol: str) -> Decimal | None:
        r = await self.maker._send("GET", f"/api/markets/{symbol}/book", params={"depth": 1})
        if r.status_code != 200:
            return None
        book = r.json()
        if book["bids"] and book["asks"]:
            return (Decimal(book["bids"][0][0]) + Decimal(book["asks"][0][0])) / 2
        return None

    async def start(self) -> None:
        await self.maker.ensure_token()
        await self.taker.ensure_token()
        await self.load_markets()
        await self.cancel_quotes()  # quotes left by an earlier run
        for market in self.markets.values():
            market.live = []

    def _walk(self, market: MarketState) -> None:
        change = Decimal(str(math.exp(self.rng.gauss(0.0, VOLATILITY))))
        market.mid = max(market.mid * change, market.tick * 100)

    async def _place(self, session: Session, body: dict[str, Any]) -> dict[str, Any] | None:
        r = await session.request("POST", "/api/orders", json=body)
        if r.status_code == 201:
            return dict(r.json())
        if r.status_code == 429:
            self._warn_rate_limited(session, "an order", r)
            _hold(session, r)
        elif r.status_code == 409 and "INSUFFICIENT_FUNDS" in r.text:
            now = time.monotonic()
            if now - self._warned_funds_at > 60:  # e.g. the API does not run in demo mode
                self._warned_funds_at = now
                log.warning(
                    "%s lacks funds for %s %s: %s (is EXCHANGE_DEMO=1? demo deposits also stop once an"
                    " asset's supply nears 2^53 minor units)",
                    session.email,
                    body["side"],
                    body["symbol"],
                    _error_message(r),
                )
        elif r.status_code != 409:  # other 409s: market status, expected now and then
            log.debug("order refused: %s %s", r.status_code, r.text)
        return None

    def _warn_rate_limited(self, session: Session, what: str, r: httpx.Response) -> None:
        """A WARNING, at most once a minute, when the API's rate limit refuses an order or a cancel: without
        it the book just stays thin or empty, and nothing says why."""
        now = time.monotonic()
        if now - self._warned_rate_at <= 60:
            return
        self._warned_rate_at = now
        log.warning(
            "%s is rate limited: the API refused %s: %s (Retry-After: %s s). Each re-quote places"
            " 2 x --levels (%d) orders per market and cancels as many, at most --rate (%g) a second: lower"
            " --rate below EXCHANGE_RATE_ORDERS (the API's limit per account a second), or raise that",
            session.email,
            what,
            _error_message(r),
            r.headers.get("retry-after", "?"),
            self.levels,
            self.rate,
        )

    async def quote(self, market: MarketState) -> None:
        """Replace the maker's ladder around the current mid: the new quotes first, then the old ones are
        cancelled, so the book never goes empty between re-quotes."""
        self._walk(market)
        orders = []
        for i in range(1, self.levels + 1):
            offset = market.mid * STEP_BPS * i / Decimal(10_000)
            bid = market.round_price(market.mid - offset, up=False)
            ask = market.round_price(market.mid + offset, up=True)
            size = LEVEL_NOTIONAL * Decimal(str(0.5 + self.rng.random()))
            for side, price in (("buy", bid), ("sell", ask)):
                orders.append(
                    {
                        "symbol": market.symbol,
                        "side": side,
                        "type": "limit",
                        "price": _fmt(price),
                        "qty": _fmt(market.qty_for(size, price)),
                        "post_only": True,
                    }
                )
        answers = await asyncio.gather(*(self._place(self.maker, o) for o in orders), return_exceptions=True)
        results = [r for r in answers if isinstance(r, dict)]
        self.placed += len(results)
        resting = [int(r["id"]) for r in results if r["status"] in ("open", "partially_filled")]
        failure = next((r for r in answers if isinstance(r, BaseException)), None)
        if failure is not None:  # the API went away mid-ladder: keep what was placed, cancel it later
            market.live += resting
            raise failure
        old, market.live = market.live, resting
        gone = await asyncio.gather(*(self._cancel(order_id) for order_id in old))
        market.live += [order_id for order_id, ok in zip(old, gone, strict=True) if not ok]

    async def _cancel(self, order_id: int) -> bool:
        """Cancel one old quote; False when it may still rest (refused by the rate limit, its market halted,
        the API unreachable): the caller keeps it, and the next re-quote cancels it again."""
        try:
            r = await self.maker.request("DELETE", f"/api/orders/{order_id}")
        except (ApiUnavailable, httpx.HTTPError):
            return False
        if r.status_code in (200, 404) or (r.status_code == 409 and "ORDER_CLOSED" in r.text):
            return True  # cancelled now, or already filled or cancelled
        if r.status_code == 429:
            self._warn_rate_limited(self.maker, "a cancel", r)
            _hold(self.maker, r)
        log.debug("cancel of %s refused: %s %s", order_id, r.status_code, r.text)
        return False

    async def take(self, market: MarketState) -> None:
        """Sometimes cross the spread with a small market order from the taker account."""
        if self.rng.random() >= TAKER_PROBABILITY:
            return
        price = market.mid
        notional = LEVEL_NOTIONAL * Decimal(str(0.2 + 0.6 * self.rng.random()))
        if self.rng.random() < 0.5:
            quote = max(notional, market.min_notional * 2).quantize(Decimal("0.01"), ROUND_CEILING)
            body = {"symbol": market.symbol, "side": "buy", "type": "market", "quote_qty": _fmt(quote)}
        else:
            body = {
                "symbol": market.symbol,
                "side": "sell",
                "type": "market",
                "qty": _fmt(market.qty_for(notional, price)),
            }
        result = await self._place(self.taker, body)
        if result is not None:
            self.trades += len(result.get("fills", []))

    async def cycle(self) -> None:
        if not self.markets:
            await self.load_markets()
        await asyncio.gather(*(self.quote(m) for m in list(self.markets.values())))
        await asyncio.gather(*(self.take(m) for m in list(self.markets.values())))
        self.cycles += 1

    async def cancel_quotes(self) -> None:
        """Cancel every open order of the maker account; a WARNING when the API did not (the quotes then
        rest until the next start cancels them)."""
        try:
            r = await self.maker.request("DELETE", "/api/orders")
        except (ApiUnavailable, RuntimeError, httpx.HTTPError) as exc:
            reason = str(exc)
        else:
            if r.status_code == 200:
                return
            reason = f"HTTP {r.status_code}: {_error_message(r)}"
        log.warning("could not cancel the quotes (%s): they rest until the market maker starts again", reason)

    async def run(self, duration_s: float = 0.0, stop: asyncio.Event | None = None) -> None:
        """Quote until `duration_s` elapsed (0: forever) or `stop` is set; retries with backoff."""
        stop = stop or asyncio.Event()
        deadline = time.monotonic() + duration_s if duration_s > 0 else math.inf
        backoff = 0.5
        started = False
        while not stop.is_set() and time.monotonic() < deadline:
            began = time.monotonic()
            try:
                if not started:
                    await self.start()
                    started = True
                    log.info("market maker quoting %s", ", ".join(sorted(self.markets)))
                await self.cycle()
                if self.cycles % 60 == 0:
                    log.info(
                        "%d re-quotes, %d orders placed, %d taker fills",
                        self.cycles,
                        self.placed,
                        self.trades,
                    )
                backoff = 0.5
                wait = max(0.0, self.interval_s - (time.monotonic() - began))
            except (ApiUnavailable, RuntimeError, httpx.HTTPError) as exc:
                log.warning("API at %s unavailable (%s); retrying in %.1f s", self.url, exc, backoff)
                wait = backoff
                backoff = min(backoff * 2, MAX_BACKOFF_S)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=min(wait, max(0.0, deadline - time.monotonic())))


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not value > 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"expected a number above 0; got {text!r}")
    return value


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--url",
        default=None,
        help="API base URL (default: EXCHANGE_API_URL, else the running stack's in --data-dir, else"
        f" {DEFAULT_URL})",
    )
    p.add_argument(
        "--data-dir",
        default=None,
        help="stack data dir holding stack.json, read when no URL is given (default: EXCHANGE_DATA_DIR or"
        " ./var)",
    )
    p.add_argument("--levels", type=int, default=5, help="ladder levels per side (default 5)")
    p.add_argument("--interval", type=float, default=1.0, help="seconds between re-quotes (default 1)")
    p.add_argument(
        "--rate",
        type=_positive,
        default=None,
        help="orders and cancels a second for each of its accounts (default: half EXCHANGE_RATE_ORDERS,"
        " the API's limit per account, so 100 unless that is set)",
    )
    p.add_argument("--markets", default="", help="comma-separated symbols (default: every trading market)")
    p.add_argument(
        "--duration", type=float, default=0.0, help="stop after this many seconds (default: run forever)"
    )
    p.add_argument("--seed", type=int, default=None, help="random seed")
    p.add_argument("--account-prefix", default="mm", help="email prefix of the two accounts (default mm)")


def parse_markets(text: str) -> list[str] | None:
    """`--markets`: comma-separated symbols in any case (`btc-usdt` is BTC-USDT); None for every market."""
    return [s.strip().upper() for s in text.split(",") if s.strip()] or None


def api_url(url: str | None, data_dir: str | None) -> str:
    """--url, else EXCHANGE_API_URL, else the running stack's (stack.json in `data_dir`), else DEFAULT_URL."""
    if url:
        return url
    if os.environ.get("EXCHANGE_API_URL"):
        return os.environ["EXCHANGE_API_URL"]
    directory = Path(data_dir) if data_dir else StackSettings.from_env().data_dir
    stack = read_stack_file(directory) or {}
    return str(stack.get("api_url") or DEFAULT_URL)


async def _main(args: argparse.Namespace) -> int:
    symbols = parse_markets(args.markets)
    url = api_url(args.url, args.data_dir)
    mm = MarketMaker(
        url,
        levels=args.levels,
        interval_s=args.interval,
        symbols=symbols,
        rng=random.Random(args.seed),
        account_prefix=args.account_prefix,
        rate=args.rate,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await mm.run(args.duration, stop)
    except UnknownMarkets as exc:
        log.error("%s", exc)
        return 2
    finally:
        await mm.cancel_quotes()
        await mm.close()
    log.info(
        "market maker stopped after %d cycles, %d orders, %d taker fills", mm.cycles, mm.placed, mm.trades
    )
    return 0


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request would flood the log
    return asyncio.run(_main(args))
