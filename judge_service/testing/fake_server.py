"""A fake remote judge on a real socket: speaks enough OpenAI and Anthropic for the official SDKs.

Tests and benchmarks run the real ``openai`` / ``anthropic`` clients against it over loopback, so
the SDKs' own request building, HTTP stack, parsing and error classes are exercised, not mocked.

    with FakeJudgeServer(policy="prefer_longer", api_key="sk-test-good") as server:
        spec = JudgeSpec(name="j", provider="openai", model="gpt-fake", base_url=server.openai_base_url, ...)

Endpoints: ``POST /v1/chat/completions`` (``response_format`` json_schema, ``logprobs`` /
``top_logprobs`` in the official shape, usage), ``GET /v1/models``, ``POST /v1/messages``
(``tools`` + ``tool_choice`` answered with a ``tool_use`` block, usage), and both batch APIs
(OpenAI files + batches, Anthropic message batches; ``server.batches``, see testing/fake_batches.py). Admin, for a server in
another process: ``GET /_fake/stats``, ``POST /_fake/reset``, ``POST /_fake/config``, ``POST /_fake/batches``
(``{"delay_s": 2, "enqueue": ["expire"]}``) (a config
it cannot apply is a 400 naming the problem, and the previous config stays).

In its own process: ``python -m judge_service.testing.fake_server [--port N]`` serves until
SIGTERM or Ctrl-C; ``--stop-on-stdin-eof`` also stops it when its stdin closes (a parent's pipe).

A length-probe rewrite request (engine/rewrite.py) is answered with free text by
``testing.rewrites`` (verbose: padded; concise: truncated), whatever the policy. Other answers come from a policy in ``testing.policies`` (a name or a callable) applied to
``view_from_text(prompt, fields)``; fields are read from the schema's enums, else from the
prompt's answer-format lines. At temperature 0 the answer is the policy's most probable label; at
temperature > 0 it is a draw seeded by (seed, prompt), so a seeded request is reproducible.

Faults (``Faults``; change ``server.faults`` at any time, or ``enqueue`` exact outcomes):
``rate_limit`` (429 + Retry-After), ``server_error`` (500), ``unavailable`` (503), ``slow``
(replies after ``slow_s``, past a client's timeout), ``drop`` (connection closed without a
reply), ``malformed`` (200 with a truncated JSON body), ``garbage`` (200, a reply with no
verdict in it), ``refusal`` (200, the model declines). With ``deterministic=True`` whether a
request fails depends only on (seed, body hash, how often that body was seen), not on arrival
order, so a concurrent test is reproducible.

The HTTP/1.1 server is a small asyncio-streams loop rather than uvicorn: it must be able to drop
a connection mid-request, and it must be cheap enough not to be the bottleneck of a benchmark.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import hashlib
import json
import os
import random
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from judge_service.engine.prompts import fields_from_prompt
from judge_service.testing.fake_batches import FakeBatches
from judge_service.testing.fake_faults import (RETRYABLE_FAULTS, ALL_FAULTS, Faults, _CONFIG_EXAMPLE, parse_admin_config, _faults_from_json, _number, _seconds, _integer, _boolean, _kinds, _weights)  # noqa: F401  (re-exported)
from judge_service.testing.fake_wire import (_error_body, _mask, _content_text, _forced_tool, _fields_from_schema, _tokens, _token_logprob, _read_chunked)
from judge_service.testing.policies import POLICIES, Policy, choose, view_from_text
from judge_service.testing.rewrites import rewrite_reply

_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 429: "Too Many Requests",
            500: "Internal Server Error", 503: "Service Unavailable"}
GARBAGE_TEXT = "Hmm, both have merits. It depends on what the user wanted, really."
REFUSAL_TEXT = "I'm sorry, but I can't help with evaluating that."


@dataclass(frozen=True)
class CallRecord:
    path: str
    body_sha256: str
    outcome: str  # "ok", "unauthorized", "bad_request" or a fault kind
    status: int  # 0 when no response was sent (drop)
    started: float  # time.monotonic() in the server's process
    finished: float


@dataclass
class _Stats:
    calls: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    outcomes: collections.Counter[str] = field(default_factory=collections.Counter)


class _Reply(Exception):
    """Raised inside a handler to answer with an error status and body."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None, outcome: str = "error") -> None:
        self.status, self.body, self.headers, self.outcome = status, body, headers or {}, outcome


