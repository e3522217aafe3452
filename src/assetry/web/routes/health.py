"""/health and /metrics."""

from __future__ import annotations

import anyio.to_thread
from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from assetry.errors import BackendUnavailable
from assetry.telemetry.prometheus import CONTENT_TYPE
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


@router.get("/metrics", response_class=Response, operation_id="getMetrics",
            responses={200: {"content": {"text/plain": {}},
                             "description": "Prometheus text format"}})
async def metrics(services: ServicesDep) -> Response:
    """Prometheus text format: this process's metrics, or the sum over every worker
    process of `assetry serve`, and the durable jobs by state (left out while the
    database does not answer, so the rest can still be scraped)."""
    try:
        jobs: dict[str, int] | None = await services.health.jobs()
    except BackendUnavailable:
        jobs = None
    # Off the event loop: in multiprocess mode this reads every process's files.
    text = await anyio.to_thread.run_sync(services.metrics.exposition, jobs)
    return Response(text, media_type=CONTENT_TYPE)
