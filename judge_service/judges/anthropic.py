"""Anthropic Messages as a judge, through the official ``anthropic`` SDK (AsyncAnthropic).

Structured output is tool use: one tool whose ``input_schema`` is the answer schema, forced with
``tool_choice={"type": "tool", ...}``; the tool call's input is the verdict. That works on every
Claude model, unlike newer output-format options. No logprobs: the Messages API has none, so
verdicts from this provider carry no label probabilities.

options (judges config):
  send_temperature: "auto" (default) | true | false
      The SDK (>= 1.0) no longer takes sampling parameters and models after Opus 4.6 reject
      them with a 400, but older models still honour ``temperature`` (we want 0 for a judge).
      "auto" sends it through ``extra_body`` until the API rejects it once, then stops.
  tool_name: name of the verdict tool (default "record_verdict")
"""

from __future__ import annotations

import json
import os
import time
from typing import Required, TypedDict, cast
from urllib.parse import urlsplit

import anthropic
import httpx2
from anthropic.types import MessageParam, ToolChoiceToolParam, ToolParam

from judge_service.errors import JudgeError
from judge_service.judges.anthropic_batch import AnthropicBatchAPI
from judge_service.judges.base import JudgeProvider, JudgeReply, JudgeRequest, Usage
from judge_service.judges.config import JudgeSpec
from judge_service.judges.limits import connection_error, error_for_status, malformed_error, timeout_error
from judge_service.judges.secrets import read_api_key, redact

TOOL_DESCRIPTION = "Record your verdict. Call this exactly once with your evaluation."


class _CreateArgs(TypedDict, total=False):
    """The keyword arguments we pass to ``messages.create`` (the SDK's own parameter types)."""

    model: Required[str]
    max_tokens: Required[int]
    messages: Required[list[MessageParam]]
    system: str
    tools: list[ToolParam]
    tool_choice: ToolChoiceToolParam
    extra_body: dict[str, object]


class AnthropicProvider(JudgeProvider):
    def __init__(self, spec: JudgeSpec, settings: object = None) -> None:
        self.spec = spec
        key, self._key_env = read_api_key(spec, "ANTHROPIC_API_KEY")
        self._secrets = (key,) if key else ()
        self._send_temperature = spec.options.get("send_temperature", "auto")
        self._tool_name = str(spec.options.get("tool_name", "record_verdict"))
        self._where = f"judge '{spec.name}' (anthropic {spec.model})"
        # max_retries=0: judges/limits.py is the only retry policy (see its module docstring).
        limits = httpx2.Limits(max_connections=max(100, 2 * spec.max_concurrency),
                               max_keepalive_connections=max(20, spec.max_concurrency))
        self._client = anthropic.AsyncAnthropic(
            api_key=key,
            base_url=spec.base_url,
            timeout=spec.timeout_s,
            max_retries=0,
            http_client=anthropic.DefaultAsyncHttpxClient(limits=limits, timeout=spec.timeout_s),
        )

    @property
    def model(self) -> str:
        return self.spec.model

    def __repr__(self) -> str:
        return f"AnthropicProvider(judge={self.spec.name!r}, model={self.spec.model!r}, base_url={str(self._client.base_url)!r})"

    async def complete(self, request: JudgeRequest) -> JudgeReply:
        structured = bool(self.spec.structured_output and request.output_schema)
        err: JudgeError | None = None
        for _ in range(2):  # one resend without temperature if the model rejects it
            started = time.perf_counter()
            err = None
            try:
                message = await self._client.messages.create(**self._params(request, structured))
            except Exception as e:  # noqa: BLE001 - every SDK failure becomes a JudgeError below
                err = self._error(e)
                if err is None:
                    raise
                if self._adapt(e):
                    continue
            if err is not None:
                raise err  # outside the except block: the SDK exception is not chained
            return self._reply(message, (time.perf_counter() - started) * 1000.0)
        assert err is not None
        raise err

    async def health(self) -> str:
        if self._key_env and not os.environ.get(self._key_env):
            return f"unavailable: env var {self._key_env} not set"
        return "ok"

    async def aclose(self) -> None:
        await self._client.close()

    def batch_api(self) -> AnthropicBatchAPI:
        return AnthropicBatchAPI(self)

    def _params(self, request: JudgeRequest, structured: bool) -> _CreateArgs:
        system = "\n\n".join(m.content for m in request.messages if m.role == "system")
        # ChatMessage.role is "system", "user" or "assistant"; with system messages moved to
        # ``system`` the rest are the Messages API's user/assistant turns.
        turns = [{"role": m.role, "content": m.content} for m in request.messages if m.role != "system"]
        kwargs: _CreateArgs = {
            "model": self.spec.model,
            "max_tokens": request.max_tokens,
            "messages": cast("list[MessageParam]", turns),
        }
        if system:
            kwargs["system"] = system
        # complete() asks for structured output only when the request has a schema.
        if structured and request.output_schema is not None:
            kwargs["tools"] = [{"name": self._tool_name, "description": TOOL_DESCRIPTION, "input_schema": request.output_schema}]
            kwargs["tool_choice"] = {"type": "tool", "name": self._tool_name}
        if self._send_temperature is not False:
            kwargs["extra_body"] = {"temperature": request.temperature}
        return kwargs

    def _reply(self, message: object, latency_ms: float) -> JudgeReply:
        structured = None
        texts = []
        for block in getattr(message, "content", None) or []:
            kind = getattr(block, "type", None)
            if kind == "tool_use" and getattr(block, "name", None) == self._tool_name and isinstance(block.input, dict):
                structured = dict(block.input)
            elif kind == "text":
                texts.append(block.text)
        # With a verdict tool call, its JSON is the reply text too, so text parsing agrees with it.
        text = json.dumps(structured) if structured is not None else "".join(texts)
        usage = getattr(message, "usage", None)
        return JudgeReply(
            text=text,
            model=getattr(message, "model", None) or self.spec.model,
            usage=Usage(usage.input_tokens or 0, usage.output_tokens or 0) if usage else Usage(),
            latency_ms=latency_ms,
            structured=structured,
        )

    def _adapt(self, exc: Exception) -> bool:
        if isinstance(exc, anthropic.BadRequestError) and self._send_temperature == "auto":
            if "temperature" in _provider_message(exc).lower():
                self._send_temperature = False
                return True
        return False

    def _error(self, exc: Exception) -> JudgeError | None:
        host = urlsplit(str(self._client.base_url)).netloc
        if isinstance(exc, anthropic.APITimeoutError):
            return timeout_error(self._where, host, self.spec.timeout_s)
        if isinstance(exc, anthropic.APIConnectionError):
            cause = redact(str(exc.__cause__ or exc), self._secrets)
            return connection_error(self._where, host, cause)
        if isinstance(exc, anthropic.APIStatusError):
            return error_for_status(exc.status_code, redact(_provider_message(exc), self._secrets), where=self._where,
                                    model=self.spec.model, key_env=self._key_env, headers=exc.response.headers)
        if isinstance(exc, (anthropic.APIResponseValidationError, ValueError)):
            return malformed_error(self._where, host, exc)
        return None


def _provider_message(exc: anthropic.APIStatusError) -> str:
    msg = getattr(exc, "api_message", None)
    if isinstance(msg, str) and msg:
        return msg
    return exc.message
