"""Operations: `/healthz` (process alive), `/readyz` (Redis, PostgreSQL, engine library), `/metrics`."""

from __future__ import annotations

from typing import Any

from litestar import Controller, MediaType, Request, Response, get
from litestar.openapi.datastructures import ResponseSpec

from exchange.api import metrics
from exchange.api.context import services
from exchange.api.schemas import Health


async def _engine_loaded(redis: Any) -> bool:
    libraries = await redis.execute_command("FUNCTION", "LIST", "LIBRARYNAME", "exchange")
    return bool(libraries)


class OpsController(Controller):
    path = "/"
    tags = ["operations"]

    @get("/healthz", operation_id="healthz")
    async def healthz(self) -> Health:
        """The process answers."""
        return Health(status="ok")

    @get(
        "/readyz",
        operation_id="readyz",
        responses={
            503: ResponseSpec(data_container=Health, description="not ready", generate_examples=False)
        },
    )
    async def readyz(self, request: Request[Any, Any, Any]) -> Response[Health]:
        """Ready when Redis and PostgreSQL answer and the engine library is loaded (else 503)."""
        svc = services(request)
        checks: dict[str, str] = {}
        try:
            await svc.redis.ping()
            checks["redis"] = "ok"
            checks["engine"] = "ok" if await _engine_loaded(svc.redis) else "library not loaded"
        except Exception as exc:
            checks["redis"] = f"error: {type(exc).__name__}"
        if svc.pool is None:
            checks["postgres"] = "not configured"
        else:
            try:
                async with svc.pool.connection(timeout=2.0) as conn:
                    await conn.execute("SELECT 1")
                checks["postgres"] = "ok"
            except Exception as exc:
                checks["postgres"] = f"error: {type(exc).__name__}"
        ok = all(v == "ok" for v in checks.values())
        return Response(
            Health(status="ok" if ok else "unavailable", checks=checks), status_code=200 if ok else 503
        )

    @get("/metrics", operation_id="metrics", media_type=MediaType.TEXT)
    async def metrics_text(self, request: Request[Any, Any, Any]) -> str:
        """Prometheus text exposition of this process's counters, histograms and gauges, plus the
        persistence lag and reconciliation counters."""
        return metrics.REGISTRY.render() + await _persistence_metrics(request)


async def _persistence_metrics(request: Request[Any, Any, Any]) -> str:
    """Lag per stream and reconciliation counters (`workers.lag`); empty without a reachable PostgreSQL."""
    svc = services(request)
    if svc.pool is None:
        return ""
    try:
        from workers.lag import lag_async, reconcile_counters_async, render_metrics

        async with svc.pool.connection(timeout=2.0) as conn:
            report = await lag_async(svc.redis, conn)
        return render_metrics(report, await reconcile_counters_async(svc.redis))
    except Exception:  # metrics must not fail because the history database is down
        return ""
