"""Who may call what: API-key authentication and read/write scopes, as ASGI middleware.

With ``settings.auth_enabled`` (env ``JUDGE_AUTH_ENABLED``) every ``/v1`` route needs a key, sent
as ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``:

- no key, or an unknown or revoked one -> 401 ``unauthorized`` (with ``WWW-Authenticate``);
- a ``read`` key on a write method (POST, PUT, PATCH, DELETE) -> 403 ``forbidden``.

Open without a key: ``/healthz`` (load balancers probe it), the API docs and ``/openapi.json``
(the contract is public), and ``/metrics`` unless ``JUDGE_METRICS_REQUIRE_AUTH`` is set:
Prometheus scrapers rarely carry bearer tokens, and the metrics hold only counts, latencies
and costs, never texts or keys; expose the port only to the scraper's network.

Middleware rather than a FastAPI dependency so that routers added by any feature are covered
without each one remembering to declare it. The caller's ``Principal`` is left in
``request.state.principal`` for the rate limiter and the access log.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from judge_service.errors import Forbidden, ServiceError, Unauthorized
from judge_service.security.keys import KeyStore, Principal

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
HOW_TO_GET_A_KEY = "create one with: judge keys create --scope read|write --name NAME"


def error_response(exc: ServiceError, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(exc.to_body(), status_code=exc.status, headers=headers)


def presented_key(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The key from ``Authorization: Bearer`` or ``X-API-Key``; None if neither is there."""
    found: dict[bytes, str] = {}
    for name, value in headers:
        if name in (b"authorization", b"x-api-key") and name not in found:
            found[name] = value.decode("latin-1").strip()
    auth = found.get(b"authorization")
    if auth:
        scheme, _, token = auth.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    return found.get(b"x-api-key") or None


def needs_key(path: str, *, metrics_require_auth: bool) -> bool:
    return path == "/v1" or path.startswith("/v1/") or (metrics_require_auth and path == "/metrics")


def check_access(principal: Principal | None, method: str, path: str, had_key: bool) -> ServiceError | None:
    """The error to answer with, or None if the call is allowed."""
    if principal is None:
        if had_key:
            return Unauthorized(f"unknown or revoked API key; {HOW_TO_GET_A_KEY}")
        return Unauthorized(f"missing API key: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'; {HOW_TO_GET_A_KEY}")
    if method.upper() in WRITE_METHODS and not principal.can_write():
        return Forbidden(f"API key '{principal.name}' has scope read; {method.upper()} {path} needs a key with scope write")
    return None


class AuthMiddleware:
    def __init__(self, app: ASGIApp, keys: KeyStore, *, metrics_require_auth: bool = False) -> None:
        self.app = app
        self.keys = keys
        self.metrics_require_auth = metrics_require_auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not needs_key(scope["path"], metrics_require_auth=self.metrics_require_auth):
            await self.app(scope, receive, send)
            return
        key = presented_key(scope.get("headers") or [])
        principal = self.keys.verify(key) if key else None
        error = check_access(principal, scope["method"], scope["path"], had_key=key is not None)
        if error is not None:
            headers = {"WWW-Authenticate": 'Bearer realm="judge-service"'} if error.status == 401 else None
            await error_response(error, headers)(scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)


def install(app: FastAPI, keys: KeyStore, *, enabled: bool, metrics_require_auth: bool = False) -> None:
    """Add the middleware when auth is on. Call before the rate limiter's install (it reads the principal)."""
    if enabled:
        app.add_middleware(AuthMiddleware, keys=keys, metrics_require_auth=metrics_require_auth)
