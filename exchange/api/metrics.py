"""A tiny Prometheus registry (text exposition format 0.0.4), per process.

Other parts report through the module-level instruments:

    from exchange.api import metrics
    metrics.WS_CLIENTS.inc()          # a WebSocket client connected (realtime helper)
    metrics.WS_CLIENTS.dec()          # ... and left
    metrics.ORDERS_PLACED.inc(1, "BTC-USDT")

New instruments: `metrics.REGISTRY.counter(name, help, labels)`, `.gauge(...)`, `.histogram(...)`;
callback gauges (evaluated at scrape time): `REGISTRY.gauge_callback(name, help, fn)`.
Each API process exposes its own numbers at `GET /metrics`.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Sequence


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(names: Sequence[str], values: Sequence[str], extra: str = "") -> str:
    parts = [f'{n}="{_escape(v)}"' for n, v in zip(names, values, strict=True)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


def _num(value: float) -> str:
    if value == int(value) and abs(value) < 2**53:
        return str(int(value))
    return repr(value)


class _Metric:
    kind = "untyped"

    def __init__(self, name: str, help_text: str, labels: Sequence[str] = ()) -> None:
        self.name = name
        self.help = help_text
        self.label_names = tuple(labels)
        self._lock = threading.Lock()

    def header(self) -> list[str]:
        return [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}"]

    def render(self) -> list[str]:  # pragma: no cover - overridden
        raise NotImplementedError


class Counter(_Metric):
    kind = "counter"

    def __init__(self, name: str, help_text: str, labels: Sequence[str] = ()) -> None:
        super().__init__(name, help_text, labels)
        self._values: dict[tuple[str, ...], float] = {}

    def inc(self, amount: float = 1, *label_values: str) -> None:
        with self._lock:
            self._values[label_values] = self._values.get(label_values, 0) + amount

    def value(self, *label_values: str) -> float:
        return self._values.get(label_values, 0)

    def render(self) -> list[str]:
        lines = self.header()
        with self._lock:
            items = sorted(self._values.items())
        if not items and not self.label_names:
            items = [((), 0)]
        lines += [f"{self.name}{_labels(self.label_names, k)} {_num(v)}" for k, v in items]
        return lines


class Gauge(Counter):
    kind = "gauge"

    def dec(self, amount: float = 1, *label_values: str) -> None:
        self.inc(-amount, *label_values)

    def set(self, value: float, *label_values: str) -> None:
        with self._lock:
            self._values[label_values] = value


class CallbackGauge(_Metric):
    kind = "gauge"

    def __init__(self, name: str, help_text: str, fn: Callable[[], float]) -> None:
        super().__init__(name, help_text)
        self._fn = fn

    def render(self) -> list[str]:
        try:
            value = float(self._fn())
        except Exception:
            return []
        return [*self.header(), f"{self.name} {_num(value)}"]


DEFAULT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Histogram(_Metric):
    kind = "histogram"

    def __init__(
        self,
        name: str,
        help_text: str,
        labels: Sequence[str] = (),
        buckets: Sequence[float] = DEFAULT_BUCKETS,
    ) -> None:
        super().__init__(name, help_text, labels)
        self.buckets = tuple(sorted(buckets))
        self._series: dict[tuple[str, ...], list[float]] = {}  # bucket counts..., +Inf count, sum

    def observe(self, value: float, *label_values: str) -> None:
        index = bisect.bisect_left(self.buckets, value)
        with self._lock:
            series = self._series.get(label_values)
            if series is None:
                series = self._series[label_values] = [0.0] * (len(self.buckets) + 2)
            series[index] += 1
            series[-1] += value

    def count(self, *label_values: str) -> int:
        series = self._series.get(label_values)
        return int(sum(series[:-1])) if series else 0

    def render(self) -> list[str]:
        lines = self.header()
        with self._lock:
            items = sorted((k, list(v)) for k, v in self._series.items())
        for key, series in items:
            cumulative = 0.0
            for bound, count in zip(self.buckets, series, strict=False):
                cumulative += count
                le = f'le="{_num(bound)}"'
                lines.append(f"{self.name}_bucket{_labels(self.label_names, key, le)} {_num(cumulative)}")
            cumulative += series[len(self.buckets)]
            inf = 'le="+Inf"'
            lines.append(f"{self.name}_bucket{_labels(self.label_names, key, inf)} {_num(cumulative)}")
            lines.append(f"{self.name}_sum{_labels(self.label_names, key)} {series[-1]!r}")
            lines.append(f"{self.name}_count{_labels(self.label_names, key)} {_num(cumulative)}")
        return lines


class Registry:
    def __init__(self) -> None:
        self._metrics: dict[str, _Metric] = {}

    def _add(self, metric: _Metric) -> _Metric:
        existing = self._metrics.get(metric.name)
        if existing is not None:
            return existing
        self._metrics[metric.name] = metric
        return metric

    def counter(self, name: str, help_text: str, labels: Sequence[str] = ()) -> Counter:
        metric = self._add(Counter(name, help_text, labels))
        assert isinstance(metric, Counter)
        return metric

    def gauge(self, name: str, help_text: str, labels: Sequence[str] = ()) -> Gauge:
        metric = self._add(Gauge(name, help_text, labels))
        assert isinstance(metric, Gauge)
        return metric

    def gauge_callback(self, name: str, help_text: str, fn: Callable[[], float]) -> CallbackGauge:
        metric = self._add(CallbackGauge(name, help_text, fn))
        assert isinstance(metric, CallbackGauge)
        return metric

    def histogram(
        self,
        name: str,
        help_text: str,
        labels: Sequence[str] = (),
        buckets: Sequence[float] = DEFAULT_BUCKETS,
    ) -> Histogram:
        metric = self._add(Histogram(name, help_text, labels, buckets))
        assert isinstance(metric, Histogram)
        return metric

    def render(self) -> str:
        lines: list[str] = []
        for metric in list(self._metrics.values()):
            lines += metric.render()
        return "\n".join(lines) + "\n"


REGISTRY = Registry()

HTTP_REQUESTS = REGISTRY.counter(
    "exchange_http_requests_total",
    "HTTP requests by method, route template and status",
    ("method", "route", "status"),
)
HTTP_LATENCY = REGISTRY.histogram(
    "exchange_http_request_duration_seconds", "HTTP request latency by method and route", ("method", "route")
)
ORDERS_PLACED = REGISTRY.counter("exchange_orders_placed_total", "orders accepted by the engine", ("symbol",))
TRADES = REGISTRY.counter(
    "exchange_trades_total", "trades made by orders placed through this process", ("symbol",)
)
WS_CLIENTS = REGISTRY.gauge("exchange_ws_clients", "connected WebSocket clients")
RATE_LIMITED = REGISTRY.counter(
    "exchange_rate_limited_total", "requests refused with 429 by scope", ("scope",)
)
