"""The web console: the built single-page app in ``static/`` served at ``/``.

The app is built from ``console/`` at the repository root (React + Vite) and the build is
committed here, so ``pip install`` ships it and nothing is fetched at run time. It talks only to
the public API. Mounted after every API route; a path under an API prefix never even matches
the page's route, so the API's own answers stay as they were (an unknown ``/v1/...`` path is a
problem+json 404, a wrong method on an API route a 405).
"""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.convertors import PathConvertor, register_url_convertor

__all__ = ["API_PREFIXES", "STATIC_DIR", "mount_console"]

STATIC_DIR = Path(__file__).parent / "static"

API_PREFIXES = (
    "v1",
    "health",
    "docs",
    "redoc",
    "openapi.json",
    "assistants",
    "threads",
    "runs",
    "store",
    "mcp",
    "a2a",
    "info",
    "ok",
)
"""First path segments owned by the API: never answered with the console's page."""


class _PagePathConvertor(PathConvertor):
    """A path whose first segment is not an API prefix (the route does not match API paths)."""

    regex = "(?!(?:" + "|".join(re.escape(p) for p in API_PREFIXES) + ")(?:/|$)).*"


register_url_convertor("console_page", _PagePathConvertor())


def mount_console(app: FastAPI, static_dir: Path = STATIC_DIR) -> None:
    """Serve the console's files and its page for every other ``GET`` (client-side routes).

    Call it last, after every API router.
    """
    index = static_dir / "index.html"
    if not index.is_file():
        raise RuntimeError(f"the web console is not built: {index} is missing (npm run build in console/)")
    root = static_dir.resolve()
    app.mount("/assets", StaticFiles(directory=static_dir / "assets"), name="console-assets")

    @app.get("/{path:console_page}", include_in_schema=False)
    async def console_page(path: str) -> FileResponse:
        candidate = (static_dir / path).resolve()
        if path and candidate.is_relative_to(root) and candidate.is_file():
            return FileResponse(candidate)
        return FileResponse(index, headers={"Cache-Control": "no-cache"})
