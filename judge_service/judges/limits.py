"""Retries and rate limits around a provider: the only place a judge call is ever retried.

``limited(provider, spec)`` returns a provider with the same Protocol. One wrapper is built per
judge (``registry.wrap_provider``) and shared by every request in the process, so its limits are
the judge's limits, not a request's:

- at most ``spec.max_concurrency`` calls in flight (a semaphore held only while a call is on
  the wire, never during a backoff sleep, so waiting retries do not starve fresh calls);
- ``spec.requests_per_minute`` and ``spec.tokens_per_minute`` as token buckets refilled
  continuously, with one second's worth of burst (providers enforce their per-minute limits
  over much shorter windows, so a full minute's burst would just be answered with 429s).
  Tokens are estimated before the call (prompt chars / 4 + max_tokens, the way providers count
  a request against TPM) and corrected with the reported usage afterwards;
- retries (tenacity) of ``JudgeError(retryable=True)`` only, with exponential backoff and full
  jitter (AWS, "Exponential Backoff and Jitter", 2015: spreads synchronised retries best),
  never sooner than the provider's ``Retry-After``, bounded by ``spec.max_attempts`` and
  ``spec.max_retry_time_s``. A Retry-After also pauses the judge's other calls until it
  passes: a 429 is about the key's quota, not about the one request that drew it.

Several service processes on one database share each judge's limits: each live replica takes
``1/N`` of them (``set_share``, driven by ``judges/replicas.py``), so N replicas together stay
within what the configuration says the key allows.

The SDKs' own retries are switched off (``max_retries=0``) so that this policy is the only one:
two stacked policies multiply attempts and ignore each other's budgets.
"""

from __future__ import annotations

import asyncio
import email.utils
import math
import random
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt
from tenacity.stop import stop_base

from judge_service.errors import JudgeAuthError, JudgeError
from judge_service.judges.base import JudgeProvider, JudgeReply, JudgeRequest
from judge_service.judges.config import JudgeSpec

# Longer than this and the provider is telling us to come back much later: give up now and say so.
MAX_RETRY_AFTER_S = 600.0


@dataclass
class LimiterStats:
    """Counters for /metrics. Mutated only on the event loop thread."""

    calls: int = 0  # complete() invocations
    attempts: int = 0  # provider calls actually made (calls + retries)
    retries: int = 0
    failures: int = 0  # calls that ended in an error (after any retries)
    in_flight: int = 0
    max_in_flight: int = 0
    throttled_s: float = 0.0  # total time spent waiting for the rate limits or a Retry-After pause


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """Seconds from ``retry-after-ms`` / ``retry-after`` (seconds or an HTTP date), else None."""
    if not headers:
        return None
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) / divisor
        except ValueError:
            continue
        if math.isfinite(seconds) and seconds >= 0:
            return seconds
    value = headers.get("retry-after")
    if value:
        try:
            parsed = email.utils.parsedate_tz(value)
            if parsed is not None:
                return max(0.0, float(email.utils.mktime_tz(parsed) - time.time()))
        except (TypeError, ValueError, OverflowError):
            return None
    return None


def retryable_status(status: int) -> bool:
    """What is worth trying again: rate limits, timeouts, lock conflicts and server-side failures."""
    return status in (408, 409, 429) or status >= 500


def timeout_error(where: str, host: str, timeout_s: float) -> JudgeError:
    return JudgeError(f"{where}: no reply from {host} within {timeout_s:g}s (raise timeout_s if the model is slow)",
                      retryable=True)


def connection_error(where: str, host: str, cause: str) -> JudgeError:
    """``cause`` must already be redacted."""
    return JudgeError(f"{where}: connection to {host} failed: {cause}", retryable=True)


def malformed_error(where: str, host: str, exc: Exception) -> JudgeError:
    """A 200 whose body is not the JSON it claims to be: a proxy or server hiccup."""
    return JudgeError(f"{where}: malformed response from {host} ({type(exc).__name__})", retryable=True)


