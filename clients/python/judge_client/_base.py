"""What the sync and async clients share: configuration, headers, and turning an HTTP exchange
(or its failure) into a result or one of our exceptions."""

from __future__ import annotations

import os
from typing import Any

import httpx

from judge_client._version import __version__
from judge_client._api import Call
from judge_client._exceptions import (
    APIConnectionError,
    APIResponseValidationError,
    APITimeoutError,
    JudgeServiceError,
    error_from_response,
)
from judge_client._retry import RetryPolicy

DEFAULT_BASE_URL = "http://127.0.0.1:8000"


class BaseClient:
    def __init__(self, base_url: str | None, api_key: str | None, timeout: float | httpx.Timeout,
                 max_retries: int, initial_retry_delay: float, max_retry_delay: float) -> None:
        self.base_url = (base_url or os.environ.get("JUDGE_URL") or DEFAULT_BASE_URL).rstrip("/")
        # Kept private and out of __repr__: a key must never reach a log line or a traceback.
        self._api_key = api_key if api_key is not None else os.environ.get("JUDGE_API_KEY") or None
        self.timeout = timeout
        self.retry = RetryPolicy(max_retries=max_retries, initial_delay=initial_retry_delay, max_delay=max_retry_delay)

    def __repr__(self) -> str:
        auth = ", api_key=***" if self._api_key else ""
        return f"{type(self).__name__}(base_url={self.base_url!r}{auth})"

    def _headers(self) -> dict[str, str]:
        headers = {"User-Agent": f"judge-client/{__version__}", "Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        return headers

    @staticmethod
    def _request_kwargs(call: Call) -> dict[str, Any]:
        return {k: v for k, v in {"json": call.json, "files": call.files, "data": call.data,
                                   "params": call.params}.items() if v is not None}

    def _transport_error(self, exc: httpx.TransportError) -> JudgeServiceError:
        if isinstance(exc, httpx.TimeoutException):
            err: JudgeServiceError = APITimeoutError(
                f"judge-service at {self.base_url} did not answer within the timeout ({type(exc).__name__}); "
                "raise timeout= or check the service")
        else:
            err = APIConnectionError(
                f"could not reach judge-service at {self.base_url}: {exc or type(exc).__name__}; "
                "is it running (`judge serve`) and is the URL right (JUDGE_URL)?")
        err.__cause__ = exc
        return err

    @staticmethod
    def _outcome(call: Call, response: httpx.Response) -> tuple[Any, JudgeServiceError | None]:
        """The parsed result of a 2xx answer, or the exception for any other."""
        if not response.is_success:
            return None, error_from_response(response)
        try:
            if call.text:
                return call.parse(response.text), None
            return call.parse(response.json() if response.content else None), None
        except ValueError as e:  # not JSON, or JSON that does not fit the model (pydantic's error is one)
            error = APIResponseValidationError(
                f"{call.method} {call.path} answered {response.status_code} with a body this client cannot read "
                f"({str(e).splitlines()[0]}); is the client older than the service, or the URL not a judge-service?",
                status=response.status_code, body=response.text[:2000], response=response)
            error.__cause__ = e
            return None, error
