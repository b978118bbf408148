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


def test_replies_stored_or_read_back_are_kept_in_memory(client):
    from conftest import provider_of

    from judge_service.store.models import CallCacheRow

    body = {"rubric": "helpfulness", "prompt": "q", "response": "r", "judges": ["lengthy-scorer"]}
    caller = client.app.state.ctx.caller
    first = client.post("/v1/judgments", json=body).json()
    assert len(caller._recent_hits) == 1  # our insert won: the stored row is our reply
    with client.app.state.ctx.db.session() as s:  # the row is gone: only memory can answer now
        s.query(CallCacheRow).delete()
    second = client.post("/v1/judgments", json=body).json()
    assert second["judges"][0]["cached"] and second["score"] == first["score"]
    assert len(provider_of(client, "lengthy-scorer").log.requests) == 1


def test_a_fresh_reply_whose_insert_lost_is_not_kept(client, monkeypatch):
    """Another process cached the same call while ours was on the wire: every later replay, ours
    included, must be the stored reply (theirs), not the one we happened to receive."""
    from conftest import provider_of

    from judge_service.engine.call import cache_key, cache_values
    from judge_service.store.models import CallCacheRow

    ctx = client.app.state.ctx
    judge = ctx.judges.get("lengthy-scorer")
    rubric_hash = ctx.rubrics.resolve("helpfulness").hash
    provider = provider_of(client, "lengthy-scorer")
    own_complete = provider.complete

    async def complete_while_another_process_caches(request):
        reply = await own_complete(request)
        theirs = dataclasses.replace(reply, model="other-process-model")
        with ctx.db.session() as s:  # the other process's row lands first
            s.add(CallCacheRow(**cache_values(judge, cache_key(judge, request, rubric_hash, 0), theirs)))
        return reply

    monkeypatch.setattr(provider, "complete", complete_while_another_process_caches)
    body = {"rubric": "helpfulness", "prompt": "q2", "response": "r2", "judges": ["lengthy-scorer"]}
    first = client.post("/v1/judgments", json=body).json()
    assert first["judges"][0]["model"] == "scripted-len" and len(ctx.caller._recent_hits) == 0
    second = client.post("/v1/judgments", json=body).json()
    assert second["judges"][0]["cached"] and second["judges"][0]["model"] == "other-process-model"
