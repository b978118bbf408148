"""Dependencies shared by the routers."""

from __future__ import annotations

from typing import cast

from fastapi import Request

from judge_service.context import AppContext


async def get_ctx(request: Request) -> AppContext:
    # async: FastAPI runs a plain ``def`` dependency on its worker-thread pool, one thread hop (and
    # GIL hand-off) per request for an attribute read.
    return cast(AppContext, request.app.state.ctx)
