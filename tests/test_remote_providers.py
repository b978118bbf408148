"""OpenAI, OpenAI-compatible and Anthropic providers through the real SDKs over loopback HTTP."""

from __future__ import annotations

import asyncio
import math
import socket
import time
import traceback

import pytest

from judge_service.engine.parse import parse_reply
from judge_service.engine.prompts import SYSTEM_PROMPT, answer_instructions, output_schema, wrap
from judge_service.errors import InvalidInput, JudgeAuthError, JudgeError
from judge_service.judges.anthropic import AnthropicProvider
from judge_service.judges.base import AnswerField, ChatMessage, JudgeRequest, TokenLogprob
from judge_service.judges.config import JudgeSpec
from judge_service.judges.limits import limited
from judge_service.judges import openai as openai_provider
from judge_service.judges.openai import OpenAIProvider
from judge_service.judges.openai_compatible import OpenAICompatibleProvider
from judge_service.judges.secrets import redact
from judge_service.testing.fake_server import RETRYABLE_FAULTS, FakeJudgeServer, Faults

KEY = "sk-test-remote-0123456789abcdefWXYZ"
ENV = "JUDGE_TEST_REMOTE_KEY"
SCORE = AnswerField("score", tuple(str(i) for i in range(1, 11)))
PROVIDERS = {"openai": OpenAIProvider, "openai_compatible": OpenAICompatibleProvider, "anthropic": AnthropicProvider}


def request(response: str = "x" * 130, *, schema: bool = True, **kw) -> JudgeRequest:
    prompt = "Grade the response.\n" + wrap("response", response) + "\n" + answer_instructions((SCORE,))
    return JudgeRequest(messages=(ChatMessage("system", SYSTEM_PROMPT), ChatMessage("user", prompt)), fields=(SCORE,),
                        output_schema=output_schema((SCORE,)) if schema else None, max_tokens=64, **kw)


@pytest.fixture(scope="module")
def server():
    with FakeJudgeServer("score_by_length", api_key=KEY, model_suffix="-2025-01-01") as s:
        yield s


@pytest.fixture(autouse=True)
def _env(server, monkeypatch):
    monkeypatch.setenv(ENV, KEY)
    server.reset()
    server.faults = Faults()
    server.latency_s = 0.0
    server.api_key = KEY
    server.echo_key = "partial"
    server.reject_params = ()
    yield


def make(server: FakeJudgeServer, provider: str = "openai", **kw):
    url = server.anthropic_base_url if provider == "anthropic" else server.openai_base_url
    base = {"name": f"j-{provider}", "provider": provider, "model": "judge-model", "base_url": url,
            "api_key_env": ENV, "timeout_s": 5.0, "options": {"retry_base_s": 0.01, "retry_cap_s": 0.1}}
    base.update(kw)
    spec = JudgeSpec(**base)
    return PROVIDERS[provider](spec, None), spec


async def call(provider, req: JudgeRequest):
    try:
        return await provider.complete(req)
    finally:
        await provider.aclose()


@pytest.mark.parametrize("provider,extra", [("openai", {}), ("openai_compatible", {"structured_output": True}), ("anthropic", {})])
def test_structured_answer_through_each_provider(server, provider, extra):
    p, _ = make(server, provider, **extra)
    reply = asyncio.run(call(p, request()))
    assert reply.structured is not None and reply.structured["score"] in (6, 7)
    assert reply.model == "judge-model-2025-01-01"  # the id the provider reports, not the configured one
    assert reply.usage.input_tokens > 0 and reply.usage.output_tokens > 0 and reply.latency_ms > 0
    parsed = parse_reply(reply, (SCORE,))
    assert parsed.fields["score"].label == str(reply.structured["score"])
    sent = server.log[-1]
    assert sent.outcome == "ok" and sent.path.endswith("/chat/completions" if provider != "anthropic" else "/v1/messages")


@pytest.mark.parametrize("provider,extra", [("openai", {"structured_output": False}), ("openai_compatible", {}),
                                            ("anthropic", {"structured_output": False})])
