"""The cached reply's JSON is exactly what ``dataclasses.asdict`` gave (rows written before stay readable)."""

from __future__ import annotations

import dataclasses
import json

from judge_service.engine.call import reply_from_json, reply_to_json
from judge_service.judges.base import JudgeReply, TokenLogprob, Usage


def test_reply_json_matches_asdict_and_round_trips():
    full = JudgeReply(text="x", model="m", usage=Usage(3, 4), latency_ms=1.5,
                      structured={"winner": "A", "nested": [1, {"a": 2}]},
                      logprobs=tuple(TokenLogprob(f"t{i}", -0.1 * i, {f"a{j}": -j for j in range(5)}) for i in range(30)),
                      label_probs={"winner": {"A": 0.6, "B": 0.4}})
    for reply in (full, JudgeReply(text="y", model="m")):
        as_json = json.loads(json.dumps(reply_to_json(reply)))
        assert as_json == json.loads(json.dumps(dataclasses.asdict(reply)))
        assert reply_from_json(as_json) == reply
    out = reply_to_json(full)
    out["structured"]["nested"][1]["a"] = 99  # a copy: the reply itself is untouched
    assert full.structured == {"winner": "A", "nested": [1, {"a": 2}]}
