"""OpenAI chat completions as a judge: each call one JSON POST, the official ``openai`` SDK for the rest.

Structured output is ``response_format={"type": "json_schema", "strict": true, ...}`` built from
the request's output schema; logprobs are ``logprobs=True, top_logprobs=20`` so the engine can
weigh the judge's labels (G-Eval style) instead of trusting one sampled token.

options (judges config):
  max_tokens_param: "auto" (default) | "max_tokens" | "max_completion_tokens"
      o-series and gpt-5 models refuse ``max_tokens``; "auto" picks by model name and also
      switches once, for good, when the API says the parameter is unsupported.
  send_temperature: "auto" (default) | true | false  — "auto" stops sending temperature (and
      seed) after the API rejects it once (reasoning models accept only the default).
  structured_mode: "json_schema" (default) | "json_object"
  health_probe: false (default) | true  — health() lists models (free) instead of only
      checking that the key is configured.
  batch_api: only for openai_compatible: true when the server also speaks OpenAI's Batch API
      (/v1/files + /v1/batches), so runs may use ``execution: batch`` with it.
  http_backend: "auto" (default) | "direct" | "aiohttp" | "httpx"  — how a judge call goes on the
      wire. "direct": the chat-completions POST on aiohttp alone (judges/openai_direct.py says why:
      0.43 against 1.08 CPU ms a call through the SDK's pipeline). "aiohttp" and "httpx": through
      the SDK's ``client.post``, on its documented DefaultAioHttpClient (~35% less client CPU per
      call than httpx2's own stack, see benchmarks/remote_throughput.py) or on httpx2. "auto" takes
      direct when ``openai[aiohttp]`` is installed, else httpx. Every backend maps failures to the
      same JudgeErrors; model listing and the Batch API always go through the SDK.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import math
import os
import sys
import time
from typing import Any
from urllib.parse import urlsplit

import httpx2
import openai

from judge_service.errors import InvalidInput, JudgeError
from judge_service.judges.base import JudgeProvider, JudgeReply, JudgeRequest, TokenLogprob, Usage
from judge_service.judges.config import JudgeSpec
from judge_service.judges.openai_batch import OpenAIBatchAPI
from judge_service.judges.openai_direct import DirectChat, HttpStatusFailure
from judge_service.judges.limits import connection_error, error_for_status, malformed_error, timeout_error
from judge_service.judges.secrets import read_api_key, redact

_NEW_STYLE_PREFIXES = ("o1", "o3", "o4", "gpt-5")
SCHEMA_NAME = "judge_verdict"
TOP_LOGPROBS = 20  # the API's maximum; enough for a 1-10 scale with room for near-miss tokens
POOL_SIZE = 16  # connections per httpx2 client; see __init__
HTTP_BACKENDS = ("auto", "direct", "aiohttp", "httpx")


class OpenAIProvider(JudgeProvider):
    provider_label = "openai"
    default_key_env: str | None = "OPENAI_API_KEY"

    def __init__(self, spec: JudgeSpec, settings: object = None) -> None:
        self.spec = spec
        key, self._key_env = self._read_key(spec)
        self._secrets = (key,) if key else ()
        self.structured = self._structured_enabled(spec)
        opts = spec.options
        self._max_tokens_param = self._resolve_max_tokens_param(opts.get("max_tokens_param", "auto"))
        self._send_temperature = opts.get("send_temperature", "auto")
        self._structured_mode = opts.get("structured_mode", "json_schema")
        self._health_probe = bool(opts.get("health_probe", False))
        self._where = f"judge '{spec.name}' ({self.provider_label} {spec.model})"
        # max_retries=0: judges/limits.py is the only retry policy. The SDK's own retries would
        # multiply attempts (5 x 3 = 15 calls), ignore our time budget and hide 429s from the
        # shared Retry-After pause.
        self._clients = [
            openai.AsyncOpenAI(api_key=key or "not-needed", base_url=spec.base_url, timeout=spec.timeout_s,
                               max_retries=0, http_client=http_client)
            for http_client in self._http_clients(opts.get("http_backend", "auto"))
        ]
        self._client = self._clients[0]
        self._next_client = itertools.cycle(self._clients).__next__
        # The SDK's base_url is normalised (a trailing slash, OPENAI_BASE_URL when none is given).
        self._direct = (DirectChat(str(self._client.base_url), key or "not-needed", timeout_s=spec.timeout_s,
                                   max_connections=spec.max_concurrency + 16)
                        if self.http_backend == "direct" else None)

    def _http_clients(self, backend: str) -> list[httpx2.AsyncClient]:
        """The SDK's HTTP clients for the chosen backend; sets ``self.http_backend`` to the one used."""
        if backend not in HTTP_BACKENDS:
            raise InvalidInput(f"judge '{self.spec.name}': options.http_backend must be one of {', '.join(HTTP_BACKENDS)}",
                               field="options")
        concurrency, timeout = self.spec.max_concurrency, self.spec.timeout_s
        if backend in ("auto", "direct"):
            if importlib.util.find_spec("aiohttp") is not None:
                self.http_backend = "direct"
                # The SDK's client still serves model listing and the Batch API: httpx2, one small pool.
                return [openai.DefaultAsyncHttpxClient(limits=httpx2.Limits(max_connections=POOL_SIZE), timeout=timeout)]
            if backend == "direct":
                raise InvalidInput(f"judge '{self.spec.name}': options.http_backend is direct but aiohttp is not "
                                   "installed; pip install 'openai[aiohttp]' (or use http_backend: httpx)", field="options")
        if backend != "httpx":
            # aiohttp keeps idle connections in a per-host deque (O(1) to take one), so one client
            # serves any concurrency. Slack above max_concurrency for health probes and for
            # connections still closing after a drop.
            limits = httpx2.Limits(max_connections=concurrency + 16, max_keepalive_connections=concurrency)
            try:
                # The SDK's own subclass: its defaults (redirects, timeouts) with aiohttp underneath.
                client = openai.DefaultAioHttpClient(limits=limits, timeout=timeout)
            except RuntimeError:  # the SDK raises this when the aiohttp extra is missing
                if backend == "aiohttp":
                    raise InvalidInput(f"judge '{self.spec.name}': options.http_backend is aiohttp but aiohttp is not "
                                       "installed; pip install 'openai[aiohttp]' (or use http_backend: httpx)",
                                       field="options") from None
            else:
                self.http_backend = "aiohttp"
                return [client]
        self.http_backend = "httpx"
        # Several clients, each with its own connection pool of at most POOL_SIZE connections:
        # httpcore2's pool scans every connection (probing idle sockets) on each request, so one
        # pool of 128 connections costs ~30% more CPU per call than 8 pools of 16 (measured in
        # benchmarks/remote_throughput.py).
        shards = max(1, math.ceil(concurrency / POOL_SIZE))
        per_shard = math.ceil(concurrency / shards)
        limits = httpx2.Limits(max_connections=2 * per_shard + 16, max_keepalive_connections=per_shard)
        return [openai.DefaultAsyncHttpxClient(limits=limits, timeout=timeout) for _ in range(shards)]

    # -- what subclasses change -------------------------------------------------------------

    def _read_key(self, spec: JudgeSpec) -> tuple[str | None, str | None]:
        return read_api_key(spec, self.default_key_env)

    def _structured_enabled(self, spec: JudgeSpec) -> bool:
        return spec.structured_output

    # -- the Protocol -----------------------------------------------------------------------

    @property
    def model(self) -> str:
        return self.spec.model

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(judge={self.spec.name!r}, model={self.spec.model!r}, "
                f"base_url={str(self._client.base_url)!r}, http_backend={self.http_backend!r})")

    async def complete(self, request: JudgeRequest) -> JudgeReply:
        structured = bool(self.structured and request.output_schema)
        # At most two adaptations (max_tokens parameter, sampling parameters), then the error stands.
        for _ in range(3):
            kwargs = self._params(request, structured)
            started = time.perf_counter()
            err: JudgeError | None = None
            try:
                # The SDK's generic POST rather than chat.completions.create(): the same client,
                # auth, timeouts and error classes, without create()'s recursive transform of the
                # params (a no-op for our plain JSON, but ~0.6 ms CPU a call, most of it walking
                # the JSON schema) and without building typed response models (~0.4 ms) that we
                # would convert to our own dataclasses anyway.
                # The body goes as bytes (content=): the SDK sends them as they are, skipping its deep copy and
                # its own (slower) JSON encoder.
                body = json.dumps(kwargs).encode()
                if self._direct is not None:
                    data = json.loads(await self._direct.post(body))
                else:
                    response = await self._next_client().post("/chat/completions", content=body, cast_to=httpx2.Response)
                    data = json.loads(response.content)
            except Exception as e:  # noqa: BLE001 - every SDK failure becomes a JudgeError below
                err = self._error(e)
                if err is None:
                    raise
                if self._adapt(e):
                    continue
            if err is not None:
                # Raised outside the except block so the SDK exception (whose request carries the
                # key in its headers) is not even chained as __context__.
                raise err
            try:
                return self._reply(data, (time.perf_counter() - started) * 1000.0, structured)
            except (KeyError, TypeError, AttributeError) as e:
                shape = type(e).__name__
            raise JudgeError(f"{self._where}: the reply is not a chat.completion ({shape}); is base_url an OpenAI-compatible /v1 endpoint?",
                             retryable=True)
        raise err  # type: ignore[misc]  # every adaptation was used up and the API still refuses

    async def health(self) -> str:
        if self._key_env and not os.environ.get(self._key_env):
            return f"unavailable: env var {self._key_env} not set"
        if not self._health_probe:
            return "ok"
        try:
            await self._client.models.list(timeout=min(5.0, self.spec.timeout_s))
        except Exception as e:  # noqa: BLE001
            err = self._error(e)
            return f"unavailable: {err.message if err else type(e).__name__}"
        return "ok"

    async def aclose(self) -> None:
        if self._direct is not None:
            await self._direct.aclose()
        for client in self._clients:
            await client.close()

    def batch_api(self) -> OpenAIBatchAPI | None:
        # Compatible servers (vLLM, Ollama, gateways) rarely have /v1/batches; they opt in with options.batch_api.
        if self.provider_label != "openai" and not self.spec.options.get("batch_api", False):
            return None
        return OpenAIBatchAPI(self)

    # -- request and reply ------------------------------------------------------------------

    def _resolve_max_tokens_param(self, choice: str) -> str:
        if choice == "auto":
            name = self.spec.model.lower().rsplit("/", 1)[-1]
            return "max_completion_tokens" if name.startswith(_NEW_STYLE_PREFIXES) else "max_tokens"
        if choice not in ("max_tokens", "max_completion_tokens"):
            raise InvalidInput(f"judge '{self.spec.name}': options.max_tokens_param must be auto, max_tokens or max_completion_tokens", field="options")
        return choice

    def _params(self, request: JudgeRequest, structured: bool) -> dict[str, object]:
        """The chat.completions request body (sent as JSON)."""
        kwargs: dict[str, object] = {
            "model": self.spec.model,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            self._max_tokens_param: request.max_tokens,
        }
        if self._send_temperature is not False:
            kwargs["temperature"] = request.temperature
            if request.seed is not None:
                kwargs["seed"] = request.seed
        if structured:
            if self._structured_mode == "json_object":
                kwargs["response_format"] = {"type": "json_object"}
            else:
                kwargs["response_format"] = {"type": "json_schema", "json_schema": {
                    "name": SCHEMA_NAME, "strict": True, "schema": request.output_schema}}
        if self.spec.logprobs and request.want_logprobs:
            kwargs["logprobs"] = True
            kwargs["top_logprobs"] = TOP_LOGPROBS
        return kwargs

    def _reply(self, data: object, latency_ms: float, structured: bool) -> JudgeReply:
        """Our reply from the chat.completion JSON (the documented wire format)."""
        # Decoded JSON from the server: every field is checked as it is read.
        payload: dict[str, Any] = data if isinstance(data, dict) else {}
        choices = payload.get("choices")
        if not choices or not isinstance(choices[0], dict):
            raise JudgeError(f"{self._where}: the reply had no choices; the server may be overloaded", retryable=True)
        choice = choices[0]
        message = choice.get("message") or {}
        content = message.get("content")
        if isinstance(content, list):  # some compatible servers answer in content parts
            content = "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
        text = content if content is not None else (message.get("refusal") or "")
        obj = None
        if structured and content:
            try:
                parsed = json.loads(content)
            except ValueError:
                parsed = None  # a refusal or a server that ignored the schema: the text parser decides
            obj = parsed if isinstance(parsed, dict) else None
        logprobs = None
        tokens_json = (choice.get("logprobs") or {}).get("content")
        if tokens_json:
            tokens = []
            for t in tokens_json:
                top = {alt["token"]: alt["logprob"] for alt in (t.get("top_logprobs") or [])}
                if top:
                    top.setdefault(t["token"], t["logprob"])
                tokens.append(TokenLogprob(t["token"], t["logprob"], top))
            logprobs = tuple(tokens)
        usage = payload.get("usage") or {}
        return JudgeReply(
            text=text,
            model=payload.get("model") or self.spec.model,
            usage=Usage(int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)),
            latency_ms=latency_ms,
            structured=obj,
            logprobs=logprobs,
        )

    # -- failures ---------------------------------------------------------------------------

    def _adapt(self, exc: Exception) -> bool:
        """Change what we send when the API says a parameter is unsupported; True to resend now."""
        if isinstance(exc, openai.BadRequestError):
            text = _provider_message(exc).lower()
        elif isinstance(exc, HttpStatusFailure) and exc.status == 400:
            text = _status_message(exc).lower()
        else:
            return False
        if "max_tokens" in text and "max_completion_tokens" in text and self._max_tokens_param == "max_tokens":
            if self.spec.options.get("max_tokens_param", "auto") == "auto":
                self._max_tokens_param = "max_completion_tokens"
                return True
        if ("temperature" in text or "seed" in text) and self._send_temperature == "auto" and "support" in text:
            self._send_temperature = False
            return True
        return False

    def _error(self, exc: Exception) -> JudgeError | None:
        """Our error for an SDK failure (message redacted), or None for a programming error."""
        host = urlsplit(str(self._client.base_url)).netloc
        if isinstance(exc, openai.APITimeoutError) and not _disconnect_filed_as_timeout(exc):
            return timeout_error(self._where, host, self.spec.timeout_s)
        if isinstance(exc, openai.APIConnectionError):
            cause = redact(str(exc.__cause__ or exc), self._secrets)
            return connection_error(self._where, host, cause)
        aiohttp = sys.modules.get("aiohttp")  # loaded iff the aiohttp backend is in use
        if aiohttp is not None and isinstance(exc, (aiohttp.ClientError, TimeoutError)):
            # aiohttp failures the SDK's adapter does not map (e.g. ClientResponseError for an
            # unparseable status line) reach us raw, not as APIConnectionError. Their str() has
            # the URL but not the request headers; the exception itself (which has them) is
            # dropped like the SDK's.
            if isinstance(exc, TimeoutError):
                return timeout_error(self._where, host, self.spec.timeout_s)
            cause = redact(f"{type(exc).__name__}: {exc}", self._secrets)
            return connection_error(self._where, host, cause)
        if isinstance(exc, HttpStatusFailure):
            return error_for_status(exc.status, redact(_status_message(exc), self._secrets), where=self._where,
                                    model=self.spec.model, key_env=self._key_env, headers=exc.headers)
        if isinstance(exc, openai.APIStatusError):
            return error_for_status(exc.status_code, redact(_provider_message(exc), self._secrets), where=self._where,
                                    model=self.spec.model, key_env=self._key_env, headers=exc.response.headers)
        if isinstance(exc, (openai.APIResponseValidationError, ValueError)):
            return malformed_error(self._where, host, exc)
        return None


