"""The fake judge server, driven by the official SDKs over a real loopback socket."""

from __future__ import annotations

import asyncio
import json
import math
import signal
import subprocess
import sys
import time

import anthropic
import httpx
import openai
import pytest

from judge_service.engine.prompts import answer_instructions, output_schema, wrap
from judge_service.judges.base import AnswerField
from judge_service.testing.fake_server import ALL_FAULTS, FakeJudgeServer, Faults
from judge_service.testing.policies import POLICIES, JudgeView

KEY = "sk-test-fake-0123456789abcdef"
SCORE = AnswerField("score", tuple(str(i) for i in range(1, 11)))
WINNER = AnswerField("winner", ("A", "B", "tie"))


def score_prompt(response: str) -> str:
    return "Grade the response.\n" + wrap("response", response) + "\n" + answer_instructions((SCORE,))


def pair_prompt(a: str, b: str) -> str:
    return "Which is better?\n" + wrap("response_a", a) + "\n" + wrap("response_b", b) + "\n" + answer_instructions((WINNER,))


@pytest.fixture(scope="module")
def server():
    with FakeJudgeServer("score_by_length", api_key=KEY, model_suffix="-2025-01-01") as s:
        yield s


@pytest.fixture(autouse=True)
def _clean(server):
    server.reset()
    server.faults = Faults()
    server.latency_s = 0.0
    yield


def oai(server: FakeJudgeServer, key: str = KEY, timeout: float = 5.0) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key=key, base_url=server.openai_base_url, max_retries=0, timeout=timeout)


def ant(server: FakeJudgeServer, key: str = KEY) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(api_key=key, base_url=server.anthropic_base_url, max_retries=0, timeout=5.0)


def run(coro):
    return asyncio.run(coro)


def test_openai_structured_reply_with_logprobs_in_the_official_shape(server):
    prompt = score_prompt("x" * 130)  # score_by_length: 130 chars / 20 = 6.5

    async def go():
        async with oai(server) as c:
            return await c.chat.completions.create(
                model="gpt-fake", messages=[{"role": "user", "content": prompt}], temperature=0, seed=1, max_tokens=64,
                logprobs=True, top_logprobs=20,
                response_format={"type": "json_schema", "json_schema": {"name": "v", "strict": True, "schema": output_schema((SCORE,))}})

    r = run(go())
    obj = json.loads(r.choices[0].message.content)
    assert obj["score"] in (6, 7) and isinstance(obj["rationale"], str)
    assert r.model == "gpt-fake-2025-01-01"
    assert r.usage.prompt_tokens == len(prompt) // 4 and r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
    tokens = r.choices[0].logprobs.content
    assert "".join(t.token for t in tokens) == r.choices[0].message.content
    value = next(t for t in tokens if t.token == str(obj["score"]))
    top = {alt.token: alt.logprob for alt in value.top_logprobs}
    assert set(top) == {str(n) for n in range(1, 11)}
    weights = {n: math.exp(-((n - 6.5) ** 2)) for n in range(1, 11)}
    total = sum(weights.values())
    for n, w in weights.items():
        assert math.exp(top[str(n)]) == pytest.approx(w / total, rel=1e-6, abs=1e-12)
    assert value.logprob == top[value.token]


def test_fields_come_from_the_prompt_without_a_schema_and_pairwise_policy_applies(server):
    server.policy = POLICIES["prefer_longer"]
    try:
        async def go():
            async with oai(server) as c:
                r = await c.chat.completions.create(model="m", messages=[{"role": "user", "content": pair_prompt("short", "much longer answer")}], temperature=0)
                return json.loads(r.choices[0].message.content)

        assert run(go())["winner"] == "B"
    finally:
        server.policy = POLICIES["score_by_length"]


def test_anthropic_tool_use_block_and_text_reply(server):
    prompt = score_prompt("y" * 100)

    async def go():
        async with ant(server) as c:
            tool = await c.messages.create(
                model="claude-fake", max_tokens=64, system="Be fair.", messages=[{"role": "user", "content": prompt}],
                tools=[{"name": "record_verdict", "description": "d", "input_schema": output_schema((SCORE,))}],
                tool_choice={"type": "tool", "name": "record_verdict"}, extra_body={"temperature": 0})
            text = await c.messages.create(model="claude-fake", max_tokens=64, messages=[{"role": "user", "content": prompt}],
                                           extra_body={"temperature": 0})
            return tool, text

    tool, text = run(go())
    block = tool.content[0]
    assert block.type == "tool_use" and block.name == "record_verdict" and block.input["score"] == 5
    assert tool.stop_reason == "tool_use" and tool.usage.input_tokens > 0 and tool.model == "claude-fake-2025-01-01"
    assert text.content[0].type == "text" and json.loads(text.content[0].text)["score"] == 5


