"""`/healthz` (the process answers) and `/readyz` (store, cache and both upstreams answer)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from gateway.services.container import Services


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    services: Services = request.app.state.services
    readiness = await services.readiness.check()
    body = {
        "status": "ready" if readiness.ready else "not ready",
        "checks": {
            c.name: {
                "ok": c.ok,
                **({"error": c.error} if c.error else {}),
                **({"note": c.note} if c.note else {}),
            }
            for c in readiness.checks
        },
    }
    return JSONResponse(body, status_code=200 if readiness.ready else 503)