def test_text_fallback_when_structured_output_is_off(server, provider, extra):
    p, _ = make(server, provider, **extra)
    reply = asyncio.run(call(p, request()))
    assert reply.structured is None
    assert '"score": ' in reply.text
    assert parse_reply(reply, (SCORE,)).fields["score"].label in ("6", "7")


def test_logprobs_carry_the_policys_distribution_and_its_expected_value():
    # score_by_length on a 130-char response: target 130/20 = 6.5, weight exp(-(n - 6.5)^2) for n in 1..10.
    weights = {n: math.exp(-((n - 6.5) ** 2)) for n in range(1, 11)}
    expected_by_hand = sum(n * w for n, w in weights.items()) / sum(weights.values())
    with FakeJudgeServer("score_by_length", api_key=KEY) as s:
        p, _ = make(s, "openai")
        reply = asyncio.run(call(p, request()))
    assert all(isinstance(t, TokenLogprob) for t in reply.logprobs)
    assert "".join(t.token for t in reply.logprobs) == reply.text
    value = next(t for t in reply.logprobs if len(t.top) == 10)
    assert set(value.top) == {str(n) for n in range(1, 11)} and value.top[value.token] == value.logprob
    from_reply = sum(int(tok) * math.exp(lp) for tok, lp in value.top.items())
    assert from_reply == pytest.approx(expected_by_hand, abs=1e-9)
    assert parse_reply(reply, (SCORE,)).fields["score"].expected() == pytest.approx(expected_by_hand, abs=1e-9)
    assert expected_by_hand == pytest.approx(6.4995, abs=1e-3)  # not 6 or 7: the weights matter


def test_no_logprobs_when_the_judge_or_request_does_not_want_them(server):
    p, _ = make(server, "openai", logprobs=False)
    assert asyncio.run(call(p, request())).logprobs is None
    p, _ = make(server, "openai")
    assert asyncio.run(call(p, request(want_logprobs=False))).logprobs is None


def test_batch_of_200_with_30_percent_retryable_failures_completes(server):
    server.faults = Faults(rate=0.3, kinds=RETRYABLE_FAULTS, retry_after_s=0.05, slow_s=1.5, seed=3)
    p, spec = make(server, "openai", max_concurrency=16, max_attempts=6, timeout_s=1.0)
    wrapped = limited(p, spec)

    async def go():
        try:
            return await asyncio.gather(*[wrapped.complete(request("y" * (20 + i))) for i in range(200)])
        finally:
            await wrapped.aclose()

    replies = asyncio.run(go())
    assert len(replies) == 200 and all(r.structured is not None for r in replies)
    print(f"\n200 calls at 30% retryable faults: {server.calls} server calls, {wrapped.stats.retries} retries, "
          f"outcomes {dict(server.stats.outcomes)}")
    assert 200 < server.calls <= 200 * spec.max_attempts
    assert wrapped.stats.attempts == server.calls and wrapped.stats.retries == server.calls - 200
    assert wrapped.stats.failures == 0 and set(server.stats.outcomes) - {"ok"} <= set(RETRYABLE_FAULTS)


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_bad_key_fails_fast_without_the_key_in_the_message(server, provider, monkeypatch):
    bad = "sk-wrong-key-abcdefghijklmnop1234"
    monkeypatch.setenv(ENV, bad)
    p, spec = make(server, provider, max_attempts=5)
    wrapped = limited(p, spec)
    with pytest.raises(JudgeAuthError) as ei:
        asyncio.run(call(wrapped, request()))
    msg = ei.value.message
    assert server.calls == 1
    assert "HTTP 401" in msg and f"${ENV}" in msg and "[REDACTED]" in msg
    assert bad not in msg and "sk-wrong" not in msg and bad[-4:] not in msg


