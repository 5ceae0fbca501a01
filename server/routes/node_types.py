"""``GET /v1/node-types``: every registered node type (plugins included) as editors need it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from server.deps import Requires, ResourcesDep

__all__ = ["router"]

router = APIRouter(prefix="/node-types", tags=["node-types"])


@router.get("", summary="Registered node types: title, category, config JSON Schema, routing, interrupts")
async def list_(principal: Requires.WORKFLOWS_READ, resources: ResourcesDep) -> dict[str, Any]:
    return {"items": resources.engine.resources.registry.describe(), "next_cursor": None}
