"""An in-process fake judge: answers by a deterministic policy, records every call.

Use it in tests and in your own CI (provider ``scripted`` in the judges config, with
``options: {policy: prefer_longer}``). It is a real provider behind the real Protocol, so the
engine, cache and store run exactly as they do with a remote judge.

options:
  policy:    a name from ``judge_service.testing.policies.POLICIES`` (default prefer_longer)
  evidence:  "label_probs" (default, like the local model), "logprobs" (like OpenAI) or "text"
  garbage:   true to reply with text that has no verdict in it (parse-failure tests)
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass, field

from judge_service.judges.base import JudgeProvider, JudgeReply, JudgeRequest, TokenLogprob, Usage
from judge_service.judges.config import JudgeSpec
from judge_service.testing.rewrites import rewrite_reply
from judge_service.testing.policies import POLICIES, Policy, choose, view_from_text


@dataclass
class CallLog:
    requests: list[JudgeRequest] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.requests)


class ScriptedProvider(JudgeProvider):
    def __init__(self, spec: JudgeSpec, settings: object = None, *, policy: Policy | None = None) -> None:
        self.spec = spec
        self.policy = policy or POLICIES[spec.options.get("policy", "prefer_longer")]
        self.evidence = spec.options.get("evidence", "label_probs")
        self.garbage = bool(spec.options.get("garbage", False))
        self.log = CallLog()

    @property
    def model(self) -> str:
        return self.spec.model

    async def complete(self, request: JudgeRequest) -> JudgeReply:
        self.log.requests.append(request)
        prompt = "\n".join(m.content for m in request.messages)
        usage = Usage(input_tokens=len(prompt.split()), output_tokens=12)
        if self.garbage:
            return JudgeReply(text="I am not sure how to answer that.", model=self.model, usage=usage)
        rewritten = rewrite_reply(prompt)
        if rewritten is not None:  # a length-probe rewrite, answered like the fake server does
            return JudgeReply(text=rewritten, model=self.model, usage=usage)
        rng = random.Random(f"{request.seed}:{request.sample_index}:{prompt}")
        dist = self.policy(view_from_text(prompt, request.fields), rng)
        answer = {f.name: choose(dist[f.name], request.temperature, rng) for f in request.fields}
        obj = {"rationale": "scripted"} | {k: (int(v) if v.isdigit() else v) for k, v in answer.items()}
        text = json.dumps(obj)
        if self.evidence == "label_probs":
            return JudgeReply(text=text, model=self.model, usage=usage, structured=obj, label_probs=dist)
        if self.evidence == "logprobs":
            return JudgeReply(text=text, model=self.model, usage=usage, logprobs=_tokens_for(obj, dist))
        return JudgeReply(text=text, model=self.model, usage=usage)

    async def health(self) -> str:
        return "ok"

    async def aclose(self) -> None:
        return None


def _tokens_for(obj: dict[str, str | int], dist: dict[str, dict[str, float]]) -> tuple[TokenLogprob, ...]:
    """Tokenise the JSON reply coarsely, giving each field's value token the policy's distribution."""
    tokens: list[TokenLogprob] = []
    tokens.append(TokenLogprob("{", 0.0))
    for i, (key, value) in enumerate(obj.items()):
        sep = ", " if i else ""
        tokens.append(TokenLogprob(f'{sep}"{key}": ', 0.0))
        if key in dist:
            quoted = not isinstance(value, int)
            if quoted:
                tokens.append(TokenLogprob('"', 0.0))
            top = {lab: math.log(max(p, 1e-12)) for lab, p in dist[key].items()}
            tokens.append(TokenLogprob(str(value), top[str(value)], top))
            if quoted:
                tokens.append(TokenLogprob('"', 0.0))
        else:
            tokens.append(TokenLogprob(json.dumps(value), 0.0))
    tokens.append(TokenLogprob("}", 0.0))
    return tuple(tokens)
