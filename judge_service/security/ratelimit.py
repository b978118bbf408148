"""Per-client request rate limit on ``/v1``: one token bucket per API key (per client IP when auth is off).

``JUDGE_RATE_LIMIT_PER_MINUTE`` sets the sustained rate (off when unset) and
``JUDGE_RATE_LIMIT_BURST`` how many requests may arrive at once (default: ten seconds' worth).
An empty bucket answers 429 ``rate_limited`` with ``Retry-After``: the whole seconds until one
token is back, so a client that honours it succeeds on its next try.

Buckets live in this process's memory: with several replicas each enforces its own share.
Behind a reverse proxy every client shares the proxy's address, so turn auth on there and the
limit becomes per key. Memory is bounded: idle (refilled) buckets are dropped first, then the
least recently used.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from judge_service.errors import RateLimited
from judge_service.security.auth import error_response
from judge_service.security.keys import Principal


class RateLimiter:
    """Token buckets keyed by client; ``take`` is O(1) and never blocks."""

    def __init__(self, per_minute: float, burst: float | None = None, *, max_clients: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if per_minute <= 0:
            raise ValueError("per_minute must be > 0")
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, burst if burst is not None else self.rate * 10.0)
        self.max_clients = max_clients
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # client -> (level, updated)

    def take(self, client: str) -> float:
        """0.0 if the request may proceed (a token is taken), else seconds until it may."""
        now = self._clock()
        level, updated = self._buckets.pop(client, (self.capacity, now))
        level = min(self.capacity, level + (now - updated) * self.rate)
        if level >= 1.0:
            self._buckets[client] = (level - 1.0, now)
            self._evict(now)
            return 0.0
        self._buckets[client] = (level, now)
        return (1.0 - level) / self.rate

    def _evict(self, now: float) -> None:
        if len(self._buckets) <= self.max_clients:
            return
        full_after = self.capacity / self.rate
        for client, (level, updated) in list(self._buckets.items()):
            if now - updated >= full_after:  # refilled: forgetting it changes nothing
                del self._buckets[client]
        while len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)


def client_id(scope: Scope) -> str:
    principal: Principal | None = (scope.get("state") or {}).get("principal")
    if principal is not None:
        return f"key:{principal.key_id}"
    client = scope.get("client")
    return f"ip:{client[0] if client else 'unknown'}"


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, limiter: RateLimiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path == "/v1" or path.startswith("/v1/"):
            wait = self.limiter.take(client_id(scope))
            if wait > 0:
                retry_after = max(1, math.ceil(wait))
                exc = RateLimited(f"too many requests: the limit is {self.limiter.rate * 60:g} per minute "
                                  f"(burst {self.limiter.capacity:g}); retry after {retry_after}s "
                                  "(JUDGE_RATE_LIMIT_PER_MINUTE)", retry_after=retry_after)
                await error_response(exc, {"Retry-After": str(retry_after)})(scope, receive, send)
                return
        await self.app(scope, receive, send)


def install(app: FastAPI, per_minute: float | None, burst: float | None = None) -> RateLimiter | None:
    """Add the middleware when a rate is configured. Install before auth, so auth runs first."""
    if not per_minute:
        return None
    limiter = RateLimiter(per_minute, burst)
    app.add_middleware(RateLimitMiddleware, limiter=limiter)
    return limiter