def test_retry_after_is_honoured_over_http(server):
    server.faults = Faults(retry_after_s=1.0)
    server.enqueue("rate_limit")
    p, spec = make(server, "openai", max_attempts=3)
    wrapped = limited(p, spec)
    asyncio.run(call(wrapped, request()))
    first, second = server.log[0], server.log[1]
    assert (first.outcome, second.outcome) == ("rate_limit", "ok")
    assert second.started - first.finished >= 1.0
    assert wrapped.stats.retries == 1


def test_server_never_sees_more_than_max_concurrency(server):
    server.latency_s = 0.05
    p, spec = make(server, "openai", max_concurrency=4)
    wrapped = limited(p, spec)

    async def go():
        try:
            await asyncio.gather(*[wrapped.complete(request("c" * (30 + i))) for i in range(50)])
        finally:
            await wrapped.aclose()

    asyncio.run(go())
    assert server.calls == 50 and server.max_in_flight == 4


def test_api_key_never_appears_in_errors_or_reprs(server, monkeypatch):
    secret = "sk-live-TOPSECRET-9f8e7d6c5b4a3210"
    monkeypatch.setenv(ENV, secret)
    server.echo_key = "full"  # a provider that echoes the whole presented key
    errors: list[BaseException] = []
    objects: list[object] = []
    for provider in ("openai", "anthropic", "openai_compatible"):
        p, spec = make(server, provider, max_attempts=1, timeout_s=1.0)
        wrapped = limited(p, spec)
        objects += [p, wrapped, spec]

        async def go():
            try:
                server.api_key = "sk-some-other-valid-key-000000"
                try:
                    await wrapped.complete(request())
                except JudgeError as e:
                    errors.append(e)
                server.api_key = None
                server.faults = Faults(slow_s=1.5, retry_after_s=0.05)
                for kind in RETRYABLE_FAULTS:
                    server.enqueue(kind)
                    try:
                        await wrapped.complete(request())
                    except JudgeError as e:
                        errors.append(e)
            finally:
                await wrapped.aclose()

        asyncio.run(go())
    assert len(errors) == 3 * (1 + len(RETRYABLE_FAULTS))
    fragments = [secret, secret[:12], secret[-8:], "TOPSECRET"]
    for e in errors:
        rendered = "".join(traceback.format_exception(e)) + repr(e) + str(e) + repr(vars(e))
        assert e.__cause__ is None and e.__context__ is None
        for frag in fragments:
            assert frag not in rendered, f"{frag!r} leaked in {type(e).__name__}: {rendered[-300:]}"
    for obj in objects:
        assert all(frag not in repr(obj) for frag in fragments)


def test_missing_key_names_the_variable_not_a_value(monkeypatch):
    monkeypatch.delenv("JUDGE_TEST_UNSET_KEY", raising=False)
    spec = JudgeSpec(name="j", provider="openai", model="m", api_key_env="JUDGE_TEST_UNSET_KEY")
    with pytest.raises(JudgeAuthError, match=r"environment variable JUDGE_TEST_UNSET_KEY is not set"):
        OpenAIProvider(spec)
    with pytest.raises(JudgeAuthError, match="JUDGE_TEST_UNSET_KEY"):
        AnthropicProvider(spec.model_copy(update={"provider": "anthropic"}))


def test_health_is_cheap_and_reports_a_vanished_key(server, monkeypatch):
    p, _ = make(server, "openai")
    assert asyncio.run(p.health()) == "ok"
    monkeypatch.delenv(ENV)
    assert asyncio.run(p.health()) == f"unavailable: env var {ENV} not set"
    assert server.calls == 0  # never a completion
    probe, _ = make(server, "openai_compatible", api_key_env=None, options={"health_probe": True})
    server.api_key = None

    async def probe_once():
        try:
            return await probe.health()
        finally:
            await probe.aclose()

    assert asyncio.run(probe_once()) == "ok" and server.calls == 0


def test_openai_compatible_needs_a_base_url_but_no_key(server):
    with pytest.raises(InvalidInput, match="needs base_url"):
        OpenAICompatibleProvider(JudgeSpec(name="j", provider="openai_compatible", model="m"))
    server.api_key = None
    p, _ = make(server, "openai_compatible", api_key_env=None)
    reply = asyncio.run(call(p, request()))
    assert reply.structured is None and '"score"' in reply.text  # structured output is off by default here


