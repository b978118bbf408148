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


def test_replies_read_back_from_the_cache_are_kept_in_memory_and_fresh_ones_are_not(client):
    from conftest import provider_of

    from judge_service.store.models import CallCacheRow

    body = {"rubric": "helpfulness", "prompt": "q", "response": "r", "judges": ["lengthy-scorer"]}
    caller = client.app.state.ctx.caller
    first = client.post("/v1/judgments", json=body).json()
    assert len(caller._recent_hits) == 0  # a fresh reply: another process may have won the insert
    second = client.post("/v1/judgments", json=body).json()
    assert len(caller._recent_hits) == 1 and second["judges"][0]["cached"]
    with client.app.state.ctx.db.session() as s:  # the row is gone: only memory can answer now
        s.query(CallCacheRow).delete()
    third = client.post("/v1/judgments", json=body).json()
    assert third["judges"][0]["cached"] and third["score"] == second["score"] == first["score"]
    assert len(provider_of(client, "lengthy-scorer").log.requests) == 1
