"""``GET /health``: 200 when the database answers, 503 otherwise."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from server.deps import ResourcesDep
from server.error_boundary import DATABASE_RETRY_AFTER_SECONDS
from server.problems import problem_response

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get("/health", response_model=None, summary="Readiness")
async def health(resources: ResourcesDep) -> JSONResponse | dict[str, str]:
    try:
        async with resources.database.session() as session:
            await session.execute(text("SELECT 1"))
    except Exception:
        return problem_response(
            503,
            "Service unavailable",
            "database is not reachable",
            headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
        )
    return {"status": "ok"}
