"""When to retry a request, and how long to wait first (openai-python's policy, made explicit).

Retried: the service could not be reached or timed out, 429, and 503/504 (a restarting replica
or a proxy in front of it). Not retried: 503 ``missing_extra`` (the service lacks a package; it
will not appear by waiting), 502 ``judge_error`` (the service already retried the provider), and
every other 4xx (the request itself is wrong).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import httpx

from judge_client._exceptions import APIConnectionError, JudgeServiceError, MissingExtra

# Transport errors worth another try; others (an unsupported scheme, a bad proxy URL) never heal.
TRANSIENT_TRANSPORT_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)
RETRYABLE_STATUSES = frozenset({429, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 3
    initial_delay: float = 0.5
    max_delay: float = 8.0
    # A Retry-After longer than this is not waited out: the caller gets RateLimited with retry_after.
    max_retry_after: float = 60.0

    def is_retryable(self, error: JudgeServiceError) -> bool:
        if isinstance(error, APIConnectionError):
            return isinstance(error.__cause__, TRANSIENT_TRANSPORT_ERRORS)
        return error.status in RETRYABLE_STATUSES and not isinstance(error, MissingExtra)

    def delay(self, retries_done: int, error: JudgeServiceError) -> float | None:
        """Seconds to sleep before the next attempt, or None to give up and raise ``error``."""
        if retries_done >= self.max_retries or not self.is_retryable(error):
            return None
        if error.retry_after is not None:
            return error.retry_after if error.retry_after <= self.max_retry_after else None
        backoff: float = min(self.initial_delay * 2**retries_done, self.max_delay)  # int ** int is Any to mypy
        # Up to 25% jitter, downwards, so a fleet of clients does not retry in lockstep.
        return backoff * (1 - 0.25 * random.random())
