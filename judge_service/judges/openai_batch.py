"""OpenAI's Batch API for the OpenAI judge: a JSONL of chat.completions requests uploaded to
``/v1/files`` (purpose ``batch``), ``POST /v1/batches`` over it, poll, then the output and error files.

Limits are OpenAI's documented ones: 50,000 requests and 200 MB per input file. Lines in the
output file carry the same chat.completion body as a direct call, so they are read by the
provider's own ``_reply``; the error file holds failed requests (a non-200 ``response``) and
requests the 24 h window cut off (``error.code`` ``batch_expired``).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Final

from judge_service.errors import JudgeError
from judge_service.judges.base import JudgeRequest
from judge_service.judges.batch import BatchOutcome, BatchState

if TYPE_CHECKING:
    from judge_service.judges.openai import OpenAIProvider

ENDPOINT: Final = "/v1/chat/completions"
ENDED = frozenset({"completed", "expired", "cancelled", "failed"})


class OpenAIBatchAPI:
    max_requests = 50_000
    max_bytes = 200 * 1024 * 1024

    def __init__(self, provider: OpenAIProvider) -> None:
        self.provider = provider

    def _line(self, custom_id: str, request: JudgeRequest) -> bytes:
        structured = bool(self.provider.structured and request.output_schema)
        body = self.provider._params(request, structured)
        return (json.dumps({"custom_id": custom_id, "method": "POST", "url": ENDPOINT, "body": body}) + "\n").encode()

    def request_line_bytes(self, custom_id: str, request: JudgeRequest) -> int:
        return len(self._line(custom_id, request))

    async def _sdk(self, what: Any) -> Any:
        err: JudgeError | None = None
        try:
            return await what
        except Exception as e:  # noqa: BLE001 - every SDK failure becomes a JudgeError
            err = self.provider._error(e)
            if err is None:
                raise
        raise err  # outside the except block: the SDK exception (with the key in its request) is not chained

    async def submit(self, requests: list[tuple[str, JudgeRequest]], *, label: str) -> str:
        content = b"".join(self._line(cid, req) for cid, req in requests)
        client = self.provider._client
        uploaded = await self._sdk(client.files.create(file=(f"{label}.jsonl", content, "application/jsonl"),
                                                       purpose="batch"))
        batch = await self._sdk(client.batches.create(input_file_id=uploaded.id, endpoint=ENDPOINT,
                                                      completion_window="24h", metadata={"judge_service": label[:500]}))
        return str(batch.id)

    async def poll(self, batch_id: str) -> BatchState:
        batch = await self._sdk(self.provider._client.batches.retrieve(batch_id))
        counts = batch.request_counts
        return BatchState(provider_status=batch.status, ended=batch.status in ENDED,
                          succeeded=counts.completed if counts else 0, failed=counts.failed if counts else 0,
                          total=counts.total if counts else 0)

    async def _file_lines(self, file_id: str | None) -> list[dict[str, Any]]:
        if not file_id:
            return []
        content = await self._sdk(self.provider._client.files.content(file_id))
        return [json.loads(line) for line in content.text.splitlines() if line.strip()]

    async def results(self, batch_id: str, structured: dict[str, bool]) -> list[BatchOutcome]:
        batch = await self._sdk(self.provider._client.batches.retrieve(batch_id))
        where = self.provider._where
        if batch.status == "failed":
            reasons = "; ".join(e.message or e.code or "" for e in (batch.errors.data or [])) if batch.errors else ""
            raise JudgeError(f"{where}: batch {batch_id} failed validation: {reasons or 'no reason given'}", retryable=False)
        outcomes = []
        for line in await self._file_lines(batch.output_file_id) + await self._file_lines(batch.error_file_id):
            custom_id = str(line.get("custom_id"))
            response = line.get("response") or {}
            error = line.get("error")
            if response.get("status_code") == 200 and not error:
                try:
                    reply = self.provider._reply(response.get("body"), 0.0, structured.get(custom_id, False))
                except (JudgeError, KeyError, TypeError, AttributeError) as e:
                    outcomes.append(BatchOutcome(custom_id, None, f"{where}: unreadable batch reply ({type(e).__name__})"))
                    continue
                outcomes.append(BatchOutcome(custom_id, reply))
            elif error:
                outcomes.append(BatchOutcome(custom_id, None, f"{where}: batch request {error.get('code')}: {error.get('message')}"))
            else:
                status = int(response.get("status_code") or 0)
                body = response.get("body") or {}
                message = (body.get("error") or {}).get("message") if isinstance(body, dict) else None
                # As for a direct call: 429 and 5xx may pass on a second try; a 4xx will not.
                outcomes.append(BatchOutcome(custom_id, None, f"{where}: batch request failed (HTTP {status}): {message}",
                                             retryable=status == 429 or status >= 500))
        return outcomes

    async def cancel(self, batch_id: str) -> None:
        await self._sdk(self.provider._client.batches.cancel(batch_id))
