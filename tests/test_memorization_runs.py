"""Regurgitation and contamination read a judge run's own items and verdicts (``run_id``)."""

from __future__ import annotations

import random

from conftest import wait_done
from test_memorization_api import training_lines
from test_memorization_core import sentence


def test_run_as_the_source_of_outputs_and_outcomes(client):
    records = training_lines()
    index = client.post("/v1/overlap-indexes", json={"records": records}).json()
    rng = random.Random(7)
    leaked = [records[i]["messages"][1]["content"] for i in range(4)]
    items = []
    for i in range(12):
        prompt = leaked[i] if i < 4 else sentence(rng, 25)  # 4 eval prompts are training text
        tuned = ("Sure. " + records[10 + i]["messages"][1]["content"]) if i < 3 else sentence(rng, 40) + " more detail"
        items.append({"id": f"q{i}", "prompt": prompt, "outputs": {"base": sentence(rng, 20), "tuned": tuned}})
    r = client.post("/v1/runs", json={"rubric": "helpfulness", "judges": ["longer"], "baseline": "base",
                                      "candidate": "tuned", "items": items})
    assert r.status_code == 202, r.text
    run_id = r.json()["id"]
    wait_done(client, run_id)

    reg = client.post("/v1/regurgitation", json={"index_id": index["id"], "run_id": run_id})
    assert reg.status_code == 201, reg.text
    flags = {i["id"]: i["flag"] for i in reg.json()["items"]}
    assert {k for k, v in flags.items() if v == "regurgitation"} == {"q0", "q1", "q2"}  # the tuned outputs copied
    assert reg.json()["source"] == f"run:{run_id}" and reg.json()["base"] is not None  # the baseline screened too

    con = client.post("/v1/contamination", json={"index_id": index["id"], "run_id": run_id, "n_resamples": 200})
    assert con.status_code == 201, con.text
    body = con.json()
    assert body["contaminated"] == 4 and {i["id"] for i in body["items"] if i["contaminated"]} == {"q0", "q1", "q2", "q3"}
    # Outcomes come from the run's verdicts: the 'longer' judge prefers the longer (tuned) answer everywhere.
    assert body["impact"] is not None and body["impact"]["all_items"]["n"] == 12
    assert body["impact"]["clean"]["n"] == 8 and body["impact"]["contaminated"]["n"] == 4
    r = client.post("/v1/contamination", json={"index_id": index["id"], "run_id": "run_nope"})
    assert r.status_code == 404 and r.json()["error"]["field"] == "run_id"
