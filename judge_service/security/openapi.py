"""Access control in the OpenAPI schema: the key schemes and the 401/403/429 answers of ``/v1``.

Auth and rate limits are middleware, invisible to FastAPI's schema generation; without this the
published contract would not say that a key is needed or that 429 can happen, and generated
clients and schema-based tests would treat those answers as undocumented.
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict

from fastapi import FastAPI

_ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "object", "required": ["code", "message", "field"], "properties": {
        "code": {"type": "string"}, "message": {"type": "string"}, "field": {"type": ["string", "null"]}}}},
}


class _Response(TypedDict):
    """An OpenAPI Response Object for an error answer."""

    description: str
    content: dict[str, dict[str, object]]
    headers: NotRequired[dict[str, dict[str, object]]]


def _error(description: str, headers: dict[str, dict[str, object]] | None = None) -> _Response:
    out: _Response = {"description": description, "content": {"application/json": {"schema": _ERROR_SCHEMA}}}
    if headers:
        out["headers"] = headers
    return out


def document(app: FastAPI, *, auth: bool, rate_limited: bool) -> None:
    if not (auth or rate_limited):
        return
    generate = app.openapi
    documented = False

    def openapi() -> dict[str, Any]:  # FastAPI.openapi's own type: the schema is a JSON document
        nonlocal documented
        schema = generate()  # FastAPI caches it in app.openapi_schema; amend that copy once
        if documented:
            return schema
        if auth:
            schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
            schemes["bearerKey"] = {"type": "http", "scheme": "bearer", "description": "an API key from `judge keys create`"}
            schemes["headerKey"] = {"type": "apiKey", "in": "header", "name": "X-API-Key"}
        for path, ops in schema.get("paths", {}).items():
            if not path.startswith("/v1"):
                continue
            for method, op in ops.items():
                responses = op.setdefault("responses", {})
                if auth:
                    op["security"] = [{"bearerKey": []}, {"headerKey": []}]
                    responses.setdefault("401", _error("missing, unknown or revoked API key"))
                    if method.upper() in ("POST", "PUT", "PATCH", "DELETE"):
                        responses.setdefault("403", _error("the key's scope is read; this needs write"))
                if rate_limited:
                    responses.setdefault("429", _error("rate limit reached for this key or client", {
                        "Retry-After": {"schema": {"type": "integer"}, "description": "seconds to wait"}}))
        documented = True
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