def test_unsupported_parameters_are_dropped_once_and_for_good(server):
    server.reject_params = ("max_tokens", "temperature")
    p, _ = make(server, "openai")

    async def go():
        try:
            first = await p.complete(request())
            second = await p.complete(request())
            return first, second
        finally:
            await p.aclose()

    first, second = asyncio.run(go())
    assert first.structured is not None and second.structured is not None
    assert [r.outcome for r in server.log] == ["bad_request", "bad_request", "ok", "ok"]
    assert p._max_tokens_param == "max_completion_tokens" and p._send_temperature is False


def test_anthropic_drops_temperature_when_the_model_rejects_it(server):
    server.reject_params = ("temperature",)
    p, _ = make(server, "anthropic")
    reply = asyncio.run(call(p, request()))
    assert reply.structured is not None
    assert [r.outcome for r in server.log] == ["bad_request", "ok"]


def test_a_rejected_request_is_not_retried_and_says_what_to_do(server):
    server.reject_params = ("response_format",)
    p, spec = make(server, "openai")
    wrapped = limited(p, spec)
    with pytest.raises(JudgeAuthError, match="structured_output: false"):
        asyncio.run(call(wrapped, request()))
    assert server.calls == 1


def test_timeouts_and_drops_are_retryable_errors(server):
    p, _ = make(server, "openai", timeout_s=1.0)
    server.faults = Faults(slow_s=1.5)

    async def go():
        out = []
        for kind in ("slow", "drop", "malformed", "unavailable"):
            server.enqueue(kind)
            try:
                await p.complete(request())
            except JudgeError as e:
                out.append(e)
        await p.aclose()
        return out

    errs = asyncio.run(go())
    assert [e.retryable for e in errs] == [True] * 4
    assert "within 1s" in errs[0].message and "connection" in errs[1].message and "malformed" in errs[2].message
    assert errs[3].retry_after == 1.0 and "HTTP 503" in errs[3].message


def test_redact_removes_keys_and_their_echoes():
    key = "sk-proj-abcdef1234567890wxyz"
    assert redact(f"Bearer {key} rejected", [key]) == "Bearer [REDACTED] rejected"
    assert redact("Incorrect API key provided: sk-proj-************wxyz.", [key]) == "Incorrect API key provided: [REDACTED]."
    assert redact("key abcdef12345 is bad", [key]) == "key [REDACTED] is bad"
    assert redact("unknown key sk-ant-api03-QQQQ", []) == "unknown key [REDACTED]"
    assert redact("model gpt-4o-mini not found", [key]) == "model gpt-4o-mini not found"
    assert redact("took 1234 ms", [key]) == "took 1234 ms"


def test_latency_is_measured(server):
    server.latency_s = 0.1
    p, _ = make(server, "anthropic")
    started = time.perf_counter()
    reply = asyncio.run(call(p, request()))
    assert 100 <= reply.latency_ms <= (time.perf_counter() - started) * 1000 + 1


