"""The decision rule through each surface: HTTP (the report's ``decision``) and the Python client."""

from __future__ import annotations

from judge_client import RunReport
from test_runs_api import make_items, run_body

from conftest import wait_done


def test_a_first_slot_judge_gives_undetermined_with_reason_and_fix_over_http(client):
    run_id = client.post("/v1/runs", json=run_body(make_items(20), judges=["first"])).json()["id"]
    wait_done(client, run_id)
    rep = client.get(f"/v1/runs/{run_id}/report").json()
    assert rep["verdict"].startswith("undetermined at n = 20: judge 'first' chose the first position in 40 of 40")
    assert "configure a stronger judge" in rep["verdict"]
    assert rep["decision"]["outcome"] == "undetermined"
    assert rep["decision"]["checks"][0] == {
        "name": "informative_judge", "passed": False, "blocking": True,
        "detail": rep["decision"]["checks"][0]["detail"]}
    assert rep["judges"][0]["informative"] is False
    # the client's model reads the same report, decision included
    parsed = RunReport.model_validate(rep)
    assert parsed.decision is not None and parsed.decision.outcome == "undetermined"
    assert parsed.decision.rule.startswith("A winner is declared only when")


def test_an_uninformative_judge_is_kept_out_of_a_panels_headline(client):
    run_id = client.post("/v1/runs", json=run_body(make_items(20), judges=["longer", "first"])).json()["id"]
    wait_done(client, run_id)
    rep = client.get(f"/v1/runs/{run_id}/report").json()
    judges = {j["judge"]: j for j in rep["judges"]}
    assert judges["first"]["informative"] is False and judges["longer"]["informative"] is True
    assert any(w.startswith("uninformative judge excluded from the headline: judge 'first'") for w in rep["warnings"])
    # the headline rests on 'longer' alone: one call per order per item
    assert rep["pairwise"]["n_scored_calls"] == 40
