"""Anthropic's Message Batches for the Anthropic judge: ``POST /v1/messages/batches``, poll until
``processing_status`` is ``ended``, then stream the results JSONL from ``results_url``.

Limits are Anthropic's documented ones: 100,000 requests or 256 MB per batch. A succeeded
result carries the same Message as a direct call, read by the provider's own ``_reply``;
``errored``, ``expired`` and ``canceled`` results are failures (an ``invalid_request_error``
will fail again, the others may pass when sent again).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from judge_service.errors import JudgeError
from judge_service.judges.base import JudgeRequest
from judge_service.judges.batch import BatchOutcome, BatchState

if TYPE_CHECKING:
    from judge_service.judges.anthropic import AnthropicProvider


class AnthropicBatchAPI:
    max_requests = 100_000
    max_bytes = 256 * 1024 * 1024

    def __init__(self, provider: AnthropicProvider) -> None:
        self.provider = provider

    def _entry(self, custom_id: str, request: JudgeRequest) -> dict[str, Any]:
        structured = bool(self.provider.spec.structured_output and request.output_schema)
        params: dict[str, Any] = dict(self.provider._params(request, structured))
        # extra_body is how the direct call sends temperature; in a batch it is one more param.
        params |= params.pop("extra_body", None) or {}
        return {"custom_id": custom_id, "params": params}

    def request_line_bytes(self, custom_id: str, request: JudgeRequest) -> int:
        return len(json.dumps(self._entry(custom_id, request))) + 1

    async def _sdk(self, what: Any) -> Any:
        err: JudgeError | None = None
        try:
            return await what
        except Exception as e:  # noqa: BLE001 - every SDK failure becomes a JudgeError
            err = self.provider._error(e)
            if err is None:
                raise
        raise err

    async def submit(self, requests: list[tuple[str, JudgeRequest]], *, label: str) -> str:
        entries = [self._entry(cid, req) for cid, req in requests]
        batch = await self._sdk(self.provider._client.messages.batches.create(requests=entries))  # type: ignore[arg-type]
        return str(batch.id)

    async def poll(self, batch_id: str) -> BatchState:
        batch = await self._sdk(self.provider._client.messages.batches.retrieve(batch_id))
        c = batch.request_counts
        return BatchState(provider_status=batch.processing_status, ended=batch.processing_status == "ended",
                          succeeded=c.succeeded, failed=c.errored + c.expired + c.canceled,
                          total=c.processing + c.succeeded + c.errored + c.expired + c.canceled)

    async def results(self, batch_id: str, structured: dict[str, bool]) -> list[BatchOutcome]:
        where = self.provider._where
        decoder = await self._sdk(self.provider._client.messages.batches.results(batch_id))
        outcomes = []
        async for line in decoder:
            result = line.result
            if result.type == "succeeded":
                outcomes.append(BatchOutcome(line.custom_id, self.provider._reply(result.message, 0.0)))
            elif result.type == "errored":
                inner = result.error.error
                outcomes.append(BatchOutcome(line.custom_id, None, f"{where}: batch request errored: {inner.type}: {inner.message}",
                                             retryable=inner.type != "invalid_request_error"))
            else:
                outcomes.append(BatchOutcome(line.custom_id, None, f"{where}: batch request {result.type}"))
        return outcomes

    async def cancel(self, batch_id: str) -> None:
        await self._sdk(self.provider._client.messages.batches.cancel(batch_id))
