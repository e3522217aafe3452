"""Health for load balancers and orchestrators (/health/live, /health/ready, /health) and
the Prometheus metrics (/metrics)."""

from __future__ import annotations

import anyio.to_thread
from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from assetry.errors import BackendUnavailable
from assetry.telemetry.prometheus import CONTENT_TYPE
from assetry.web import schemas
from assetry.web.deps import ServicesDep

router = APIRouter(tags=["operations"])


@router.get("/health/live", response_model=schemas.LiveOut, operation_id="getLiveness")
async def live() -> JSONResponse:
    """200 while the process serves requests; checks nothing else (a liveness probe
    must not fail because the database or the store is down: restarting would not help)."""
    return JSONResponse({"status": "ok"})


@router.get("/health/ready", response_model=schemas.HealthOut, operation_id="getReadiness",
            responses={503: {"model": schemas.HealthOut,
                             "description": "The database or the blob store does not "
                                            "answer; the failing part says why"}})
async def ready(services: ServicesDep) -> JSONResponse:
    """200 when the database and the blob store answer, else 503 naming the failing part.
    Each is probed on every call, for at most a few seconds, so the answer turns back to
    200 by itself once they are back."""
    parts = await services.health.check()
    ok = all(v == "ok" for v in parts.values())
    return JSONResponse({"status": "ok" if ok else "unavailable", **parts},
                        status_code=200 if ok else 503)


@router.get("/health", response_model=schemas.HealthOut, operation_id="getHealth",
            responses={503: {"model": schemas.HealthOut,
                             "description": "The database or the blob store does not "
                                            "answer; the failing part says why"}})
async def health(services: ServicesDep) -> JSONResponse:
    """The same answer as /health/ready (kept for the clients of the original contract)."""
    return await ready(services)


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
