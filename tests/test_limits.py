"""judges/limits.py: retry policy, concurrency and rate limits, against an in-process stub provider.

(The same wrapper over the real SDKs and a real socket is tested in test_remote_providers.py.)
"""

from __future__ import annotations

import asyncio
import email.utils
import time

import pytest

from judge_service.errors import JudgeAuthError, JudgeError
from judge_service.judges.base import AnswerField, ChatMessage, JudgeReply, JudgeRequest, Usage
from judge_service.judges.config import JudgeSpec
from judge_service.judges.limits import (
    LimitedProvider,
    TokenBucket,
    error_for_status,
    estimate_tokens,
    limited,
    retry_after_seconds,
)

FIELDS = (AnswerField("score", ("1", "2", "3")),)


def req(text: str = "hello", max_tokens: int = 16) -> JudgeRequest:
    return JudgeRequest(messages=(ChatMessage("user", text),), fields=FIELDS, max_tokens=max_tokens)


def spec(**kw) -> JudgeSpec:
    base = {"name": "stub", "provider": "scripted", "model": "stub-1",
            "options": {"retry_base_s": 0.001, "retry_cap_s": 0.01}}
    base.update(kw)
    return JudgeSpec(**base)


class Stub:
    """Fails with the queued errors first, then answers; records timing and concurrency."""

    def __init__(self, errors: list[Exception] | None = None, delay: float = 0.0, usage: Usage = Usage(1, 1)) -> None:
        self.errors = list(errors or [])
        self.delay = delay
        self.usage = usage
        self.calls = 0
        self.times: list[float] = []
        self.in_flight = 0
        self.max_in_flight = 0

    @property
    def model(self) -> str:
        return "stub-1"

    async def complete(self, request: JudgeRequest) -> JudgeReply:
        self.calls += 1
        self.times.append(time.monotonic())
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            if self.errors:
                raise self.errors.pop(0)
            return JudgeReply(text='{"score": 2}', model="stub-1", usage=self.usage)
        finally:
            self.in_flight -= 1

    async def health(self) -> str:
        return "ok"

    async def aclose(self) -> None:
        return None


def retryable(msg: str = "HTTP 500", retry_after: float | None = None) -> JudgeError:
    e = JudgeError(msg, retryable=True)
    if retry_after is not None:
        e.retry_after = retry_after  # type: ignore[attr-defined]
    return e


def test_retries_retryable_errors_until_success_and_counts_them():
    stub = Stub([retryable(), retryable()])
    p = limited(stub, spec(max_attempts=5))
    reply = asyncio.run(p.complete(req()))
    assert reply.text == '{"score": 2}'
    assert stub.calls == 3
    assert (p.stats.calls, p.stats.attempts, p.stats.retries, p.stats.failures) == (1, 3, 2, 0)
    assert p.inner is stub and isinstance(p, LimitedProvider)
    assert limited(p, spec()) is p  # wrapping twice would double every limit's effect


def test_non_retryable_fails_fast_with_one_attempt():
    stub = Stub([JudgeAuthError("HTTP 401: bad key")] + [retryable()] * 3)
    p = limited(stub, spec(max_attempts=5))
    with pytest.raises(JudgeAuthError, match="bad key"):
        asyncio.run(p.complete(req()))
    assert stub.calls == 1 and p.stats.failures == 1 and p.stats.retries == 0


def test_attempts_are_bounded_and_the_error_says_so():
    stub = Stub([retryable("HTTP 503")] * 10)
    p = limited(stub, spec(max_attempts=4))
    with pytest.raises(JudgeError, match=r"HTTP 503 \(gave up after 4 attempts") as ei:
        asyncio.run(p.complete(req()))
    assert ei.value.retryable and stub.calls == 4 and p.stats.retries == 3 and p.stats.failures == 1


def test_total_retry_time_is_bounded_even_with_a_long_retry_after():
    # Retry-After 5 s but only 1 s of retry budget: give up now instead of sleeping past the budget.
    stub = Stub([retryable("HTTP 429", retry_after=5.0)] * 3)
    p = limited(stub, spec(max_attempts=10, max_retry_time_s=1.0))
    started = time.monotonic()
    with pytest.raises(JudgeError, match="HTTP 429"):
        asyncio.run(p.complete(req()))
    assert time.monotonic() - started < 1.0 and stub.calls == 1


