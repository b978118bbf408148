"""The web UI: static pages and ES modules served at /ui, talking only to the service's own JSON API.

Why static files and not server-rendered templates: the pages read the same /v1 routes as curl,
the client and the CLI, so the UI cannot drift from the contract, needs no build step or node
toolchain, works offline (nothing is fetched from a CDN), and is unaffected by refactors behind
the routers. See README.md ("Web UI") and docs/architecture.md.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).resolve().parent / "static"


def mount(app: FastAPI) -> None:
    """Serve the pages at /ui (index.html for /ui/) and redirect /ui to /ui/."""

    @app.get("/ui", include_in_schema=False)
    async def _ui_root() -> RedirectResponse:
        return RedirectResponse("/ui/")

    app.mount("/ui", StaticFiles(directory=STATIC, html=True), name="ui")
