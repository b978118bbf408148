"""Rating sets and calibrations through HTTP, with a scripted judge whose scores are a known
monotone distortion of the human scores plus noise."""

from __future__ import annotations

import random
import time

import pytest


def rated_items(n: int = 60, seed: int = 7) -> tuple[list[dict], list[float]]:
    rng = random.Random(seed)
    items, truth = [], []
    for i in range(n):
        t = rng.randint(1, 5)
        # the 'lengthy-scorer' judge scores ~len/20 on helpfulness' 1-10 scale: make it 1 + 0.5 (t-1)^2 + noise
        judge_target = 1 + 0.5 * (t - 1) ** 2 + rng.uniform(-0.3, 0.3)
        ratings = {f"r{k}": min(5, max(1, t + rng.choice([0, 0, 0, 1, -1]))) for k in range(3)}
        items.append({"id": f"i{i}", "prompt": f"Question {i}", "response": "x" * round(20 * judge_target),
                      "ratings": ratings})
        truth.append(t)
    return items, truth


def wait(client, cal_id: str, timeout: float = 60) -> dict:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        body = client.get(f"/v1/calibrations/{cal_id}").json()
        if body["status"] != "running":
            return body
        time.sleep(0.05)
    raise AssertionError("calibration did not finish")


def test_rating_set_is_stored_by_content_hash(client):
    items, _ = rated_items(12)
    body = {"name": "demo", "kind": "ordinal", "rubric": "instruction_following", "items": items}
    r = client.post("/v1/rating-sets", json=body)
    assert r.status_code == 201, r.text
    again = client.post("/v1/rating-sets", json=body)
    assert again.status_code == 200 and again.json()["id"] == r.json()["id"]
    items[0]["ratings"]["r0"] = 1 if items[0]["ratings"]["r0"] != 1 else 2
    changed = client.post("/v1/rating-sets", json=body | {"items": items})
    assert changed.status_code == 201 and changed.json()["id"] != r.json()["id"]
    out = client.get(f"/v1/rating-sets/{r.json()['id']}").json()
    assert out["n_items"] == 12 and out["raters"] == ["r0", "r1", "r2"]


def test_upload_long_csv_and_wide_jsonl(client):
    csv_text = "id,prompt,response,rater,rating\na,q1,r1,ann,4\na,q1,r1,bob,5\nb,q2,r2,ann,2\nb,q2,r2,bob,1\n"
    r = client.post("/v1/rating-sets/upload", data={"name": "csv", "kind": "ordinal"},
                    files={"file": ("r.csv", csv_text.encode())})
    assert r.status_code == 201, r.text
    assert r.json()["n_items"] == 2 and r.json()["raters"] == ["ann", "bob"]
    jsonl = b'{"id": "a", "prompt": "q1", "response": "r1", "ann": 4, "bob": 5}\n{"id": "b", "prompt": "q2", "response": "r2", "ann": 2, "bob": 1}\n'
    r2 = client.post("/v1/rating-sets/upload", data={"name": "csv", "kind": "ordinal"}, files={"file": ("r.jsonl", jsonl)})
    assert r2.json()["id"] == r.json()["id"]  # same ratings, same set, whatever the layout
    bad = client.post("/v1/rating-sets/upload", data={"name": "x", "kind": "ordinal"},
                      files={"file": ("r.csv", b"id,prompt,response,ann\na,q,r,excellent\n")})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "items.0.ratings.ann"


def test_calibration_recovers_the_mapping_out_of_sample(client):
    items, truth = rated_items(60)
    rs = client.post("/v1/rating-sets", json={"name": "cal", "kind": "ordinal", "rubric": "helpfulness",
                                              "items": items}).json()
    r = client.post("/v1/calibrations", json={"rating_set": rs["id"], "judges": ["lengthy-scorer"], "folds": 5})
    assert r.status_code == 202, r.text
    cal = wait(client, r.json()["id"])
    assert cal["status"] == "done", cal["error"]
    rep = cal["report"]
    c = rep["calibration"]
    print(f"\nraw MAE {c['raw_mae']:.3f} -> calibrated (5-fold, out of sample) {c['calibrated_mae']:.3f}; "
          f"raw RMSE {c['raw_rmse']:.3f} -> {c['calibrated_rmse']:.3f}")
    assert c["calibrated_mae"] < 0.5 * c["raw_mae"]
    assert rep["judge_vs_human"]["spearman"]["estimate"] > 0.8
    ceiling = rep["human_ceiling"]
    assert ceiling["raters"] == 3 and ceiling["alpha"]["estimate"] > 0.5
    assert len(ceiling["rater_vs_rest"]) == 3
    assert cal["mapping"]["kind"] == "isotonic"
    # a later judgment can ask for it
    j = client.post("/v1/judgments", json={"rubric": "helpfulness", "prompt": "q", "response": "x" * 180,
                                           "judges": ["lengthy-scorer"], "calibration": cal["id"]}).json()
    assert j["calibration_id"] == cal["id"]
    assert 1.0 <= j["calibrated_score"] <= 5.0 and j["calibrated_score"] < j["score"]
    # ... but not with another rubric or other judges
    wrong = client.post("/v1/judgments", json={"rubric": "instruction_following", "prompt": "q", "response": "x",
                                               "judges": ["lengthy-scorer"], "calibration": cal["id"]})
    assert wrong.status_code == 409 and wrong.json()["error"]["field"] == "calibration"