class FakeJudgeServer:
    def __init__(
        self,
        policy: str | Policy = "prefer_longer",
        *,
        api_key: str | None = None,
        echo_key: str = "partial",  # how a 401 echoes the presented key: "partial" (like OpenAI) or "full"
        latency_s: float = 0.0,
        faults: Faults | None = None,
        models: tuple[str, ...] = ("fake-judge",),
        model_suffix: str = "",  # appended to the requested model in replies ("-2024-08-06")
        reject_params: tuple[str, ...] = (),  # body keys answered with a 400 "unsupported parameter"
        host: str = "127.0.0.1",
        port: int = 0,
        log_limit: int = 100_000,
    ) -> None:
        self.policy: Policy = POLICIES[policy] if isinstance(policy, str) else policy
        self.api_key = api_key
        self.echo_key = echo_key
        self.latency_s = latency_s
        self.faults = faults or Faults()
        self.models = models
        self.model_suffix = model_suffix
        self.reject_params = tuple(reject_params)
        self.host = host
        self.port = port
        self.log: collections.deque[CallRecord] = collections.deque(maxlen=log_limit)
        self.stats = _Stats()
        self._queue: collections.deque[str] = collections.deque()
        self._seen: collections.Counter[str] = collections.Counter()
        self._rng = random.Random(self.faults.seed)
        self._ids = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self._conns: set[asyncio.Task[Any]] = set()
        # OpenAI Batch and Anthropic Message Batches (testing/fake_batches.py).
        self.batches = FakeBatches(self)

    # -- the knobs tests turn ---------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def openai_base_url(self) -> str:
        return f"{self.base_url}/v1"

    @property
    def anthropic_base_url(self) -> str:
        # The Anthropic SDK appends /v1/messages itself.
        return self.base_url

    @property
    def calls(self) -> int:
        return self.stats.calls

    @property
    def max_in_flight(self) -> int:
        return self.stats.max_in_flight

    def enqueue(self, *outcomes: str) -> None:
        """The next requests get exactly these outcomes, in arrival order ("ok" = no fault)."""
        for o in outcomes:
            if o != "ok" and o not in ALL_FAULTS:
                raise ValueError(f"unknown outcome {o!r}; use 'ok' or one of {ALL_FAULTS}")
        self._queue.extend(outcomes)

    def reset(self) -> None:
        """Forget calls, counters, queued outcomes and which bodies were seen. Keeps the config."""
        # New objects, not cleared ones: a slow reply still in progress logs into the old ones.
        self.log = collections.deque(maxlen=self.log.maxlen)
        self.stats = _Stats()
        self._queue.clear()
        self._seen.clear()
        self._rng = random.Random(self.faults.seed)

    def snapshot(self) -> dict[str, Any]:
        return {"calls": self.stats.calls, "in_flight": self.stats.in_flight,
                "max_in_flight": self.stats.max_in_flight, "outcomes": dict(self.stats.outcomes),
                "batches": self.batches.snapshot()}

    # -- lifecycle --------------------------------------------------------------------------

    async def start_async(self) -> None:
        self._server = await asyncio.start_server(self._connection, self.host, self.port, backlog=2048)
        self.port = self._server.sockets[0].getsockname()[1]
        self._loop = asyncio.get_running_loop()

    async def stop_async(self) -> None:
        if self._server is not None:
            self._server.close()
            for t in list(self._conns):
                t.cancel()
            await asyncio.gather(*self._conns, return_exceptions=True)
            await self._server.wait_closed()
            self._server = None

    def start(self) -> FakeJudgeServer:
        """Serve from a background thread with its own event loop; returns once listening."""
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            try:
                loop.run_until_complete(self.start_async())
            except BaseException as e:  # surface bind errors to the caller
                failure.append(e)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self.stop_async())
            loop.close()

        self._thread = threading.Thread(target=run, name=f"fake-judge-{id(self):x}", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("fake judge server did not start within 10 s")
        if failure:
            raise failure[0]
        return self

    def stop(self) -> None:
        if self._thread is None or self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._thread = None

    def __enter__(self) -> FakeJudgeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- HTTP/1.1 ---------------------------------------------------------------------------

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._conns.add(task)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                try:
                    method, target, _version = lines[0].split(" ", 2)
                except ValueError:
                    return
                headers: dict[str, str] = {}
                for line in lines[1:]:
                    if line:
                        k, _, v = line.partition(":")
                        headers[k.strip().lower()] = v.strip()
                try:
                    if headers.get("transfer-encoding", "").lower() == "chunked":
                        body = await _read_chunked(reader)
                    else:
                        body = await reader.readexactly(int(headers.get("content-length", "0")))
                except (asyncio.IncompleteReadError, ConnectionError, ValueError):
                    return
                keep = await self._dispatch(method, target.split("?", 1)[0], headers, body, writer)
                if not keep or headers.get("connection", "").lower() == "close":
                    return
        except asyncio.CancelledError:
            pass
        finally:
            self._conns.discard(task)
            try:
                writer.close()
            except Exception:
                pass

    async def _send(self, writer: asyncio.StreamWriter, status: int, body: bytes, headers: dict[str, str] | None = None,
                    content_type: str = "application/json") -> None:
        head = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}", f"content-type: {content_type}",
                f"content-length: {len(body)}"]
        head += [f"{k}: {v}" for k, v in (headers or {}).items()]
        try:
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
            await writer.drain()
        except (ConnectionError, RuntimeError):
            pass  # the client gave up (e.g. timed out on a slow reply)

    async def _dispatch(self, method: str, path: str, headers: dict[str, str], raw: bytes,
                        writer: asyncio.StreamWriter) -> bool:
        if path.startswith("/_fake/"):
            return await self._admin(method, path, raw, writer)
        if method == "GET" and path == "/v1/models":
            await self._send(writer, 200, json.dumps(self._models_body(headers)).encode())
            return True
        if path.startswith(("/v1/files", "/v1/batches", "/v1/messages/batches")):
            try:
                self._check_key("anthropic" if path.startswith("/v1/messages") else "openai", headers)
                routed = self.batches.route(method, path, headers, raw)
            except _Reply as r:
                await self._send(writer, r.status, json.dumps(r.body).encode(), r.headers)
                return True
            if routed is not None:
                routed_status, routed_body, content_type = routed
                await self._send(writer, routed_status, routed_body, content_type=content_type)
                return True
        flavour = {"/v1/chat/completions": "openai", "/v1/messages": "anthropic"}.get(path)
        if method != "POST" or flavour is None:
            await self._send(writer, 404, json.dumps(_error_body("openai", "not_found_error", f"no route {method} {path}")).encode())
            return True

        stats, log = self.stats, self.log
        stats.calls += 1
        stats.in_flight += 1
        stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
        started = time.monotonic()
        digest = hashlib.sha256(raw).hexdigest()
        outcome, status = "ok", 200
        try:
            try:
                self._check_key(flavour, headers)
                try:
                    body = json.loads(raw)
                except ValueError:
                    raise _Reply(400, _error_body(flavour, "invalid_request_error", "request body is not JSON"), outcome="bad_request") from None
                self._check_params(flavour, body)
                fault = self._next_fault(digest)
                # The answer is computed before the wait, so the reply leaves `latency_s` after the
                # request arrived rather than latency_s plus our own work: benchmarks measuring a
                # client against a "100 ms" judge get 100 ms, not 101.
                payload = None if fault is not None else (self._openai(body) if flavour == "openai" else self._anthropic(body))
                reply = json.dumps(payload).encode()
                if (wait := started + self.latency_s - time.monotonic()) > 0:
                    await asyncio.sleep(wait)
                if fault is not None:
                    outcome = fault
                    status = await self._fault(fault, flavour, writer)
                    return fault != "drop"
            except _Reply as r:
                outcome, status = r.outcome, r.status
                await self._send(writer, r.status, json.dumps(r.body).encode(), r.headers)
                return True
            await self._send(writer, 200, reply)
            return True
        finally:
            stats.in_flight -= 1
            stats.outcomes[outcome] += 1
            log.append(CallRecord(path, digest, outcome, status, started, time.monotonic()))

    # -- behaviour --------------------------------------------------------------------------

    def _check_key(self, flavour: str, headers: dict[str, str]) -> None:
        if self.api_key is None:
            return
        presented = headers.get("x-api-key") or headers.get("authorization", "").removeprefix("Bearer ").strip()
        if presented == self.api_key:
            return
        shown = presented if self.echo_key == "full" else _mask(presented)
        if flavour == "openai":
            msg = (f"Incorrect API key provided: {shown}. You can find your API key at "
                   "https://platform.openai.com/account/api-keys.")
            body = {"error": {"message": msg, "type": "invalid_request_error", "param": None, "code": "invalid_api_key"}}
        else:
            body = _error_body("anthropic", "authentication_error", f"invalid x-api-key: {shown}")
        raise _Reply(401, body, outcome="unauthorized")

    def _check_params(self, flavour: str, body: dict[str, Any]) -> None:
        # What reasoning models say about sampling and length parameters they do not take.
        sent = set(body) | set(body.get("extra_body") or {})
        for param in self.reject_params:
            if param in sent:
                hint = " Use 'max_completion_tokens' instead." if param == "max_tokens" else ""
                msg = f"Unsupported parameter: '{param}' is not supported with this model.{hint}"
                raise _Reply(400, _error_body(flavour, "invalid_request_error", msg), outcome="bad_request")

    def _next_fault(self, digest: str) -> str | None:
        seen = self._seen[digest]
        self._seen[digest] = seen + 1
        if self._queue:
            o = self._queue.popleft()
            return None if o == "ok" else o
        f = self.faults
        if f.rate <= 0:
            return None
        rng = random.Random(f"{f.seed}:{digest}:{seen}") if f.deterministic else self._rng
        if rng.random() >= f.rate:
            return None
        return rng.choices(f.kinds, weights=f.weights)[0]

    async def _fault(self, kind: str, flavour: str, writer: asyncio.StreamWriter) -> int:
        f = self.faults
        if kind == "drop":
            writer.transport.abort()
            return 0
        if kind == "malformed":
            await self._send(writer, 200, b'{"id": "chatcmpl-broken", "object": "chat.completion", "choices": [{"ind')
            return 200
        if kind == "slow":
            await asyncio.sleep(f.slow_s)
            await self._send(writer, 503, json.dumps(_error_body(flavour, "timeout", "too slow")).encode())
            return 503
        retry = {"retry-after": f"{f.retry_after_s:g}", "retry-after-ms": f"{f.retry_after_s * 1000:.0f}"}
        if kind == "rate_limit":
            body = _error_body(flavour, "rate_limit_error" if flavour == "anthropic" else "requests",
                               "Rate limit reached for requests. Please try again later.")
            await self._send(writer, 429, json.dumps(body).encode(), retry)
            return 429
        if kind == "server_error":
            await self._send(writer, 500, json.dumps(_error_body(flavour, "api_error", "The server had an error processing your request.")).encode())
            return 500
        if kind == "unavailable":
            await self._send(writer, 503, json.dumps(_error_body(flavour, "overloaded_error", "The engine is currently overloaded.")).encode(), retry)
            return 503
        # garbage / refusal: a well-formed 200 whose content has no verdict.
        text = GARBAGE_TEXT if kind == "garbage" else REFUSAL_TEXT
        payload = self._openai_text(text, kind == "refusal") if flavour == "openai" else self._anthropic_text(text)
        await self._send(writer, 200, json.dumps(payload).encode())
        return 200

    def _answer(self, prompt: str, schema: dict[str, Any] | None, temperature: float, seed: int | None) -> tuple[dict[str, Any], dict[str, Any]]:
        """(answer object, distribution per field) from the policy."""
        fields = _fields_from_schema(schema) or fields_from_prompt(prompt)
        rng = random.Random(f"{seed}:{prompt}") if seed is not None else self._rng
        dist = self.policy(view_from_text(prompt, fields), rng)
        obj: dict[str, Any] = {}
        if schema is None or "rationale" in (schema.get("properties") or {}):
            obj["rationale"] = "Judged by the fake judge's policy."
        for f in fields:
            label = choose(dist[f.name], temperature, rng)
            obj[f.name] = int(label) if label.isdigit() else label
        return obj, dist

    def _next_id(self, prefix: str) -> str:
        self._ids += 1
        return f"{prefix}{self._ids:08d}"

    def _model(self, body: dict[str, Any]) -> str:
        return str(body.get("model", "fake-judge")) + self.model_suffix

    def _openai(self, body: dict[str, Any]) -> dict[str, Any]:
        messages = body.get("messages") or []
        prompt = "\n".join(_content_text(m.get("content")) for m in messages)
        rewritten = rewrite_reply(prompt)
        if rewritten is not None:  # a length-probe rewrite: free text, not a verdict
            return self._openai_text(rewritten, False) | {"model": self._model(body)}
        rf = body.get("response_format") or {}
        schema = (rf.get("json_schema") or {}).get("schema") if rf.get("type") == "json_schema" else None
        obj, dist = self._answer(prompt, schema, float(body.get("temperature", 1.0)), body.get("seed"))
        tokens = _tokens(obj, dist)
        text = "".join(t for t, _, _ in tokens)
        logprobs = None
        if body.get("logprobs"):
            n = int(body.get("top_logprobs") or 0)
            logprobs = {"content": [_token_logprob(t, lp, top, n) for t, lp, top in tokens], "refusal": None}
        usage = {"prompt_tokens": max(1, len(prompt) // 4), "completion_tokens": len(tokens)}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        return {
            "id": self._next_id("chatcmpl-"), "object": "chat.completion", "created": int(time.time()),
            "model": self._model(body), "system_fingerprint": "fp_fake",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text, "refusal": None},
                         "logprobs": logprobs, "finish_reason": "stop"}],
            "usage": usage,
        }

    def _openai_text(self, text: str, refusal: bool) -> dict[str, Any]:
        message = {"role": "assistant", "content": None if refusal else text, "refusal": text if refusal else None}
        return {"id": self._next_id("chatcmpl-"), "object": "chat.completion", "created": int(time.time()),
                "model": "fake-judge" + self.model_suffix,
                "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 1, "completion_tokens": len(text) // 4, "total_tokens": 1 + len(text) // 4}}

    def _anthropic(self, body: dict[str, Any]) -> dict[str, Any]:
        system = body.get("system")
        parts = [_content_text(system)] if system else []
        parts += [_content_text(m.get("content")) for m in body.get("messages") or []]
        prompt = "\n".join(parts)
        rewritten = rewrite_reply(prompt)
        if rewritten is not None:
            return self._anthropic_text(rewritten) | {"model": self._model(body)}
        tool = _forced_tool(body)
        schema = tool.get("input_schema") if tool else None
        obj, _ = self._answer(prompt, schema, float(body.get("temperature", 1.0)), None)
        if tool:
            content = [{"type": "tool_use", "id": self._next_id("toolu_"), "name": tool["name"], "input": obj}]
            stop = "tool_use"
        else:
            content = [{"type": "text", "text": json.dumps(obj)}]
            stop = "end_turn"
        return {"id": self._next_id("msg_"), "type": "message", "role": "assistant", "model": self._model(body),
                "content": content, "stop_reason": stop, "stop_sequence": None,
                "usage": {"input_tokens": max(1, len(prompt) // 4), "output_tokens": 8 + 4 * len(obj)}}

    def _anthropic_text(self, text: str) -> dict[str, Any]:
        return {"id": self._next_id("msg_"), "type": "message", "role": "assistant", "model": "fake-judge" + self.model_suffix,
                "content": [{"type": "text", "text": text}], "stop_reason": "end_turn", "stop_sequence": None,
                "usage": {"input_tokens": 1, "output_tokens": len(text) // 4}}

    def _models_body(self, headers: dict[str, str]) -> dict[str, Any]:
        if "anthropic-version" in headers:
            data = [{"type": "model", "id": m, "display_name": m, "created_at": "2025-01-01T00:00:00Z"} for m in self.models]
            return {"data": data, "has_more": False, "first_id": self.models[0], "last_id": self.models[-1]}
        return {"object": "list", "data": [{"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in self.models]}

    async def _admin(self, method: str, path: str, raw: bytes, writer: asyncio.StreamWriter) -> bool:
        if path == "/_fake/stats":
            await self._send(writer, 200, json.dumps(self.snapshot()).encode())
        elif path == "/_fake/reset" and method == "POST":
            self.reset()
            await self._send(writer, 200, b"{}")
        elif path == "/_fake/config" and method == "POST":
            try:
                latency_s, faults = parse_admin_config(raw)
            except ValueError as e:
                await self._send(writer, 400, json.dumps({"error": {"message": str(e)}}).encode())
                return True
            if latency_s is not None:
                self.latency_s = latency_s
            if faults is not None:
                self.faults = faults
            await self._send(writer, 200, json.dumps({"latency_s": self.latency_s, "faults": asdict(self.faults)}).encode())
        elif path == "/_fake/batches" and method == "POST":
            try:
                cfg = json.loads(raw or b"{}")
                if "delay_s" in cfg:
                    self.batches.delay_s = _seconds(cfg["delay_s"], "delay_s")
                self.batches.enqueue(*cfg.get("enqueue", []))
            except (ValueError, TypeError) as e:
                await self._send(writer, 400, json.dumps({"error": {"message": str(e)}}).encode())
                return True
            await self._send(writer, 200, json.dumps(self.batches.snapshot()).encode())
        else:
            await self._send(writer, 404, b'{"error": {"message": "unknown admin route"}}')
        return True


# -- a server in its own process (benchmarks, users' CI) ------------------------------------

def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        description="Serve the fake judge on 127.0.0.1 until SIGTERM or Ctrl-C. The first line printed is "
                    "'FAKE_JUDGE_SERVER http://127.0.0.1:PORT'; the OpenAI base_url is that plus /v1.")
    ap.add_argument("--port", type=int, default=0, help="port to listen on (default 0: a free one, printed)")
    ap.add_argument("--latency", type=float, default=0.0, help="seconds before every reply")
    ap.add_argument("--policy", default="prefer_longer", choices=sorted(POLICIES))
    ap.add_argument("--api-key", default=None)
    ap.add_argument("--stop-on-stdin-eof", action="store_true",
                    help="also stop when stdin reaches end of file: for a parent process that starts the server "
                         "with a pipe on its stdin, so the server stops when the parent closes it or dies")
    args = ap.parse_args(argv)
    server = FakeJudgeServer(args.policy, api_key=args.api_key, latency_s=args.latency, port=args.port)
    asyncio.run(_serve_until_stopped(server, stop_on_stdin_eof=args.stop_on_stdin_eof))


async def _serve_until_stopped(server: FakeJudgeServer, *, stop_on_stdin_eof: bool) -> None:
    loop = asyncio.get_running_loop()
    stopped = asyncio.Event()
    # Installed before the address is printed: a parent that signals as soon as it has read the
    # line must get a clean stop, not the default SIGTERM death (exit -15).
    _call_on_stop_signals(loop, stopped.set)
    if stop_on_stdin_eof:
        _call_on_stdin_eof(loop, stopped.set)
    try:
        await server.start_async()
    except OSError as e:
        raise SystemExit(f"fake judge server: {e}; choose another --port, or --port 0 for a free one") from None
    # The parent reads this line to learn the port; flushed, since stdout is a pipe, not a terminal.
    print(f"FAKE_JUDGE_SERVER {server.base_url}", flush=True)
    try:
        await stopped.wait()
    finally:
        await server.stop_async()


def _call_on_stop_signals(loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, callback)
        except NotImplementedError:  # Windows event loops have no signal handlers; Ctrl-C still arrives here
            signal.signal(sig, lambda *_: loop.call_soon_threadsafe(callback))


def _call_on_stdin_eof(loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
    """Call ``callback`` in ``loop`` once stdin (descriptor 0) reaches end of file.

    A daemon thread doing os.read, rather than loop.connect_read_pipe (which refuses files and
    /dev/null) or sys.stdin.read in the loop's executor (which asyncio.run waits for at exit, so a
    SIGTERM with stdin still open would hang): this thread never blocks the process from exiting.
    """
    def watch() -> None:
        try:
            while os.read(0, 65536):
                pass
        except OSError:
            pass  # no readable stdin counts as closed
        try:
            loop.call_soon_threadsafe(callback)
        except RuntimeError:
            pass  # the loop already ended: a signal stopped the server first

    threading.Thread(target=watch, name="fake-judge-stdin-eof", daemon=True).start()


if __name__ == "__main__":
    main()