def error_for_status(status: int, message: str, *, where: str, model: str, key_env: str | None,
                     headers: Mapping[str, str] | None = None) -> JudgeError:
    """A provider's HTTP failure as our error: retryable or not, with what to do about it.

    ``message`` must already be redacted. 400/401/403/404 are ``JudgeAuthError``: retrying a bad
    key, a missing model or a rejected request only spends quota.
    """
    message = message.strip().rstrip(".") or "(no message)"
    if retryable_status(status):
        what = "rate limited" if status == 429 else "temporarily failed"
        hint = "; lower this judge's max_concurrency or requests_per_minute" if status == 429 else ""
        err = JudgeError(f"{where}: {what} (HTTP {status}): {message}{hint}", retryable=True)
        err.retry_after = retry_after_seconds(headers)  # type: ignore[attr-defined]
        return err
    key = f"the key in ${key_env}" if key_env else "the API key"
    if status == 401:
        return JudgeAuthError(f"{where}: the provider rejected {key} (HTTP 401): {message}; put a valid key in ${key_env or 'api_key_env'}")
    if status == 403:
        return JudgeAuthError(f"{where}: permission denied (HTTP 403): {message}; {key} has no access to model '{model}'")
    if status == 404:
        return JudgeAuthError(f"{where}: not found (HTTP 404): {message}; check the model name '{model}' and base_url")
    if status == 400:
        return JudgeAuthError(
            f"{where}: the provider rejected the request (HTTP 400): {message}; if it is about the response "
            "format or schema, set structured_output: false for this judge; if about logprobs, set logprobs: false"
        )
    return JudgeError(f"{where}: request failed (HTTP {status}): {message}", retryable=False)


def estimate_tokens(request: JudgeRequest) -> int:
    """What a provider counts against tokens-per-minute before it knows: prompt (chars/4) + max_tokens."""
    chars = sum(len(m.content) for m in request.messages)
    return chars // 4 + request.max_tokens


def _is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, JudgeError) and exc.retryable


class _StopBeforeDeadline(stop_base):
    """Tenacity's ``stop_before_delay`` against a fixed monotonic deadline: no retry whose
    backoff sleep would end past it. (``stop_before_delay`` counts from when tenacity started,
    which here is after the first attempt.)"""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline

    def __call__(self, retry_state: RetryCallState) -> bool:
        return time.monotonic() + (retry_state.upcoming_sleep or 0.0) >= self.deadline


class Slots:
    """A semaphore whose size may change while calls hold it (a replica's share of ``max_concurrency``).

    ``asyncio.Semaphore`` cannot shrink. Waiters are served in order; a slot freed while the size
    is above the new limit is not handed on."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    def resize(self, limit: int) -> None:
        self.limit = limit
        self._wake()

    def _wake(self) -> None:
        while self.held < self.limit and self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                self.held += 1

    async def __aenter__(self) -> None:
        if self.held < self.limit and not self._waiters:
            self.held += 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():  # granted just as it was cancelled: give it back
                self.held -= 1
                self._wake()
            raise

    async def __aexit__(self, *exc: object) -> None:
        self.held -= 1
        self._wake()


class TokenBucket:
    """``rate`` units per second, at most ``capacity`` banked. Waiters are served in order."""

    def __init__(self, per_minute: float, burst_s: float = 1.0) -> None:
        self.burst_s = burst_s
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, self.rate * burst_s)
        self.level = self.capacity
        self._updated = time.monotonic()
        self._lock = asyncio.Lock()

    def set_rate(self, per_minute: float) -> None:
        """A new rate from now on (a replica's share changed); what is banked stays, up to the new capacity."""
        self._refill()
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, self.rate * self.burst_s)
        self.level = min(self.level, self.capacity)

    def _refill(self) -> None:
        now = time.monotonic()
        self.level = min(self.capacity, self.level + (now - self._updated) * self.rate)
        self._updated = now

    def admitted(self, amount: float) -> float:
        """How much of ``amount`` ``take`` removes from the bucket: never more than its capacity.

        A correction made afterwards with ``adjust`` must be relative to this, not to ``amount``:
        relative to ``amount`` it would credit back what was never taken.
        """
        return min(amount, self.capacity)

    async def take(self, amount: float) -> float:
        """Wait until ``admitted(amount)`` is available and take it; returns seconds waited.

        A request larger than the whole bucket is let through when the bucket is full, otherwise
        it could never be sent at all; its excess is for the caller to debit with ``adjust``.
        """
        amount = self.admitted(amount)
        waited = 0.0
        async with self._lock:
            while True:
                self._refill()
                if self.level >= amount:
                    self.level -= amount
                    return waited
                delay = (amount - self.level) / self.rate
                waited += delay
                await asyncio.sleep(delay)

    def adjust(self, amount: float) -> None:
        """Debit (or credit, if negative) after the fact; the level may go below zero."""
        self._refill()
        self.level = min(self.capacity, self.level - amount)


