"""Library loading (idempotent, versioned), the `exchange book` and `exchange seed` commands."""

from __future__ import annotations

import argparse
import json

import pytest

from exchange.engine import Engine
from exchange.engine.cli import add_book_arguments, add_order_arguments, run_book, run_order
from exchange.engine.library import library_source, load_library
from exchange.seed import SEED_MARKETS
from exchange.seed import run as run_seed
from tests.engine.conftest import Exchange


def test_library_text_registers_every_command_and_carries_its_version() -> None:
    """The built library names itself `exchange`, embeds its version and registers each command."""
    text, version = library_source()
    assert text.startswith("#!lua name=exchange\n")
    assert f"local LIBRARY_VERSION = '{version}'" in text
    names = "ex_place ex_cancel ex_cancel_all ex_deposit ex_withdraw ex_set_market_status ex_create_market"
    for name in [*names.split(), "ex_create_asset", "ex_book", "ex_version"]:
        assert f"'{name}'" in text


def test_the_reference_uses_the_engines_limits() -> None:
    """The caps the Lua library sets (makers, cancels and looks per call, open orders per account) are the
    ones the reference matcher, the benchmark and the API loops count with."""
    import re

    from exchange import reference

    text, _version = library_source()
    limits = {name: int(value) for name, value in re.findall(r"^U\.(\w+) = (\d+)", text, re.MULTILINE)}
    assert limits["MAX_MAKERS"] == reference.MAX_MAKERS
    assert limits["CANCEL_EXAMINE"] == reference.CANCEL_EXAMINE
    assert limits["MAX_OPEN_ORDERS"] == reference.MAX_OPEN_ORDERS
    assert re.search(r"^U\.CANCEL_BATCH = U\.MAX_MAKERS$", text, re.MULTILINE)
    assert reference.CANCEL_BATCH == reference.MAX_MAKERS


def test_load_is_idempotent_and_replaces_a_stale_library(ex: Exchange) -> None:
    """Loading twice keeps the version; a different library under the same name is replaced on load."""
    version = library_source()[1]
    assert load_library(ex.redis) == version
    assert ex.redis.fcall_ro("ex_version", 0) == version
    stale = "#!lua name=exchange\nredis.register_function{function_name='ex_version', callback=function() return 'old' end, flags={'no-writes'}}"  # noqa: E501
    ex.redis.function_load(stale, replace=True)
    assert ex.redis.fcall_ro("ex_version", 0) == "old"
    ex.engine.load()
    assert ex.redis.fcall_ro("ex_version", 0) == version


def test_exchange_book_prints_decimal_levels_spread_and_seq(
    ex: Exchange, redis_url_each: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`exchange book BTC-USDT` shows decimal prices and quantities at the tick's and lot's decimals (the
    columns line up on the point), level counts, the spread and the seq; a depth outside 1..1000 is a usage
    error."""
    ex.fund(1, "USDT", 10**12)
    ex.fund(2, "BTC", 10**10)
    ex.place(1, "buy", price=6_000_000, qty=100, symbol="BTC-USDT")
    ex.place(1, "buy", price=6_000_000, qty=50, symbol="BTC-USDT")
    ex.place(2, "sell", price=6_000_125, qty=5_000, symbol="BTC-USDT")
    parser = argparse.ArgumentParser()
    add_book_arguments(parser)
    assert run_book(parser.parse_args(["BTC-USDT", "--redis-url", redis_url_each])) == 0
    out = capsys.readouterr().out
    assert "book seq 3" in out
    assert "60001.25" in out and "0.05" in out
    assert "60000" in out and "0.0015" in out and "     2" in out
    assert "spread 1.25" in out
    rows = [line for line in out.splitlines() if line.startswith(("ask ", "bid "))]
    assert [line.split()[1:3] for line in rows] == [["60001.25", "0.05000"], ["60000.00", "0.00150"]]
    assert len({line.index(".") for line in rows}) == 1, f"prices not aligned on the point:\n{out}"
    assert len({line.rindex(".") for line in rows}) == 1, f"quantities not aligned on the point:\n{out}"
    assert run_book(parser.parse_args(["NOPE-USDT", "--redis-url", redis_url_each])) == 1
    for depth in ("0", "1001", "x"):  # a usage error (exit 2) naming the range, before any Redis call
        with pytest.raises(SystemExit) as exit_info:
            parser.parse_args(["BTC-USDT", "--depth", depth])
        assert exit_info.value.code == 2
        assert "from 1 to 1000" in capsys.readouterr().err


def test_exchange_book_takes_a_symbol_in_any_case_and_names_the_markets_for_an_unknown_one(
    ex: Exchange, redis_url_each: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`exchange book btc-usdt` is BTC-USDT's book; an unknown symbol's error lists the markets there are."""
    parser = argparse.ArgumentParser()
    add_book_arguments(parser)
    assert run_book(parser.parse_args(["btc-usdt", "--redis-url", redis_url_each])) == 0
    assert capsys.readouterr().out.startswith("BTC-USDT  status trading")
    assert run_book(parser.parse_args(["nope-usdt", "--redis-url", redis_url_each])) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: no market NOPE-USDT; the markets are: ") and "BTC-USDT" in err


def test_exchange_order_prints_the_record_and_the_order_object(
    ex: Exchange, redis_url_each: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`exchange order ID` shows the stored record and the decoded order object; an unknown id exits 1."""
    ex.fund(1, "USDT", 10**12)
    order = ex.place(1, "buy", price=6_000_000, qty=100, symbol="BTC-USDT", client_order_id="c-1")["order"]
    parser = argparse.ArgumentParser()
    add_order_arguments(parser)
    assert run_order(parser.parse_args([str(order["id"]), "--redis-url", redis_url_each])) == 0
    out = capsys.readouterr().out
    first, _, rest = out.partition("\n")
    head = f"1|BTC-USDT|buy|||6000000|100||USDT|||c-1|{order['created_ms']}"
    assert first == f"order:{order['id']} {head}|open||||{order['hold']}|"
    assert json.loads(rest) == order
    assert run_order(parser.parse_args(["999999", "--redis-url", redis_url_each])) == 1


def test_exchange_seed_is_idempotent(
    redis_url_each: str, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    """`exchange seed` loads every seed market and can run again without changing them."""
    args = argparse.Namespace(redis_url=redis_url_each, data_dir=None)
    assert run_seed(args) == 0
    before = engine.markets()
    assert run_seed(args) == 0
    assert engine.markets() == before
    assert {m.symbol for m in SEED_MARKETS} <= {m["symbol"] for m in before}
    assert "seeded 7 assets and 6 markets" in capsys.readouterr().out
