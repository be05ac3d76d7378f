"""Browser end-to-end fixtures: the real stack (`exchange up`) and Debian's Chromium driven by Playwright.

- `stack`    (session)  `exchange up --data-dir <tmp> --port <free>` with the market maker, in its own
                        process group; waits until the API is ready and every market shows a last price;
                        SIGTERM (then SIGKILL) at the end.
- `browser`  (session)  Chromium from `/usr/bin/chromium` (never `playwright install`). Missing Chromium
                        skips locally and FAILS when `CI` is set.
- `new_page` (function) factory: a fresh browser context (its own cookies/storage: one user each) at
                        1280x800 or phone size; console errors and page errors fail the test.

Screenshots go to `test-artifacts/` at the repository root (gitignored).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from exchange.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
FRONTEND = ROOT / "frontend"
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
STACK_READY_S = 150.0
PASSWORD = "correct horse battery staple"


def _unavailable(reason: str) -> None:
    """Skip on a developer machine; fail under CI, where the browser tests must run."""
    if os.environ.get("CI"):
        pytest.fail(f"browser tests cannot run under CI: {reason}")
    pytest.skip(reason)


def chromium_path() -> str | None:
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def _ensure_frontend_built() -> None:
    if (FRONTEND / "dist" / "index.html").is_file():
        return
    if not (FRONTEND / "node_modules").is_dir():
        _unavailable("frontend/dist is missing and frontend/node_modules is not installed (run `make setup`)")
    subprocess.run(["npm", "run", "build"], cwd=FRONTEND, check=True, capture_output=True, timeout=300)


# uvicorn's INFO line per HTTP request, WebSocket handshake, and WebSocket opened or closed
_ACCESS_LINE = re.compile(r'^INFO: +(\S+ - "|connection (open|closed)$)')


@dataclass
class Stack:
    base_url: str
    data_dir: Path
    log_path: Path
    proc: subprocess.Popen[bytes]
    markets: list[dict[str, Any]] = field(default_factory=list)

    def log_tail(self, lines: int = 40, path: Path | None = None) -> str:
        """The last `lines` lines of a log, without uvicorn's line per request and per WebSocket opened or
        closed (hundreds of them would hide the warnings and tracebacks a failure needs)."""
        with contextlib.suppress(OSError):
            text = (path or self.log_path).read_text(errors="replace").splitlines()
            return "\n".join([line for line in text if not _ACCESS_LINE.search(line)][-lines:])
        return ""

    def logs_tail(self, lines: int = 40) -> str:
        """The end of `exchange up`'s log and of each of its processes' logs (what a failed test shows)."""
        paths = [self.log_path, *sorted((self.data_dir / "var" / "logs").glob("*.log"))]
        return "\n\n".join(f"--- {p.name} ---\n{self.log_tail(lines, p)}" for p in paths)

    def register(self, prefix: str = "e2e") -> str:
        """A fresh account through the API (demo funds are credited on registration)."""
        email = f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"
        r = httpx.post(
            f"{self.base_url}/api/auth/register", json={"email": email, "password": PASSWORD}, timeout=10
        )
        assert r.status_code == 201, r.text
        return email

    def token(self, email: str) -> str:
        r = httpx.post(
            f"{self.base_url}/api/auth/login", json={"email": email, "password": PASSWORD}, timeout=10
        )
        assert r.status_code == 200, r.text
        return str(r.json()["access_token"])


def _wait_ready(stack: Stack) -> None:
    deadline = time.monotonic() + STACK_READY_S
    last_error = "not started"
    with httpx.Client(base_url=stack.base_url, timeout=5) as client:
        while time.monotonic() < deadline:
            if stack.proc.poll() is not None:
                raise RuntimeError(f"`exchange up` exited with {stack.proc.returncode}:\n{stack.log_tail()}")
            try:
                if client.get("/readyz").status_code == 200:
                    markets = client.get("/api/markets").json()
                    tickers = client.get("/api/tickers").json()
                    priced = {t["symbol"] for t in tickers if t.get("last")}
                    index = client.get("/")
                    if markets and priced >= {m["symbol"] for m in markets} and index.status_code == 200:
                        stack.markets = markets
                        return
                    last_error = f"{len(priced)}/{len(markets)} markets priced"
                else:
                    last_error = "readyz not ready"
            except (httpx.HTTPError, ValueError, KeyError) as exc:
                last_error = repr(exc)
            time.sleep(0.5)
    raise RuntimeError(f"stack not ready after {STACK_READY_S:.0f}s ({last_error}):\n{stack.log_tail()}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the supervisor (it stops its children and servers in order); SIGKILL the group if it hangs."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError):  # anything the supervisor left behind
        os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def chromium() -> str:
    path = chromium_path()
    if path is None:
        _unavailable("Debian's chromium is not installed (apt-get install chromium)")
    assert path is not None
    return path


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A failed browser test shows what the stack's processes logged (a CI run keeps nothing else)."""
    report = yield
    stack = getattr(item, "funcargs", {}).get("stack")
    if report.failed and call.when == "call" and isinstance(stack, Stack):
        report.sections.append(("exchange up logs", stack.logs_tail()))
    return report