def _disconnect_filed_as_timeout(exc: openai.APITimeoutError) -> bool:
    """True when the SDK's aiohttp adapter reported a refused or dropped connection as a timeout.

    The adapter maps every ``aiohttp.ClientConnectionError`` ("Server disconnected", "Cannot
    connect to host") to ``httpx2.ConnectTimeout``, so the SDK raises APITimeoutError at once,
    long before timeout_s. A real timeout has a TimeoutError underneath (aiohttp's
    SocketTimeoutError / ConnectionTimeoutError, or asyncio's under httpcore2).
    """
    aiohttp = sys.modules.get("aiohttp")
    inner = exc.__cause__.__cause__ if exc.__cause__ is not None else None
    return aiohttp is not None and isinstance(inner, aiohttp.ClientConnectionError) and not isinstance(inner, TimeoutError)


def _status_message(exc: HttpStatusFailure) -> str:
    """The provider's message from a direct call's error body, else the SDK's "Error code: N - body"."""
    text = exc.body.decode("utf-8", errors="replace")
    try:
        body: object = json.loads(text)
    except ValueError:
        body = None
    return _message_in(body) or f"Error code: {exc.status} - {text[:500]}"


def _provider_message(exc: openai.APIStatusError) -> str:
    return _message_in(exc.body) or exc.message


def _message_in(body: object) -> str | None:
    """``{"error": {"message": ...}}`` or ``{"message": ...}``, the two shapes servers answer errors in."""
    if isinstance(body, dict):
        error = body.get("error")
        inner = error if isinstance(error, dict) else body
        msg = inner.get("message")
        if isinstance(msg, str) and msg:
            return msg
    return None
