"""`exchange bench <which>` parses the shared options and dispatches to exchange.bench.<which>.main."""

from __future__ import annotations

import argparse
import types

import pytest

from exchange import bench


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    return parser.parse_args(argv)


def test_dispatches_to_the_module_main(monkeypatch: pytest.MonkeyPatch) -> None:
    """run() calls main(args) of the chosen module and returns its exit code."""
    seen: list[argparse.Namespace] = []

    def main(args: argparse.Namespace) -> int:
        seen.append(args)
        return 7

    fake = types.ModuleType("exchange.bench.api")
    fake.main = main  # type: ignore[attr-defined]
    monkeypatch.setitem(__import__("sys").modules, "exchange.bench.api", fake)
    args = _parse(["api", "--size", "50", "--url", "http://127.0.0.1:1"])
    assert bench.run(args) == 7
    assert (seen[0].size, seen[0].url, seen[0].redis_url) == (50, "http://127.0.0.1:1", None)


def test_unknown_benchmark_is_rejected() -> None:
    """Only engine, api and persist are accepted."""
    with pytest.raises(SystemExit):
        _parse(["nope"])


def test_sigterm_stops_a_benchmark_through_its_cleanup(monkeypatch: pytest.MonkeyPatch) -> None:
    """A SIGTERM during main() raises SystemExit inside it, so its `finally` (stopping the servers and the
    stack it started) runs; the previous SIGTERM handler is back afterwards."""
    import os
    import signal
    import time

    cleaned: list[bool] = []

    def main(args: argparse.Namespace) -> int:
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler's SystemExit interrupts it
            return 0
        finally:
            cleaned.append(True)

    fake = types.ModuleType("exchange.bench.persist")
    fake.main = main  # type: ignore[attr-defined]
    monkeypatch.setitem(__import__("sys").modules, "exchange.bench.persist", fake)
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(SystemExit) as exc:
        bench.run(_parse(["persist"]))
    assert exc.value.code == 128 + signal.SIGTERM
    assert cleaned == [True]
    assert signal.getsignal(signal.SIGTERM) is before