@pytest.mark.parametrize("backend", ["httpx", "aiohttp", "direct"])
def test_every_http_backend_answers_and_maps_failures_alike(server, backend):
    # The same provider paths over httpx2's own stack, over the SDK's aiohttp transport (whose
    # adapter files a dropped or refused connection under ConnectTimeout: it must still read as a
    # connection failure, at once, not as "no reply within timeout_s"), and on aiohttp without the
    # SDK's pipeline.
    server.faults = Faults(slow_s=1.5, retry_after_s=0.5)
    options = {"retry_base_s": 0.01, "retry_cap_s": 0.1, "http_backend": backend}
    p, spec = make(server, "openai", timeout_s=1.0, options=options)
    assert p.http_backend == backend and f"http_backend={backend!r}" in repr(p)
    with socket.socket() as s:  # a port with nothing listening
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    refused, _ = make(server, "openai", base_url=f"http://127.0.0.1:{closed_port}/v1", options=options)
    wrapped = limited(*make(server, "openai", max_attempts=2, options=options))

    async def attempt(provider, kind: str | None = None) -> tuple[JudgeError, float]:
        if kind:
            server.enqueue(kind)
        started = time.perf_counter()
        with pytest.raises(JudgeError) as ei:
            await provider.complete(request())
        return ei.value, time.perf_counter() - started

    async def go():
        try:
            reply = await p.complete(request())
            errors = {kind: await attempt(p, kind) for kind in ("drop", "slow", "malformed", "rate_limit", "server_error")}
            errors["refused"] = await attempt(refused)
            server.enqueue("rate_limit")
            after_retry = await wrapped.complete(request())
            return reply, errors, after_retry
        finally:
            for provider in (p, refused, wrapped):
                await provider.aclose()

    reply, errors, after_retry = asyncio.run(go())
    assert reply.structured is not None and reply.structured["score"] in (6, 7) and reply.model == "judge-model-2025-01-01"
    value = next(t for t in reply.logprobs if len(t.top) == 10)
    assert parse_reply(reply, (SCORE,)).fields["score"].expected() == pytest.approx(6.4995, abs=1e-3)
    assert value.top[value.token] == value.logprob

    assert all(e.retryable and e.__cause__ is None and e.__context__ is None for e, _ in errors.values())
    for kind in ("drop", "refused"):
        e, took = errors[kind]
        assert "connection to" in e.message and "within" not in e.message and took < 0.5, (kind, e.message, took)
    e, took = errors["slow"]
    assert "no reply" in e.message and "within 1s" in e.message and took >= 1.0
    assert "malformed response" in errors["malformed"][0].message
    e, _ = errors["rate_limit"]
    assert "HTTP 429" in e.message and e.retry_after == 0.5
    assert "HTTP 500" in errors["server_error"][0].message
    assert after_retry.structured is not None and wrapped.stats.retries == 1
    # The slow call's record lands late (the server finishes it after we gave up), so pick by outcome.
    # The server logs a call after its reply is written, so the retry's record can land just after
    # the client has the reply (the direct backend reads it fast enough to see that): wait for it.
    deadline = time.monotonic() + 5
    while sum(r.outcome == "ok" for r in server.log) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    limited_429, retried = [r for r in server.log if r.outcome in ("rate_limit", "ok")][-2:]
    assert limited_429.outcome == "rate_limit" and retried.started - limited_429.finished >= 0.5  # Retry-After honoured


def test_http_backend_auto_prefers_direct_and_falls_back_to_httpx(server, monkeypatch):
    import importlib.util

    assert make(server, "openai")[0].http_backend == "direct"
    with pytest.raises(InvalidInput, match="http_backend must be one of auto, direct, aiohttp, httpx"):
        make(server, "openai", options={"http_backend": "requests"})

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(openai_provider.importlib.util, "find_spec",
                        lambda name, *args: None if name == "aiohttp" else real_find_spec(name, *args))

    class MissingAioHttpClient:  # what the SDK puts in place of DefaultAioHttpClient without the extra
        def __init__(self, **_kwargs):
            raise RuntimeError("To use the aiohttp client you must have installed the package with the `aiohttp` extra")

    monkeypatch.setattr(openai_provider.openai, "DefaultAioHttpClient", MissingAioHttpClient)
    p, _ = make(server, "openai_compatible", max_concurrency=40)
    assert p.http_backend == "httpx" and len(p._clients) == 3  # pools of at most POOL_SIZE connections
    assert asyncio.run(call(p, request())).text
    with pytest.raises(InvalidInput, match=r"pip install 'openai\[aiohttp\]'"):
        make(server, "openai", options={"http_backend": "aiohttp"})
    with pytest.raises(InvalidInput, match=r"http_backend is direct but aiohttp is not installed"):
        make(server, "openai", options={"http_backend": "direct"})