def test_models_endpoint_for_both_sdks(server):
    async def go():
        async with oai(server) as c, ant(server) as a:
            return [m.id async for m in c.models.list()], [m.id async for m in a.models.list()]

    assert run(go()) == (["fake-judge"], ["fake-judge"])


def test_seeded_draws_at_temperature_are_reproducible_and_vary_with_seed(server):
    flat = lambda view, rng: {f.name: {lab: 1 / len(f.labels) for lab in f.labels} for f in view.fields}  # noqa: E731
    server.policy = flat
    try:
        async def draw(seed):
            async with oai(server) as c:
                r = await c.chat.completions.create(model="m", messages=[{"role": "user", "content": score_prompt("z")}], temperature=1.0, seed=seed)
                return json.loads(r.choices[0].message.content)["score"]

        async def go():
            return [await draw(s) for s in range(12)], [await draw(s) for s in range(12)]

        first, second = run(go())
        assert first == second
        assert len(set(first)) >= 3  # uniform over 10 labels: 12 seeded draws are not all alike
    finally:
        server.policy = POLICIES["score_by_length"]


@pytest.mark.parametrize("kind,openai_exc,anthropic_exc", [
    ("rate_limit", openai.RateLimitError, anthropic.RateLimitError),
    ("server_error", openai.InternalServerError, anthropic.InternalServerError),
    ("unavailable", openai.InternalServerError, anthropic.InternalServerError),
    ("drop", openai.APIConnectionError, anthropic.APIConnectionError),
    ("malformed", ValueError, ValueError),
    ("slow", openai.APITimeoutError, anthropic.APITimeoutError),
])
def test_each_fault_kind_reaches_the_sdk_as_its_error(server, kind, openai_exc, anthropic_exc):
    # Generous timeouts: on a loaded CI machine a 0.3 s timeout can fire before the server even
    # reads the request, and then the queued fault lands on the next one.
    server.faults = Faults(slow_s=1.5, retry_after_s=2.0)

    async def go():
        out = []
        c = openai.AsyncOpenAI(api_key=KEY, base_url=server.openai_base_url, max_retries=0, timeout=1.0)
        a = anthropic.AsyncAnthropic(api_key=KEY, base_url=server.anthropic_base_url, max_retries=0, timeout=1.0)
        for call in (lambda: c.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}]),
                     lambda: a.messages.create(model="m", max_tokens=8, messages=[{"role": "user", "content": "hi"}])):
            server.enqueue(kind)
            try:
                await call()
                out.append(None)
            except Exception as e:  # noqa: BLE001
                out.append(e)
        await c.close()
        await a.close()
        return out

    e_openai, e_anthropic = run(go())
    assert isinstance(e_openai, openai_exc) and isinstance(e_anthropic, anthropic_exc)
    if kind == "rate_limit":
        assert e_openai.response.headers["retry-after"] == "2" and e_openai.response.headers["retry-after-ms"] == "2000"
    for _ in range(40):  # a slow reply is logged when the server finishes it, after the client gave up
        if len(server.log) == 2:
            break
        time.sleep(0.05)
    assert [r.outcome for r in server.log] == [kind, kind]


def test_garbage_and_refusal_are_well_formed_replies_without_a_verdict(server):
    async def go():
        async with oai(server) as c:
            server.enqueue("garbage", "refusal")
            g = await c.chat.completions.create(model="m", messages=[{"role": "user", "content": score_prompt("a")}])
            r = await c.chat.completions.create(model="m", messages=[{"role": "user", "content": score_prompt("a")}])
            return g.choices[0].message, r.choices[0].message

    g, r = run(go())
    assert g.content and "score" not in g.content
    assert r.content is None and r.refusal


def test_bad_key_is_401_echoing_part_of_the_key_like_real_providers(server):
    bad = "sk-wrong-abcdefghijklmnop"

    async def go():
        async with oai(server, key=bad) as c:
            with pytest.raises(openai.AuthenticationError) as ei:
                await c.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
            return ei.value

    e = run(go())
    assert "sk-wrong" in e.message and bad not in e.message  # partial echo, as OpenAI does
    assert server.calls == 1 and server.log[0].outcome == "unauthorized" and server.log[0].status == 401


