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