def test_retry_budget_counts_the_first_attempts_own_time():
    # Tenacity only takes over after the first failure; the budget must still start at the call.
    # A 0.6 s first attempt and a 0.5 s Retry-After overrun a 1 s budget: no second attempt.
    stub = Stub([retryable("HTTP 429", retry_after=0.5)] * 3, delay=0.6)
    p = limited(stub, spec(max_attempts=10, max_retry_time_s=1.0))
    with pytest.raises(JudgeError, match="HTTP 429"):
        asyncio.run(p.complete(req()))
    assert stub.calls == 1 and p.stats.failures == 1
    # The same failure with budget to spare is retried, and the replayed first failure counts as attempt 1.
    stub = Stub([retryable("HTTP 429", retry_after=0.05)] * 2, delay=0.3)
    p = limited(stub, spec(max_attempts=3, max_retry_time_s=10.0))
    assert asyncio.run(p.complete(req())).text == '{"score": 2}'
    assert stub.calls == 3 and (p.stats.attempts, p.stats.retries, p.stats.failures) == (3, 2, 0)
    assert stub.times[1] - stub.times[0] >= 0.3 + 0.05


def test_retry_after_is_honoured_and_pauses_the_other_calls():
    stub = Stub([retryable("HTTP 429", retry_after=0.4)], delay=0.01)
    p = limited(stub, spec(max_attempts=3, max_concurrency=4))

    async def go():
        first = asyncio.create_task(p.complete(req("first")))
        await asyncio.sleep(0.05)  # the 429 has arrived; a fresh call must now wait out the pause too
        second = asyncio.create_task(p.complete(req("second")))
        await asyncio.gather(first, second)

    asyncio.run(go())
    assert stub.calls == 3
    t_fail, later = stub.times[0], stub.times[1:]
    assert all(t - t_fail >= 0.4 for t in later), [t - t_fail for t in later]
    assert p.stats.throttled_s >= 0.3


def test_an_absurd_retry_after_is_not_retried():
    stub = Stub([retryable("HTTP 429", retry_after=3600.0)])
    p = limited(stub, spec(max_attempts=5))
    with pytest.raises(JudgeError, match="asks to wait 3600s") as ei:
        asyncio.run(p.complete(req()))
    assert not ei.value.retryable and stub.calls == 1


def test_concurrency_is_capped_across_all_requests():
    stub = Stub(delay=0.02)
    p = limited(stub, spec(max_concurrency=3))

    async def go():
        await asyncio.gather(*[p.complete(req(f"q{i}")) for i in range(30)])

    asyncio.run(go())
    assert stub.max_in_flight == 3 and p.stats.max_in_flight == 3 and p.stats.in_flight == 0


def test_backoff_sleeps_do_not_hold_a_concurrency_slot():
    # One call backs off for 0.3 s; with max_concurrency=1 the other call must still go through meanwhile.
    stub = Stub([retryable("HTTP 500", retry_after=0.3)])
    p = limited(stub, spec(max_concurrency=1, max_attempts=3))

    async def go():
        t = asyncio.create_task(p.complete(req("a")))
        await asyncio.sleep(0.02)
        p._paused_until = 0.0  # isolate the slot behaviour from the shared Retry-After pause
        started = time.monotonic()
        await p.complete(req("b"))
        quick = time.monotonic() - started
        await t
        return quick

    assert asyncio.run(go()) < 0.2


def test_a_replica_share_shrinks_and_grows_concurrency_while_calls_hold_slots():
    stub = Stub(delay=0.03)
    p = limited(stub, spec(max_concurrency=9))

    async def go():
        first = [asyncio.create_task(p.complete(req(f"a{i}"))) for i in range(9)]
        await asyncio.sleep(0.01)
        p.set_share(3)  # two more replicas came up while nine calls were on the wire
        stub.max_in_flight = 0
        await asyncio.gather(*first)
        second = asyncio.gather(*[p.complete(req(f"b{i}")) for i in range(12)])
        await second
        shared = stub.max_in_flight
        p.set_share(1)  # they went away again
        stub.max_in_flight = 0
        await asyncio.gather(*[p.complete(req(f"c{i}")) for i in range(18)])
        return shared, stub.max_in_flight

    shared, alone = asyncio.run(go())
    assert (shared, alone) == (3, 9)
    assert p.limits() == {"replicas": 1, "max_concurrency": 9, "requests_per_minute": None, "tokens_per_minute": None}
    p.set_share(20)
    assert p.limits()["max_concurrency"] == 1  # never below one call


def test_a_cancelled_waiter_gives_its_slot_on():
    stub = Stub(delay=0.05)
    p = limited(stub, spec(max_concurrency=1))

    async def go():
        holder = asyncio.create_task(p.complete(req("a")))
        await asyncio.sleep(0.01)
        waiter = asyncio.create_task(p.complete(req("b")))
        await asyncio.sleep(0.01)
        waiter.cancel()
        await holder
        await asyncio.wait_for(p.complete(req("c")), timeout=1)  # the slot was not lost with the waiter
        return waiter.cancelled()

    assert asyncio.run(go()) and p._slots.held == 0 and stub.calls == 2


