"""docs/examples/bot.py, the bot sketch docs/api.md points to, runs against a live API as written."""

from __future__ import annotations

import asyncio
import importlib.util
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from exchange.api.app import create_app
from tests.api.conftest import PASSWORD, new_email
from tests.api.test_ws_support import SYMBOL, LiveServer, engine_for, fund, token, ws_settings

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "bot.py"


def _example() -> Any:
    spec = importlib.util.spec_from_file_location("bot_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_example_bot_follows_the_book_quotes_refreshes_its_token_and_cancels_on_exit(
    seeded: str, pg_url: str
) -> None:
    """With 4-second access tokens (renewed halfway) and a book that keeps moving: the bot gets a snapshot
    and contiguous updates (no gap), places its quotes (no error frame), refreshes its token and
    re-authenticates the open connection at least once, and leaves no order open when it stops."""
    settings = ws_settings(seeded, pg_url, access_ttl_s=4)
    engine = engine_for(seeded)
    server = LiveServer(create_app(settings)).start()
    stop = threading.Event()
    try:
        email = f"bot-{new_email()}"
        r = httpx.post(f"{server.http_url}/api/auth/register", json={"email": email, "password": PASSWORD})
        bot_account = r.json()["id"]
        fund(engine, bot_account)
        fund(engine, 9_101)
        maker = {"Authorization": f"Bearer {token(ws_settings(seeded, pg_url), 9_101)}"}  # (10 minutes)

        def move_the_book() -> None:
            with httpx.Client(base_url=server.http_url, headers=maker) as http:
                for side, price in (("buy", "59000"), ("sell", "61000")):
                    body = {"symbol": SYMBOL, "side": side, "type": "limit", "price": price, "qty": "0.01"}
                    assert http.post("/api/orders", json=body).status_code == 201
                step = 0
                while not stop.wait(0.3):
                    step += 1
                    body = {
                        "symbol": SYMBOL,
                        "side": "buy",
                        "type": "limit",
                        "price": f"{59000 + step}",
                        "qty": "0.01",
                    }
                    http.post("/api/orders", json=body)

        mover = threading.Thread(target=move_the_book, daemon=True)
        mover.start()
        time.sleep(0.3)
        stats = asyncio.run(_example().Bot(server.http_url, email, PASSWORD).run(4.5))
        stop.set()
        mover.join(5)
        assert stats["snapshots"] >= 1 and stats["updates"] >= 3 and stats["gaps"] == 0, stats
        assert stats["placed"] >= 2 and stats["errors"] == 0, stats
        assert stats["refreshes"] >= 1, stats
        assert engine.open_orders(bot_account) == []
        placed = [engine.get_order(int(i)) for i in engine.redis.hvals(f"coid:{bot_account}")]
        assert {o["side"] for o in placed} == {"buy", "sell"}, placed  # by client_order_id, as sent
        assert all(o["status"] == "cancelled" for o in placed), placed
    finally:
        stop.set()
        server.stop()
