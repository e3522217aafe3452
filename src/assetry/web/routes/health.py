"""/health and /metrics."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse

from assetry.web import schemas
from assetry.web.deps import ServicesDep

router = APIRouter(tags=["operations"])


@router.get("/health", response_model=schemas.HealthOut, operation_id="getHealth",
            responses={503: {"model": schemas.HealthOut}})
async def health(services: ServicesDep) -> JSONResponse:
    """200 when the database and the blob store answer, else 503 naming the failing part."""
    parts = await services.health.check()
    ok = all(v == "ok" for v in parts.values())
    return JSONResponse({"status": "ok" if ok else "unavailable", **parts},
                        status_code=200 if ok else 503)


@router.get("/metrics", response_class=PlainTextResponse, operation_id="getMetrics")
async def metrics(services: ServicesDep) -> PlainTextResponse:
    """Prometheus text format."""
    lines = []
    for name, value in sorted(services.metrics.counters.items()):
        lines += [f"# TYPE assetry_{name}_total counter", f"assetry_{name}_total {value}"]
    lines += ["# TYPE assetry_render_seconds_total counter",
              f"assetry_render_seconds_total {services.metrics.render_seconds:.6f}"]
    lines.append("# TYPE assetry_jobs gauge")
    for state, count in sorted((await services.health.jobs()).items()):
        lines.append(f'assetry_jobs{{state="{state}"}} {count}')
    return PlainTextResponse("\n".join(lines) + "\n",
                             media_type="text/plain; version=0.0.4; charset=utf-8")