def test_fault_rate_is_deterministic_per_request_body(server):
    server.faults = Faults(rate=0.5, kinds=("server_error",), seed=7)

    async def sweep():
        outcomes = []
        async with oai(server) as c:
            for i in range(40):
                try:
                    await c.chat.completions.create(model="m", messages=[{"role": "user", "content": f"item {i}"}])
                    outcomes.append("ok")
                except openai.InternalServerError:
                    outcomes.append("server_error")
        return outcomes

    first = run(sweep())
    server.reset()
    second = run(sweep())
    assert first == second
    assert 8 <= first.count("server_error") <= 32  # about half of 40


def test_call_log_counters_latency_and_reset(server):
    server.latency_s = 0.1

    async def go():
        async with oai(server) as c:
            started = time.perf_counter()
            await asyncio.gather(*[c.chat.completions.create(model="m", messages=[{"role": "user", "content": f"q{i}"}]) for i in range(5)])
            return time.perf_counter() - started

    elapsed = run(go())
    assert elapsed >= 0.1
    assert server.calls == 5 and server.max_in_flight == 5
    assert len({r.body_sha256 for r in server.log}) == 5
    assert all(r.finished - r.started >= 0.1 and r.outcome == "ok" for r in server.log)
    server.reset()
    assert server.calls == 0 and server.max_in_flight == 0 and len(server.log) == 0


def test_enqueue_refuses_unknown_outcomes(server):
    with pytest.raises(ValueError, match="unknown outcome"):
        server.enqueue("explode")
    with pytest.raises(ValueError, match="unknown fault kinds"):
        Faults(kinds=("explode",))
    assert set(ALL_FAULTS) >= {"rate_limit", "drop", "slow", "malformed", "garbage", "refusal"}