class LimitedProvider:
    """A provider behind this judge's concurrency, rate limits and retry policy."""

    def __init__(self, inner: JudgeProvider, spec: JudgeSpec) -> None:
        self.inner = inner
        self.spec = spec
        self.stats = LimiterStats()
        self.share = 1  # the live replicas this judge's limits are split over (this process included)
        self._slots = Slots(spec.max_concurrency)
        self._rpm = TokenBucket(spec.requests_per_minute) if spec.requests_per_minute else None
        self._tpm = TokenBucket(spec.tokens_per_minute) if spec.tokens_per_minute else None
        self._paused_until = 0.0  # monotonic time before which no call is sent (Retry-After)
        self._backoff_base_s = float(spec.options.get("retry_base_s", 0.5))
        self._backoff_cap_s = float(spec.options.get("retry_cap_s", 30.0))
        self._retry = retry_if_exception(_is_retryable)

    @property
    def model(self) -> str:
        return self.inner.model

    def __repr__(self) -> str:
        return f"LimitedProvider({self.inner!r}, max_concurrency={self.spec.max_concurrency})"

    def set_share(self, replicas: int) -> None:
        """Take ``1/replicas`` of each configured limit: the N live processes on one database then
        stay within the judge's limits together. Concurrency rounds down but never below one call."""
        replicas = max(1, replicas)
        if replicas == self.share:
            return
        self.share = replicas
        self._slots.resize(max(1, self.spec.max_concurrency // replicas))
        if self._rpm is not None and self.spec.requests_per_minute:
            self._rpm.set_rate(self.spec.requests_per_minute / replicas)
        if self._tpm is not None and self.spec.tokens_per_minute:
            self._tpm.set_rate(self.spec.tokens_per_minute / replicas)

    def limits(self) -> dict[str, float | int | None]:
        """This process's share of the judge's limits, as it applies them now."""
        return {"replicas": self.share, "max_concurrency": self._slots.limit,
                "requests_per_minute": self.spec.requests_per_minute / self.share if self.spec.requests_per_minute else None,
                "tokens_per_minute": self.spec.tokens_per_minute / self.share if self.spec.tokens_per_minute else None}

    def _wait(self, state: RetryCallState) -> float:
        # Full jitter: uniform in [0, min(cap, base * 2^(n-1))], but never before Retry-After.
        window = min(self._backoff_cap_s, self._backoff_base_s * 2 ** (state.attempt_number - 1))
        delay = random.uniform(0.0, window)
        exc = state.outcome.exception() if state.outcome is not None else None
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            delay = max(delay, float(retry_after))
        return delay

    async def _before_send(self, request: JudgeRequest, estimate: int) -> None:
        waited = 0.0
        # A loop: another call's 429 may extend the pause while we sleep.
        while (pause := self._paused_until - time.monotonic()) > 0:
            waited += pause
            await asyncio.sleep(pause)
        if self._rpm is not None:
            waited += await self._rpm.take(1)
        if self._tpm is not None:
            waited += await self._tpm.take(estimate)
        self.stats.throttled_s += waited

    async def _attempt(self, request: JudgeRequest, estimate: int) -> JudgeReply:
        async with self._slots:
            await self._before_send(request, estimate)
            self.stats.attempts += 1
            self.stats.in_flight += 1
            self.stats.max_in_flight = max(self.stats.max_in_flight, self.stats.in_flight)
            try:
                reply = await self.inner.complete(request)
            except JudgeError as e:
                retry_after = getattr(e, "retry_after", None)
                if retry_after is not None and e.retryable:
                    if retry_after > MAX_RETRY_AFTER_S:
                        raise JudgeError(
                            f"{e.message} (the provider asks to wait {retry_after:.0f}s; not retrying; "
                            f"check the judge's quota or lower its requests_per_minute)",
                            retryable=False,
                        ) from None
                    self._paused_until = max(self._paused_until, time.monotonic() + retry_after)
                raise
            finally:
                self.stats.in_flight -= 1
        if self._tpm is not None:
            self._tpm.adjust(self._tokens_charged(reply, estimate) - self._tpm.admitted(estimate))
        return reply

    @staticmethod
    def _tokens_charged(reply: JudgeReply, estimate: int) -> int:
        """What the call counts against tokens-per-minute: the reported usage, else the estimate."""
        used = reply.usage.input_tokens + reply.usage.output_tokens
        # No usage reported: the estimate stands, including any part of it above the bucket's
        # capacity that take() let through without debiting.
        return used if used else estimate

    async def complete(self, request: JudgeRequest) -> JudgeReply:
        self.stats.calls += 1
        estimate = estimate_tokens(request)
        started = time.monotonic()
        # The first attempt runs without tenacity: almost every call succeeds on it, and building
        # the retry controller for each call cost ~0.1 ms of CPU before the call even queued for
        # a slot (a batch of 600 queued calls held up the first replies by ~60 ms). Tenacity takes
        # over only after a retryable failure, with that failure replayed as its attempt 1 so the
        # attempt count, backoff and Retry-After handling are the same as if it had run from the start.
        try:
            return await self._attempt(request, estimate)
        except JudgeError as e:
            if not e.retryable or self.spec.max_attempts <= 1:
                self.stats.failures += 1
                raise
            first_failure: JudgeError | None = e
        except BaseException:
            self.stats.failures += 1
            raise
        retrying = AsyncRetrying(
            retry=self._retry,
            # Time counts from the first attempt, not from when tenacity took over.
            stop=stop_after_attempt(self.spec.max_attempts) | _StopBeforeDeadline(started + self.spec.max_retry_time_s),
            wait=self._wait,
            reraise=True,
        )
        attempt_number = 1
        try:
            async for attempt in retrying:
                with attempt:
                    attempt_number = attempt.retry_state.attempt_number
                    if first_failure is not None:
                        replay, first_failure = first_failure, None
                        raise replay
                    self.stats.retries += 1
                    return await self._attempt(request, estimate)
        except JudgeError as e:
            self.stats.failures += 1
            if attempt_number > 1:
                err = type(e)(
                    f"{e.message} (gave up after {attempt_number} attempts in {time.monotonic() - started:.1f}s)",
                    retryable=e.retryable,
                    field=e.field,
                )
                if hasattr(e, "retry_after"):
                    err.retry_after = e.retry_after  # type: ignore[attr-defined]
                raise err from None
            raise
        except BaseException:
            self.stats.failures += 1
            raise
        raise AssertionError("unreachable: tenacity either returns or raises")  # pragma: no cover

    async def health(self) -> str:
        return await self.inner.health()

    async def aclose(self) -> None:
        await self.inner.aclose()


def limited(provider: JudgeProvider, spec: JudgeSpec) -> LimitedProvider:
    """Wrap ``provider`` in ``spec``'s concurrency, rate limits and retry policy (see module doc)."""
    if isinstance(provider, LimitedProvider):
        return provider
    return LimitedProvider(provider, spec)
