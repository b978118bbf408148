"""The client's error tree, mirroring the service's (``judge_service/errors.py``) code for code.

    JudgeServiceError                    -- base: ``status``, ``code``, ``message``, ``field``, ``body``
    ├── APIConnectionError               -- the service could not be reached (no HTTP status)
    │   └── APITimeoutError              -- ... or did not answer within ``timeout``
    ├── APIResponseValidationError       -- a 2xx answer this client cannot read
    ├── InvalidInput (422, invalid_input) -- ``field`` names the offending request field
    │   ├── PayloadTooLarge (413, payload_too_large)
    │   └── LabelSetMismatch (422, label_set_mismatch)
    ├── NotFound (404, not_found)
    ├── Conflict (409, conflict)
    ├── Unauthorized (401, unauthorized) / Forbidden (403, forbidden)
    ├── RateLimited (429, rate_limited)  -- ``retry_after`` seconds, from the Retry-After header
    ├── JudgeError (502, judge_error)    -- a judge provider failed after the service's retries
    │   └── JudgeAuthError (502, judge_auth_error)
    ├── MissingExtra (503, missing_extra) -- the service lacks an optional dependency
    ├── InternalError (500, internal)
    ├── RunFailed                        -- a run ended in status "failed" (``run_id``)
    └── WaitTimeout (also a TimeoutError) -- ``wait_for_run`` gave up; the run goes on

Errors are mapped by the body's ``code`` first, so a subclass the service adds later still
lands on the right parent class here; an unknown code falls back to the HTTP status.
"""

from __future__ import annotations

import email.utils
import time
from typing import Any

import httpx


class JudgeServiceError(Exception):
    """Anything the service (or the way to it) refused. ``status`` is None when no HTTP answer came."""

    code: str | None = None
    status: int | None = None

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None, field: str | None = None,
                 body: Any = None, response: httpx.Response | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
        self.field = field
        self.body = body
        self.response = response
        self.retry_after = retry_after

    @property
    def status_code(self) -> int | None:
        """Alias of ``status`` (httpx's and openai's name)."""
        return self.status

    def __str__(self) -> str:
        where = f" [field: {self.field}]" if self.field else ""
        head = f"{self.status} {self.code}: " if self.status else (f"{self.code}: " if self.code else "")
        return f"{head}{self.message}{where}"


class APIConnectionError(JudgeServiceError):
    code = "connection_error"


class APITimeoutError(APIConnectionError):
    code = "timeout"


class APIResponseValidationError(JudgeServiceError):
    code = "invalid_response"


class InvalidInput(JudgeServiceError):
    status, code = 422, "invalid_input"


class PayloadTooLarge(InvalidInput):
    status, code = 413, "payload_too_large"


class LabelSetMismatch(InvalidInput):
    status, code = 422, "label_set_mismatch"


class NotFound(JudgeServiceError):
    status, code = 404, "not_found"


class Conflict(JudgeServiceError):
    status, code = 409, "conflict"


class Unauthorized(JudgeServiceError):
    status, code = 401, "unauthorized"


class Forbidden(JudgeServiceError):
    status, code = 403, "forbidden"


class RateLimited(JudgeServiceError):
    status, code = 429, "rate_limited"


class JudgeError(JudgeServiceError):
    status, code = 502, "judge_error"


class JudgeAuthError(JudgeError):
    status, code = 502, "judge_auth_error"


class MissingExtra(JudgeServiceError):
    status, code = 503, "missing_extra"


class InternalError(JudgeServiceError):
    status, code = 500, "internal"


class RunFailed(JudgeServiceError):
    code = "run_failed"

    def __init__(self, message: str, *, run_id: str, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.run_id = run_id


class WaitTimeout(JudgeServiceError, TimeoutError):
    """Waiting for a run or a calibration gave up; ``resource_id`` names it (``run_id`` too, for runs)."""

    code = "wait_timeout"

    def __init__(self, message: str, *, resource_id: str, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.resource_id = resource_id

    @property
    def run_id(self) -> str:
        return self.resource_id


_BY_CODE: dict[str, type[JudgeServiceError]] = {
    cls.code: cls for cls in (InvalidInput, PayloadTooLarge, LabelSetMismatch, NotFound, Conflict, Unauthorized,
                              Forbidden, RateLimited, JudgeError, JudgeAuthError, MissingExtra, InternalError)
}
_BY_STATUS: dict[int, type[JudgeServiceError]] = {
    401: Unauthorized, 403: Forbidden, 404: NotFound, 409: Conflict, 413: PayloadTooLarge, 422: InvalidInput,
    429: RateLimited, 500: InternalError, 502: JudgeError,
}


def parse_retry_after(headers: httpx.Headers) -> float | None:
    """Seconds to wait, from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date)."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            return max(0.0, float(raw_ms) / 1000)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        parsed = email.utils.parsedate_tz(raw)
        if parsed is None:
            return None
        return max(0.0, email.utils.mktime_tz(parsed) - time.time())


def error_from_response(response: httpx.Response) -> JudgeServiceError:
    """The exception for a non-2xx answer, read from the contract's ``{"error": {...}}`` body."""
    body: Any
    try:
        body = response.json()
    except ValueError:
        body = response.text
    detail = body.get("error") if isinstance(body, dict) else None
    if isinstance(detail, dict):
        code = detail.get("code")
        message = str(detail.get("message") or response.reason_phrase)
        field = detail.get("field")
    else:  # not our service answering (a proxy, a load balancer): keep what it said
        code, field = None, None
        message = (body if isinstance(body, str) else str(body))[:500] or response.reason_phrase
    cls = _BY_CODE.get(code or "") or _BY_STATUS.get(response.status_code, JudgeServiceError)
    return cls(message, status=response.status_code, code=code or cls.code, field=field, body=body,
               response=response, retry_after=parse_retry_after(response.headers))
