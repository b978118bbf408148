"""The one Protocol every judge provider implements, and the plain data it speaks.

A provider turns a rendered judge prompt into a reply. It knows nothing of rubrics, orders or
panels: the engine owns those. What a provider may add beyond text is evidence about the
judge's uncertainty: token log-probabilities (remote APIs) or, where it can score candidate
answers directly (the local model), a probability per allowed label for each answer field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from judge_service.judges.batch import BatchAPI


@dataclass(frozen=True)
class ChatMessage:
    role: str  # "system" | "user" | "assistant"
    content: str


@dataclass(frozen=True)
class AnswerField:
    """One value the judge must answer, e.g. ``score`` in 1..10 or ``winner`` in A/B/tie."""

    name: str
    labels: tuple[str, ...]


@dataclass(frozen=True)
class JudgeRequest:
    messages: tuple[ChatMessage, ...]
    fields: tuple[AnswerField, ...]
    # JSON schema of the expected answer object, for providers with structured output.
    output_schema: dict[str, Any] | None = None
    max_tokens: int = 512
    temperature: float = 0.0
    seed: int | None = 0
    # Which of `samples` draws this is; part of the cache key so n samples are n calls.
    sample_index: int = 0
    want_logprobs: bool = True

    def params(self) -> dict[str, Any]:
        """Generation parameters, as recorded with the call and hashed into the cache key."""
        return {
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "seed": self.seed,
            "sample_index": self.sample_index,
            "want_logprobs": self.want_logprobs,
            "structured": self.output_schema is not None,
        }


@dataclass(frozen=True)
class TokenLogprob:
    token: str
    logprob: float
    # Alternatives at this position: token -> logprob (includes the chosen token when known).
    top: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass(frozen=True)
class JudgeReply:
    text: str
    model: str
    usage: Usage = Usage()
    latency_ms: float = 0.0
    # Parsed JSON when the provider enforced the output schema (structured output).
    structured: dict[str, Any] | None = None
    # Per generated token, when the provider returns logprobs.
    logprobs: tuple[TokenLogprob, ...] | None = None
    # Per answer field, probability of each allowed label, when the provider scored labels
    # directly (constrained scoring). Takes precedence over `logprobs` in parsing.
    label_probs: dict[str, dict[str, float]] | None = None
    # Answered through the provider's batch API (billed at its batch price).
    batched: bool = False


@runtime_checkable
class JudgeProvider(Protocol):
    """A judge model behind some API. Implementations live one per file in this package.

    ``model`` and ``complete`` are required. The optional capabilities have defaults here, and a
    provider subclasses this Protocol to inherit them and overrides what it has: ``health`` (a cheap
    probe), ``warm`` (load now rather than at the first verdict; the local model), ``aclose`` and
    ``batch_api`` (the provider's batch API, judges/batch.py; None when it has none).
    Callers use them unconditionally: nothing probes a provider with ``getattr``/``hasattr``.
    """

    @property
    def model(self) -> str: ...

    async def complete(self, request: JudgeRequest) -> JudgeReply:
        """Return one reply. Raise ``errors.JudgeError`` (retryable or not) on failure."""
        ...

    async def health(self) -> str:
        """A cheap health state: "ok", "unavailable: <why>" or "unknown". Never a paid call."""
        return "unknown"

    async def warm(self) -> None:
        """Get ready to answer (load weights, open connections). Default: nothing to do."""
        return None

    async def aclose(self) -> None:
        """Release what the provider holds. Default: nothing to release."""
        return None

    def batch_api(self) -> BatchAPI | None:
        """The provider's batch API (half price, answers within hours), or None. Default: none."""
        return None