def test_a_replica_share_of_requests_per_minute():
    stub = Stub()
    p = limited(stub, spec(requests_per_minute=2400))  # 40/s alone
    p.set_share(2)  # 20/s, a burst of 20, as one of two replicas
    assert p.limits()["requests_per_minute"] == 1200

    async def go():
        started = time.monotonic()
        await asyncio.gather(*[p.complete(req(f"q{i}")) for i in range(40)])
        return time.monotonic() - started

    assert asyncio.run(go()) >= 0.9  # alone, 40 calls fit in the 40-call burst at once
    assert stub.calls == 40


def test_requests_per_minute_limit():
    stub = Stub()
    p = limited(stub, spec(requests_per_minute=1200))  # 20/s, a burst of 20

    async def go():
        started = time.monotonic()
        await asyncio.gather(*[p.complete(req(f"q{i}")) for i in range(40)])
        return time.monotonic() - started

    elapsed = asyncio.run(go())
    assert elapsed >= 0.9  # 20 in the burst, the next 20 at 20/s
    assert stub.calls == 40


def test_tokens_per_minute_limit_uses_the_estimate_and_corrects_with_usage():
    assert estimate_tokens(req("x" * 400, max_tokens=100)) == 200
    stub = Stub(usage=Usage(100, 100))
    p = limited(stub, spec(tokens_per_minute=60 * 1000))  # 1000 tokens/s, a burst of 1000

    async def go():
        started = time.monotonic()
        await asyncio.gather(*[p.complete(req("x" * 400, max_tokens=100)) for _ in range(10)])  # 2000 tokens
        return time.monotonic() - started

    elapsed = asyncio.run(go())
    assert 0.9 <= elapsed < 3.0


def test_tokens_per_minute_holds_when_each_estimate_exceeds_the_bucket():
    # 10,000 tokens/s with a burst of 10,000; each request estimates 20,001 tokens and reports 500.
    # take() admits only the capacity, so correcting against the whole estimate would credit back
    # ~19,500 tokens per call and leave the limit unenforced (a review measured 65x the TPM).
    stub = Stub(usage=Usage(250, 250))
    p = limited(stub, spec(tokens_per_minute=600_000))

    async def go():
        started = time.monotonic()
        for _ in range(20):
            await p.complete(req(max_tokens=20_000))
        return time.monotonic() - started

    elapsed = asyncio.run(go())
    # The first call goes through on the full bucket; each later one waits for its 500 tokens (0.05 s).
    assert elapsed >= 0.9, elapsed
    assert p.stats.throttled_s >= 0.9 and stub.calls == 20


def test_an_oversized_estimate_counts_in_full_when_no_usage_is_reported():
    stub = Stub(usage=Usage(0, 0))
    p = limited(stub, spec(tokens_per_minute=600_000))  # 10,000 tokens/s, a burst of 10,000

    async def go():
        started = time.monotonic()
        for _ in range(2):
            await p.complete(req(max_tokens=15_000))  # 15,001 estimated, 10,000 admitted by take()
        return time.monotonic() - started

    # The second call waits for the first's 5,001 tokens over capacity and then its own 10,000: ~1.5 s.
    assert asyncio.run(go()) >= 1.4 and p.stats.throttled_s >= 1.4


def test_token_bucket_lets_an_oversized_request_through_when_full():
    async def go():
        bucket = TokenBucket(per_minute=60)  # 1/s, capacity 1
        return await bucket.take(50)

    assert asyncio.run(go()) == 0.0


def test_retry_after_header_forms():
    assert retry_after_seconds({"retry-after": "2"}) == 2.0
    assert retry_after_seconds({"retry-after": "0.5"}) == 0.5
    assert retry_after_seconds({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    date = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= retry_after_seconds({"retry-after": date}) <= 31
    assert retry_after_seconds({"retry-after": "soon"}) is None
    assert retry_after_seconds({}) is None and retry_after_seconds(None) is None


@pytest.mark.parametrize("status,cls,retry", [
    (429, JudgeError, True), (500, JudgeError, True), (503, JudgeError, True), (529, JudgeError, True),
    (408, JudgeError, True), (401, JudgeAuthError, False), (403, JudgeAuthError, False),
    (404, JudgeAuthError, False), (400, JudgeAuthError, False), (422, JudgeError, False),
])
def test_status_classification(status, cls, retry):
    e = error_for_status(status, "provider says no.", where="judge 'j' (openai m)", model="m", key_env="MY_KEY",
                         headers={"retry-after": "3"})
    assert type(e) is cls and e.retryable is retry
    assert f"HTTP {status}" in e.message and "provider says no" in e.message
    if retry:
        assert e.retry_after == 3.0
    if status == 401:
        assert "$MY_KEY" in e.message
    if status == 404:
        assert "model name 'm'" in e.message