def test_pairwise_calibration_fits_a_tie_threshold(client):
    rng = random.Random(3)
    items = []
    for i in range(40):
        la, lb = rng.randint(5, 60), rng.randint(5, 60)
        vote = "A" if la > lb + 5 else "B" if lb > la + 5 else "tie"
        items.append({"id": f"p{i}", "prompt": "q", "response_a": "a" * la, "response_b": "b" * lb,
                      "ratings": {"h1": vote, "h2": vote}})
    rs = client.post("/v1/rating-sets", json={"name": "pw", "kind": "pairwise", "rubric": "helpfulness", "items": items}).json()
    cal = wait(client, client.post("/v1/calibrations", json={"rating_set": rs["id"], "judges": ["longer"], "folds": 4}).json()["id"])
    assert cal["status"] == "done", cal["error"]
    assert cal["mapping"]["kind"] == "tie_threshold"
    assert 0 <= cal["report"]["calibration"]["threshold"] <= 0.5
    assert cal["report"]["judge_vs_human"]["accuracy"]["estimate"] > 0.5


@pytest.mark.parametrize("body, field, status", [
    ({"rating_set": "rs_missing"}, "rating_set", 404),
    ({"rating_set": "RS", "folds": 1}, "folds", 422),
    ({"rating_set": "RS", "judges": ["ghost"]}, "judges", 404),
    ({"rating_set": "RS", "folds": 10}, "folds", 422),
])
def test_calibration_bad_input(client, body, field, status):
    items, _ = rated_items(12)
    rs = client.post("/v1/rating-sets", json={"name": "s", "rubric": "instruction_following", "items": items}).json()
    body = {k: (rs["id"] if v == "RS" else v) for k, v in body.items()}
    r = client.post("/v1/calibrations", json=body)
    assert r.status_code == status, r.text
    assert r.json()["error"]["field"] == field
    assert client.get("/v1/calibrations/cal_nope").status_code == 404


def test_a_run_can_report_scores_on_the_calibrated_scale(client):
    items, _ = rated_items(60)
    rs = client.post("/v1/rating-sets", json={"name": "cal", "kind": "ordinal", "rubric": "helpfulness", "items": items}).json()
    cal = wait(client, client.post("/v1/calibrations", json={"rating_set": rs["id"], "judges": ["lengthy-scorer"]}).json()["id"])
    run_items = [{"id": f"r{i}", "prompt": f"Q{i}", "outputs": {"base": "x" * (20 + 3 * i), "tuned": "x" * (60 + 3 * i)}}
                 for i in range(20)]
    body = {"rubric": "helpfulness", "judges": ["lengthy-scorer"], "mode": "absolute", "baseline": "base",
            "candidate": "tuned", "items": run_items, "options": {"calibration": cal["id"], "n_resamples": 500}}
    r = client.post("/v1/runs", json=body)
    assert r.status_code == 202, r.text
    run_id = r.json()["id"]
    end = time.monotonic() + 60
    while client.get(f"/v1/runs/{run_id}").json()["status"] != "done":
        assert time.monotonic() < end
        time.sleep(0.05)
    calibrated = client.get(f"/v1/runs/{run_id}/report").json()["calibrated"]
    assert calibrated["calibration_id"] == cal["id"] and calibrated["n"] == 20
    assert 1.0 <= calibrated["baseline_mean"] < calibrated["candidate_mean"] <= 5.0  # on the raters' 1-5 scale
    assert calibrated["difference"]["ci_low"] > 0
    # refused up front: pairwise mode, an unknown calibration, other judges
    for patch, status in [({"mode": "pairwise"}, 422), ({"options": {"calibration": "cal_nope"}}, 404),
                          ({"judges": ["longer"]}, 409)]:
        bad = client.post("/v1/runs", json=body | patch)
        assert bad.status_code == status, bad.text
        assert bad.json()["error"]["field"] == "options.calibration"


def test_calibration_through_the_fake_judge_server(make_client):
    """The same known distortion, judged over HTTP by the fake OpenAI-compatible server (real SDK)."""
    from judge_service.testing.fake_server import FakeJudgeServer

    with FakeJudgeServer("score_by_length") as fake:
        client = make_client({"judges": [{"name": "remote-scorer", "provider": "openai_compatible", "model": "fake-judge",
                                           "family": "fake", "base_url": fake.openai_base_url, "max_concurrency": 16}]},
                             log_json=False)
        items, _ = rated_items(60)
        rs = client.post("/v1/rating-sets", json={"name": "cal", "kind": "ordinal", "rubric": "helpfulness", "items": items}).json()
        cal = wait(client, client.post("/v1/calibrations", json={"rating_set": rs["id"], "judges": ["remote-scorer"]}).json()["id"])
        assert cal["status"] == "done", cal["error"]
        c = cal["report"]["calibration"]
        print(f"\nfake server judge: raw MAE {c['raw_mae']:.3f} -> calibrated {c['calibrated_mae']:.3f} (5-fold, out of sample)")
        assert c["calibrated_mae"] < 0.5 * c["raw_mae"]
        assert fake.calls == 60  # one call per rated item; nothing repeated
        assert cal["judge_models"] == {"remote-scorer": "fake-judge"}
