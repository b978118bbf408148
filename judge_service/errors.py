"""The service's error tree. Every error has a stable ``code`` and an HTTP status.

    ServiceError (500, internal)            -- base; never raised directly
    ├── InvalidInput (422, invalid_input)   -- a field of the request is wrong; ``field`` names it
    │   ├── PayloadTooLarge (413, payload_too_large)
    │   └── LabelSetMismatch (422, label_set_mismatch)
    ├── NotFound (404, not_found)           -- unknown rubric, version, judge, run, ...
    ├── Conflict (409, conflict)            -- e.g. a used rubric version whose content changed
    ├── Unauthorized (401, unauthorized) / Forbidden (403, forbidden)
    ├── RateLimited (429, rate_limited)     -- carries ``retry_after`` seconds
    ├── JudgeError (502, judge_error)       -- a provider failed after retries; message is the provider's
    │   └── JudgeAuthError (502, judge_auth_error) -- bad key / model: not retried
    └── MissingExtra (503, missing_extra)   -- an optional dependency is not installed

The client maps ``code`` back to an exception class of the same name.
"""

from __future__ import annotations

from typing import TypedDict


class ErrorDetailJson(TypedDict):
    """``to_body()``'s ``error`` object; schemas.ErrorDetail documents the same shape in OpenAPI."""

    code: str
    message: str
    field: str | None


class ErrorBodyJson(TypedDict):
    error: ErrorDetailJson


class ServiceError(Exception):
    status: int = 500
    code: str = "internal"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def to_body(self) -> ErrorBodyJson:
        return {"error": {"code": self.code, "message": self.message, "field": self.field}}


class InvalidInput(ServiceError):
    status = 422
    code = "invalid_input"


class PayloadTooLarge(InvalidInput):
    status = 413
    code = "payload_too_large"


class LabelSetMismatch(InvalidInput):
    code = "label_set_mismatch"


class NotFound(ServiceError):
    status = 404
    code = "not_found"


class Conflict(ServiceError):
    status = 409
    code = "conflict"


class Unauthorized(ServiceError):
    status = 401
    code = "unauthorized"


class Forbidden(ServiceError):
    status = 403
    code = "forbidden"


class RateLimited(ServiceError):
    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: float = 1.0, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.retry_after = retry_after


class JudgeError(ServiceError):
    """A judge provider failed. ``retryable`` says whether the engine may try again."""

    status = 502
    code = "judge_error"

    def __init__(self, message: str, *, retryable: bool = False, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.retryable = retryable


class JudgeAuthError(JudgeError):
    code = "judge_auth_error"


class MissingExtra(ServiceError):
    status = 503
    code = "missing_extra"