def start_cli_server(*flags: str, stdin: int) -> tuple[subprocess.Popen, str]:
    """The fake server's command line in its own process, as a user's CI script runs it; returns the
    process and the base URL from the first line it prints."""
    proc = subprocess.Popen([sys.executable, "-m", "judge_service.testing.fake_server", *flags],
                            stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if not line.startswith("FAKE_JUDGE_SERVER http://127.0.0.1:"):
        proc.kill()
        _, err = proc.communicate()
        pytest.fail(f"fake server did not print its address: stdout {line!r}, stderr {err!r}")
    return proc, line.split()[1]


def wait_for_exit(proc: subprocess.Popen, timeout_s: float = 5.0) -> tuple[int, str]:
    """(exit code, stderr) of a server told to stop; kills it and fails if it is still running after timeout_s.

    wait, not communicate: communicate closes stdin, which would stop a --stop-on-stdin-eof server
    by the other route and hide a SIGTERM that did nothing."""
    try:
        code = proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail(f"fake server still running {timeout_s} s after it was told to stop")
    err = proc.stderr.read()
    for pipe in (proc.stdin, proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()
    return code, err


def test_admin_endpoints_configure_a_server_in_another_process():
    proc, base = start_cli_server("--latency", "0", "--stop-on-stdin-eof", stdin=subprocess.PIPE)
    try:
        with httpx.Client(base_url=base, timeout=5) as h:
            cfg = h.post("/_fake/config", json={"latency_s": 0.01, "faults": {"rate": 1.0, "kinds": ["server_error"]}}).json()
            assert cfg["latency_s"] == 0.01 and cfg["faults"]["rate"] == 1.0
            assert h.post("/_fake/config", json={"faults": {"kinds": ["explode"]}}).status_code == 400
            assert h.post("/v1/chat/completions", json={"model": "m", "messages": []}).status_code == 500
            assert h.get("/_fake/stats").json()["outcomes"] == {"server_error": 1}
            h.post("/_fake/reset")
            assert h.get("/_fake/stats").json()["calls"] == 0
    finally:
        proc.stdin.close()
        code, err = wait_for_exit(proc)
    assert code == 0 and "Traceback" not in err, err


posix_signals = pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM to a child process is POSIX")


@posix_signals
def test_cli_server_started_in_the_background_serves_until_sigterm_and_exits_cleanly():
    # A CI script's `python -m judge_service.testing.fake_server &` has /dev/null on stdin: EOF at once.
    proc, base = start_cli_server(stdin=subprocess.DEVNULL)
    try:
        with httpx.Client(base_url=base, timeout=5) as h:
            assert h.get("/_fake/stats").json()["calls"] == 0
            time.sleep(0.3)  # long enough for a server that stopped at stdin's EOF to be gone
            assert proc.poll() is None, "the server stopped on its own, with stdin at EOF and no signal"
            assert h.get("/_fake/stats").status_code == 200
        proc.send_signal(signal.SIGTERM)
    finally:
        code, err = wait_for_exit(proc)
    assert code == 0, f"exit code {code} after SIGTERM; stderr: {err}"
    assert "Traceback" not in err, err


@posix_signals
def test_ctrl_c_stops_the_cli_server_cleanly():
    proc, base = start_cli_server(stdin=subprocess.DEVNULL)
    try:
        assert httpx.get(base + "/_fake/stats", timeout=5).status_code == 200
        proc.send_signal(signal.SIGINT)
    finally:
        code, err = wait_for_exit(proc)
    assert code == 0 and "Traceback" not in err and "KeyboardInterrupt" not in err, err


def test_stop_on_stdin_eof_stops_the_server_when_its_parent_closes_stdin():
    proc, base = start_cli_server("--stop-on-stdin-eof", stdin=subprocess.PIPE)
    try:
        assert httpx.get(base + "/_fake/stats", timeout=5).status_code == 200
        assert proc.poll() is None
        proc.stdin.close()
    finally:
        code, err = wait_for_exit(proc)
    assert code == 0 and "Traceback" not in err, err


@posix_signals
def test_stop_on_stdin_eof_still_stops_on_sigterm_while_stdin_is_open():
    # The stdin watcher must not keep the process alive: a blocked read of stdin is the usual way
    # an asyncio program ignores its SIGTERM at exit.
    proc, base = start_cli_server("--stop-on-stdin-eof", stdin=subprocess.PIPE)
    try:
        assert httpx.get(base + "/_fake/stats", timeout=5).status_code == 200
        proc.send_signal(signal.SIGTERM)
        code, err = wait_for_exit(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 0 and "Traceback" not in err, err


def test_cli_server_says_which_port_is_taken_and_what_to_do(server):
    proc = subprocess.run([sys.executable, "-m", "judge_service.testing.fake_server", "--port", str(server.port)],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    assert proc.returncode != 0 and proc.stdout == ""
    assert f"{server.port}" in proc.stderr and "--port 0" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("body,names", [
    (b'{"faults": {"kinds": ["explode"]}}', ["explode", "rate_limit", "refusal"]),  # the bad kind and the choices
    (b'{"faults": {"nope": 1}}', ["nope", "valid keys", "kinds"]),
    (b'{"latncy_s": 0.5}', ["latncy_s", "latency_s"]),
    (b'{"faults": ', ["not JSON", "latency_s"]),
    (b'["rate"]', ["JSON object"]),
    (b'{"faults": {"rate": "0.3"}}', ["faults.rate", "number"]),
    (b'{"faults": {"rate": 2}}', ["rate", "0 to 1"]),
    (b'{"faults": {"kinds": ["drop", "slow"], "weights": [1]}}', ["weights", "drop", "slow"]),
    (b'{"latency_s": -1}', ["latency_s", "0 or more"]),
])
def test_a_bad_admin_config_is_a_400_naming_the_problem_and_keeps_the_previous_config(server, body, names):
    with httpx.Client(base_url=server.base_url, timeout=5, headers={"authorization": f"Bearer {KEY}"}) as h:
        good = {"latency_s": 0.0, "faults": {"rate": 1.0, "kinds": ["server_error"]}}
        assert h.post("/_fake/config", json=good).status_code == 200
        before = server.faults
        r = h.post("/_fake/config", content=body)
        assert r.status_code == 400
        message = r.json()["error"]["message"]
        for name in names:
            assert name in message, message
        assert server.faults is before and server.latency_s == 0.0
        # The server still serves on the same connection, under the config it had before.
        assert h.post("/v1/chat/completions", json={"model": "m", "messages": []}).status_code == 500
        assert h.get("/_fake/stats").json()["outcomes"] == {"server_error": 1}


def test_view_sees_the_delimited_blocks(server):
    seen: list[JudgeView] = []

    def spy(view, rng):
        seen.append(view)
        return {f.name: {lab: 1 / len(f.labels) for lab in f.labels} for f in view.fields}

    server.policy = spy
    try:
        async def go():
            async with oai(server) as c:
                await c.chat.completions.create(model="m", messages=[{"role": "system", "content": "sys"},
                                                                     {"role": "user", "content": pair_prompt("left", "right")}], temperature=0)
        run(go())
    finally:
        server.policy = POLICIES["score_by_length"]
    assert seen[0].response_a == "left" and seen[0].response_b == "right" and seen[0].fields == (WINNER,)
