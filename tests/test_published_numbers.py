"""Published numbers on public data, reproduced through POST /v1/agreement to the printed precision.

Sources are listed in /work/shared/data/README.md: PandaLM's README and data/compute_metrics.py,
UniEval's Topical-Chat turn-level correlations, and library reference values for kappa/Kendall.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from judge_service.api.agreement import router

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

# PandaLM labels: 0 = tie, 1 = response1 better, 2 = response2 better
PANDALM_VOTE = {0: "tie", 1: "A", 2: "B"}
# compute_metrics.py convention for gpt-3.5-turbo: "Tie" and unparseable ("garbage") both count as tie (0)
GPT_VOTE = {"1": "A", "2": "B", "Tie": "tie", "garbage": "tie"}


@pytest.fixture
def api(client):
    """The real app (conftest's ``client``); the agreement router is added if app.py doesn't include it yet."""
    if not any(getattr(r, "path", None) == "/v1/agreement" for r in client.app.routes):
        client.app.include_router(router)
    return client


def post(api, body: dict) -> dict:
    response = api.post("/v1/agreement", json=body)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture(scope="module")
def pandalm():
    items = json.loads((DATA / "pandalm" / "testset-v1.json").read_text())
    annotators = [[PANDALM_VOTE[item[f"annotator{i}"]] for item in items] for i in (1, 2, 3)]
    gold = []
    for votes in zip(*annotators):
        (label, count), = Counter(votes).most_common(1)
        assert count >= 2, "README: no item is a three-way split"
        gold.append(label)
    gpt = sorted(json.loads((DATA / "pandalm" / "gpt-3.5-turbo-testset-v1.json").read_text()), key=lambda r: r["idx"])
    panda = sorted(json.loads((DATA / "pandalm" / "pandalm-7b-testset-v1.json").read_text()), key=lambda r: r["idx"])
    assert [r["idx"] for r in gpt] == [r["idx"] for r in panda] == [item["idx"] for item in items]
    return {
        "annotators": annotators,
        "gold": gold,
        "gpt-3.5-turbo": [GPT_VOTE[r["gpt_result"]] for r in gpt],
        "pandalm-7b": [PANDALM_VOTE[r["pandalm_result"]] for r in panda],
    }


def test_pandalm_gold_counts(pandalm):
    assert Counter(pandalm["gold"]) == {"tie": 105, "A": 422, "B": 472}


@pytest.mark.parametrize(("i", "j", "kappa"), [(0, 1, 0.8520), (0, 2, 0.8789), (1, 2, 0.8617)])
def test_pandalm_inter_annotator_kappa(api, pandalm, i, j, kappa):
    out = post(api, {"kind": "pairwise", "a": pandalm["annotators"][i], "b": pandalm["annotators"][j]})
    stat = out["pairwise"]["cohen_kappa"]
    assert round(stat["estimate"], 4) == kappa
    assert stat["n"] == 999 and stat["ci_low"] < stat["estimate"] < stat["ci_high"]


def test_pandalm_inter_annotator_kappa_from_ratings_matrix(api, pandalm):
    out = post(api, {"kind": "pairwise", "ratings": pandalm["annotators"]})
    kappas = {(p["rater_a"], p["rater_b"]): round(p["cohen_kappa"]["estimate"], 4) for p in out["raters"]["pairs"]}
    assert kappas == {(0, 1): 0.8520, (0, 2): 0.8789, (1, 2): 0.8617}
    assert out["raters"]["alpha_level"] == "nominal" and 0.8 < out["raters"]["alpha"]["estimate"] < 0.9


@pytest.mark.parametrize(("judge", "published"), [
    ("gpt-3.5-turbo", {"accuracy": 0.7107, "macro_precision": 0.5879, "macro_recall": 0.5736, "macro_f1": 0.5755}),
    ("pandalm-7b", {"accuracy": 0.6677, "macro_precision": 0.5738, "macro_recall": 0.5750, "macro_f1": 0.5743}),
])
def test_pandalm_judges_against_majority(api, pandalm, judge, published):
    out = post(api, {"kind": "pairwise", "a": pandalm[judge], "b": pandalm["gold"]})["pairwise"]
    assert {name: round(out[name]["estimate"], 4) for name in published} == published
    assert out["classes"] == ["A", "B", "tie"]
    for name in published:
        assert out[name]["ci_low"] <= out[name]["estimate"] <= out[name]["ci_high"]
    print(f"\n{judge}: " + ", ".join(f"{k} {out[k]['estimate']:.4f} [{out[k]['ci_low']:.4f}, {out[k]['ci_high']:.4f}]"
                                      for k in published))


UNIEVAL = {  # Pearson / Spearman / Kendall tau-b, pooled over all 360 rows
    "naturalness": (0.443666, 0.513986, 0.373973),
    "coherence": (0.595143, 0.612942, 0.465915),
    "engagingness": (0.55651, 0.604739, 0.455941),
    "groundedness": (0.536209, 0.574954, 0.451533),
    "understandability": (0.380038, 0.467807, 0.360741),
    "overall": (0.632796, 0.662583, 0.487272),
}


@pytest.fixture(scope="module")
def topical_chat():
    return json.loads((DATA / "unieval_topical_chat" / "topical_chat_result.json").read_text())


@pytest.mark.parametrize("dimension", list(UNIEVAL))
def test_unieval_topical_chat_turn_level(api, topical_chat, dimension):
    assert len(topical_chat) == 360
    body = {"kind": "interval",
            "a": [row["predict_scores"][dimension] for row in topical_chat],
            "b": [row["scores"][dimension] for row in topical_chat],
            "n_resamples": 300}
    scores = post(api, body)["scores"]
    got = tuple(round(scores[name]["estimate"], 6) for name in ("pearson", "spearman", "kendall"))
    assert got == UNIEVAL[dimension]
    assert scores["kendall_variant"] == "b" and scores["n"] == 360
    # interval scores have no label scale: the discrete statistics say why they are missing
    assert scores["quadratic_kappa"]["estimate"] is None and "labels" in scores["quadratic_kappa"]["reason"]


Y1, Y2 = [1, 2, 4, 4, 5, 1, 2], [1, 2, 4, 5, 5, 2, 2]


def test_quadratic_kappa_uses_the_given_scale(api):
    out = post(api, {"kind": "ordinal", "a": Y1, "b": Y2, "labels": [1, 2, 3, 4, 5]})["scores"]
    assert round(out["quadratic_kappa"]["estimate"], 4) == 0.9375
    # the trap: a scale inferred from the data drops the unused 3 and changes kappa
    trap = post(api, {"kind": "ordinal", "a": Y1, "b": Y2, "labels": [1, 2, 4, 5]})["scores"]
    assert round(trap["quadratic_kappa"]["estimate"], 6) == 0.872727


def test_ordinal_without_labels_is_a_422_naming_labels(api):
    response = api.post("/v1/agreement", json={"kind": "ordinal", "a": Y1, "b": Y2})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "labels"


@pytest.mark.parametrize(("variant", "tau"), [("b", 0.857493), ("c", 0.816327)])
def test_kendall_reference_values(api, variant, tau):
    out = post(api, {"kind": "ordinal", "a": Y1, "b": Y2, "labels": [1, 2, 3, 4, 5], "kendall_variant": variant})
    assert out["scores"]["kendall_variant"] == variant
    assert round(out["scores"]["kendall"]["estimate"], 6) == tau
