"""The FastAPI app factory: settings → context → routers, errors in the contract's shape."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from judge_service import __version__
from judge_service.api import catalog, judgments, runs
from judge_service.context import AppContext
from judge_service.errors import PayloadTooLarge, RateLimited, ServiceError
from judge_service.settings import Settings

log = logging.getLogger("judge_service")


def _field_of(loc: tuple) -> str | None:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts) or None


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def _service_error(request: Request, exc: ServiceError) -> JSONResponse:
        headers = {"Retry-After": str(max(1, round(exc.retry_after)))} if isinstance(exc, RateLimited) else None
        return JSONResponse(exc.to_body(), status_code=exc.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
        field = _field_of(tuple(first.get("loc", ())))
        msg = first.get("msg", "invalid value")
        message = f"{field}: {msg}" if field else msg
        if len(errors) > 1:
            message += f" (and {len(errors) - 1} more problem(s))"
        return JSONResponse({"error": {"code": "invalid_input", "message": message, "field": field}}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse({"error": {"code": code, "message": str(exc.detail), "field": None}},
                            status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse({"error": {"code": "internal", "message": "internal error; see the service log", "field": None}},
                            status_code=500)


def create_app(settings: Settings | None = None, context: AppContext | None = None) -> FastAPI:
    settings = settings or Settings()
    ctx = context or AppContext.build(settings)
    runs.install(ctx)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        for start in ctx.extras.get("on_startup", []):
            await start(ctx)
        if settings.warm_judges:
            await ctx.warm_judges()
        try:
            yield
        finally:
            for stop in ctx.extras.get("on_shutdown", []):
                await stop(ctx)
            await ctx.aclose()

    app = FastAPI(title="judge-service", version=__version__, lifespan=lifespan,
                  description="Did the fine-tune beat the base model? LLM-as-judge with bias mitigation and honest statistics.")
    app.state.ctx = ctx

    @app.middleware("http")
    async def _body_limit(request: Request, call_next):
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > settings.max_body_bytes:
            exc = PayloadTooLarge(f"request body is {length} bytes; the limit is {settings.max_body_bytes} (JUDGE_MAX_BODY_BYTES)",
                                  field="body")
            return JSONResponse(exc.to_body(), status_code=exc.status)
        return await call_next(request)

    install_error_handlers(app)
    app.include_router(catalog.router)
    app.include_router(judgments.router)
    app.include_router(runs.router)
    return app
