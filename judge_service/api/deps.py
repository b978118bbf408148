"""Dependencies shared by the routers."""

from __future__ import annotations

from typing import cast

from fastapi import Request

from judge_service.context import AppContext


def get_ctx(request: Request) -> AppContext:
    return cast(AppContext, request.app.state.ctx)
