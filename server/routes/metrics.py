"""``GET /metrics``: Prometheus text exposition, for the deployment's scraper only.

The figures span all tenants, so no tenant credential opens it: the scraper sends
``Authorization: Bearer <EAWE_METRICS_TOKEN>``. With no token configured the route answers 404.
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request
from fastapi.responses import Response

from eawe.db.models import RunStatus
from eawe.db.repositories.operations import metrics_snapshot
from eawe.telemetry.metrics import CONTENT_TYPE, exposition
from server.deps import ResourcesDep
from server.problems import problem_response

__all__ = ["router"]

router = APIRouter(tags=["operations"])


@router.get("/metrics", response_model=None, include_in_schema=False)
async def metrics(request: Request, resources: ResourcesDep) -> Response:
    token = resources.settings.metrics_token
    if token is None or not token.get_secret_value():
        return problem_response(
            404, "Not found", "metrics are off: set EAWE_METRICS_TOKEN to enable /metrics"
        )
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), token.get_secret_value().encode()
    ):
        return problem_response(
            401,
            "Unauthorized",
            "send Authorization: Bearer <EAWE_METRICS_TOKEN>",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    async with resources.database.session() as session:
        snapshot = await metrics_snapshot(session)
    return Response(exposition(snapshot, [s.value for s in RunStatus]), media_type=CONTENT_TYPE)