@pytest.fixture(scope="session")
def stack(chromium: str) -> Iterator[Stack]:
    _ensure_frontend_built()
    # not under pytest's 0700 basetemp: PostgreSQL runs as an unprivileged user that must reach it
    data_dir = Path(tempfile.mkdtemp(prefix="exchange-e2e-"))
    log_path = data_dir / "up.log"
    port = free_port()
    # every test's browser comes from this one address: its per-address limits (sign-ups, market data reads,
    # WebSocket connections and book/candle snapshots) are set far past what one visitor gets, or a busy
    # stretch of the suite is refused and a page waits out a Retry-After (the tests of those refusals fake
    # them); per-account limits stay as they are
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "EXCHANGE_RATE_REGISTER_IP": "1000",
        "EXCHANGE_RATE_READS_IP": "1000000",
        "EXCHANGE_WS_MAX_PER_IP": "10000",
        "EXCHANGE_WS_SNAPSHOTS": "100000",
    }
    for var in ("EXCHANGE_REDIS_URL", "EXCHANGE_DATABASE_URL"):
        env.pop(var, None)
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "exchange.cli",
                "up",
                "--data-dir",
                str(data_dir / "var"),
                "--port",
                str(port),
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    stack = Stack(f"http://127.0.0.1:{port}", data_dir, log_path, proc)
    try:
        _wait_ready(stack)
        yield stack
    finally:
        _stop(proc)
        if proc.returncode not in (0, -signal.SIGTERM):
            print(f"`exchange up` exited with {proc.returncode}:\n{stack.log_tail()}", file=sys.stderr)
        if os.environ.get("EXCHANGE_E2E_KEEP") != "1":  # kept: the stack's logs, to read after a run
            shutil.rmtree(data_dir, ignore_errors=True)
        else:
            print(f"stack data and logs kept in {data_dir}", file=sys.stderr)


@pytest.fixture(scope="session")
def browser(chromium: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


PageFactory = Callable[..., Any]


@pytest.fixture
def new_page(browser: Any, stack: Stack) -> Iterator[PageFactory]:
    contexts: list[Any] = []
    problems: list[str] = []

    def make(width: int = 1280, height: int = 800, allow_console: str | None = None) -> Any:
        ctx = browser.new_context(
            base_url=stack.base_url, viewport={"width": width, "height": height}, accept_downloads=True
        )
        ctx.set_default_timeout(15_000)
        contexts.append(ctx)
        page = ctx.new_page()
        allowed = re.compile(allow_console) if allow_console else None
        page.on("console", lambda m: _console(m, problems, allowed))
        page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
        return page

    yield make
    for ctx in contexts:
        with contextlib.suppress(Exception):
            ctx.close()
    assert not problems, "browser reported errors:\n" + "\n".join(problems)


def _console(msg: Any, problems: list[str], allowed: re.Pattern[str] | None) -> None:
    """Console errors fail the test, except the browser's own note on an API answer of 4xx (an expected
    rejection that the page shows inline, such as a wrong password) and what the test explicitly allows."""
    if msg.type != "error" or (allowed and allowed.search(msg.text)):
        return
    if msg.text.startswith("Failed to load resource: the server responded with a status of 4"):
        return
    problems.append(f"console: {msg.text}")


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=False)
