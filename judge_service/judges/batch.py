"""A provider's batch API: many judge requests sent at once, answered within hours at about half price.

A provider that has one returns a ``BatchAPI`` from ``JudgeProvider.batch_api()`` (OpenAI's Batch
API over uploaded JSONL files, Anthropic's Message Batches); the others return None. The engine
(``engine/batch.py``) owns when to submit, what to store and how to retry; this interface only
moves requests and results, by ``custom_id``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from judge_service.judges.base import JudgeReply, JudgeRequest


@dataclass(frozen=True)
class BatchState:
    """What the provider says about a batch when polled."""

    provider_status: str  # the provider's own word: in_progress, finalizing, ended, expired, ...
    ended: bool  # no request will change any more: the results can be read
    succeeded: int = 0
    failed: int = 0
    total: int = 0


@dataclass(frozen=True)
class BatchOutcome:
    """One request's result: a reply, or an error (retryable when sending it again may succeed)."""

    custom_id: str
    reply: JudgeReply | None
    error: str | None = None
    retryable: bool = True


class BatchAPI(Protocol):
    """Submit, poll, read and cancel provider batches. Failures raise ``errors.JudgeError``."""

    #: The provider's limits per batch: requests and bytes of the request lines.
    max_requests: int
    max_bytes: int

    def request_line_bytes(self, custom_id: str, request: JudgeRequest) -> int:
        """Size of one request in the batch's payload, for splitting at ``max_bytes``."""
        ...

    async def submit(self, requests: list[tuple[str, JudgeRequest]], *, label: str) -> str:
        """Send ``(custom_id, request)`` pairs as one batch; the provider's batch id."""
        ...

    async def poll(self, batch_id: str) -> BatchState: ...

    async def results(self, batch_id: str, structured: dict[str, bool]) -> list[BatchOutcome]:
        """Every request's outcome once the batch ended. ``structured``: custom_id -> whether the
        request asked for structured output (how its reply is read)."""
        ...

    async def cancel(self, batch_id: str) -> None: ...
