"""The FastAPI app factory: settings → context → routers, errors in the contract's shape."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from judge_service import __version__
from judge_service.api import agreement, catalog, judgments, metrics, ratings, runs  # the judging core
from judge_service.api import evalsets, evaluation_rerun, evaluations, exports, imports  # eval sets, importers, the combined report
from judge_service.api import benchmarks, memorization, training  # layers: one router each
from judge_service.api import rating_tasks, reader  # the web UI's own routes
from judge_service.api import pilots  # rubric pilots: wordings tried on a small sample
from judge_service.api import length_control  # joint length control across checkpoints
from judge_service import ui
from judge_service import observability
from judge_service.security import auth, body_limit, disconnect, ratelimit, untrusted
from judge_service.security import openapi as access_docs
from judge_service.security.keys import KeyStore
from judge_service.context import AppContext
from judge_service.errors import RateLimited, ServiceError
from judge_service.settings import Settings

log = logging.getLogger("judge_service")


def _field_of(loc: tuple[int | str, ...]) -> str | None:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts) or None


def _allowed_methods(app: FastAPI, path: str) -> str:
    """Every documented method of the path (for a 405's Allow header)."""
    paths = app.openapi().get("paths", {})
    if path in paths:  # a literal path wins over a template that also matches it (/v1/runs/upload vs /v1/runs/{id})
        methods = {m.upper() for m in paths[path]}
    else:
        methods = {m.upper() for template, ops in paths.items()
                   if re.fullmatch(re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)), path) for m in ops}
    if "GET" in methods:
        methods.add("HEAD")
    return ", ".join(sorted(methods))


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def _service_error(request: Request, exc: ServiceError) -> JSONResponse:
        headers = {"Retry-After": str(max(1, round(exc.retry_after)))} if isinstance(exc, RateLimited) else None
        return JSONResponse(exc.to_body(), status_code=exc.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first: dict[str, Any] = errors[0] if errors else {"loc": (), "msg": "invalid request"}
        field = _field_of(tuple(first.get("loc", ())))
        msg = first.get("msg", "invalid value")
        message = f"{field}: {msg}" if field else msg
        if len(errors) > 1:
            message += f" (and {len(errors) - 1} more problem(s))"
        return JSONResponse({"error": {"code": "invalid_input", "message": message, "field": field}}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:
            # Only the framework raises a bare 400 (a body that is not UTF-8, broken multipart): answer
            # it like invalid JSON, 422 in the contract's shape, which is what the schema documents.
            return JSONResponse({"error": {"code": "invalid_input", "message": f"the request body could not be parsed "
                                           f"({exc.detail}); send UTF-8 JSON, or multipart/form-data for uploads",
                                           "field": "body"}}, status_code=422)
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:
            # Starlette lists only the first matching route's methods; one path can have several routes.
            headers["Allow"] = _allowed_methods(request.app, request.url.path) or headers.get("Allow", "")
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse({"error": {"code": code, "message": str(exc.detail), "field": None}},
                            status_code=exc.status_code, headers=headers or None)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse({"error": {"code": "internal", "message": "internal error; see the service log", "field": None}},
                            status_code=500)


def create_app(settings: Settings | None = None, context: AppContext | None = None) -> FastAPI:
    settings = settings or Settings()
    ctx = context or AppContext.build(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await ctx.start()
        try:
            yield
        finally:
            await ctx.stop()

    app = FastAPI(title="judge-service", version=__version__, lifespan=lifespan,
                  description="Did the fine-tune beat the base model? LLM-as-judge with bias mitigation and honest statistics.")
    app.state.ctx = ctx

    untrusted.install(app)  # innermost: JSON too deep or with lone surrogates, after the size and auth checks

    # Middleware added later runs earlier: auth must see a request before the rate limiter, and
    # observability (request id, access log, metrics) sees every answer, refusals included.
    body_limit.install(app, settings.max_body_bytes)  # Content-Length over the limit, and chunked bodies
    ratelimit.install(app, settings.rate_limit_per_minute, settings.rate_limit_burst)
    auth.install(app, KeyStore(ctx.db), enabled=settings.auth_enabled, metrics_require_auth=settings.metrics_require_auth)
    access_docs.document(app, auth=settings.auth_enabled, rate_limited=bool(settings.rate_limit_per_minute))
    disconnect.install(app)  # a judging request whose client has gone stops its pending judge calls
    observability.install(app, ctx)
    install_error_handlers(app)
    app.include_router(catalog.router)
    app.include_router(judgments.router)
    app.include_router(runs.router)
    app.include_router(exports.router)
    app.include_router(ratings.router)
    app.include_router(agreement.router)
    app.include_router(length_control.router)
    app.include_router(metrics.router)
    app.include_router(imports.router)
    app.include_router(evalsets.router)
    app.include_router(evaluations.router)
    app.include_router(evaluation_rerun.router)
    app.include_router(training.router)
    app.include_router(benchmarks.router)
    app.include_router(memorization.router)
    app.include_router(reader.router)
    app.include_router(rating_tasks.router)
    app.include_router(rating_tasks.rater_router)
    app.include_router(pilots.router)
    ui.mount(app)
    return app
