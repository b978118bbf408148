"""Agreement on real label files (issue 14 §2): vote vocabularies, null = missing, n_resamples 0.

Expected values are computed independently with sklearn on the hand-mapped votes.
"""

from __future__ import annotations

import pytest
from sklearn.metrics import accuracy_score, cohen_kappa_score

from judge_service.stats.agreement import BootstrapConfig, pairwise_agreement

FAST = BootstrapConfig(n_resamples=200)


def test_fastchat_and_arena_spellings_are_mapped_and_match_sklearn():
    a = ["model_1", "model_2", "tie (inconsistent)", "A>B", "b", "yes", "no", "A=B", "model_a", "tie"]
    b = ["A", "B", "tie", "B", "B", "A", "A", "tie", "A", "B"]
    mapped = ["A", "B", "tie", "A", "B", "A", "B", "tie", "A", "tie"]
    res = pairwise_agreement(a, b, bootstrap=FAST, vote_map={"yes": "A", "no": "B"})
    assert res.accuracy.estimate == pytest.approx(accuracy_score(b, mapped))
    assert res.cohen_kappa.estimate == pytest.approx(cohen_kappa_score(mapped, b, labels=["A", "B", "tie"]))
    assert res.classes == ("A", "B", "tie")


def test_null_votes_are_missing_counted_and_reported_both_ways():
    a = ["A", None, "B", "A", "tie", "B", None, "A"]
    b = ["A", "B", "B", "B", "tie", "A", "A", "A"]
    res = pairwise_agreement(a, b, bootstrap=FAST)
    kept_a = ["A", "B", "A", "tie", "B", "A"]
    kept_b = ["A", "B", "B", "tie", "A", "A"]
    assert res.n == 6 and res.n_missing == 2
    assert res.accuracy.estimate == pytest.approx(accuracy_score(kept_b, kept_a))  # 4/6
    assert res.accuracy_missing_as_wrong.estimate == pytest.approx(4 / 8)
    assert res.cohen_kappa.estimate == pytest.approx(cohen_kappa_score(kept_a, kept_b, labels=["A", "B", "tie"]))


def test_zero_resamples_gives_point_estimates_only():
    res = pairwise_agreement(["A", "B", "A", "B"], ["A", "B", "B", "B"], bootstrap=BootstrapConfig(n_resamples=0))
    assert res.accuracy.estimate == pytest.approx(0.75)
    assert res.accuracy.ci_low is None and "point estimate only" in res.accuracy.reason


def test_http_accepts_nulls_integer_votes_and_zero_resamples(client):
    body = {"kind": "pairwise", "a": [1, 2, None, 1, 2, 1], "b": ["A", "B", "A", "B", "B", "A"], "n_resamples": 0,
            "vote_map": {"1": "A", "2": "B"}}
    r = client.post("/v1/agreement", json=body)
    assert r.status_code == 200, r.text
    pw = r.json()["pairwise"]
    assert pw["n"] == 5 and pw["n_missing"] == 1 and pw["classes"] == ["A", "B"]
    assert pw["accuracy"]["estimate"] == pytest.approx(4 / 5) and pw["accuracy"]["ci_low"] is None
    assert pw["accuracy_missing_as_wrong"]["estimate"] == pytest.approx(4 / 6)


@pytest.mark.parametrize("body, field", [
    ({"kind": "pairwise", "a": ["A", "B"], "b": ["A", "B"], "n_resamples": 50}, "n_resamples"),
    ({"kind": "pairwise", "a": ["A", "maybe"], "b": ["A", "B"]}, "a"),
    ({"kind": "interval", "a": [1.0, None, 2.0], "b": [1.0, 2.0, 3.0]}, "a"),
])
def test_refusals_name_the_field_and_never_500(client, body, field):
    r = client.post("/v1/agreement", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == field


def test_a_swapped_left_in_display_positions_earns_a_warning():
    """A consistent judge whose second-order votes were not flipped back: every item disagrees."""
    a = ["A", "B"] * 10
    flipped_back = list(a)
    not_flipped = ["B" if v == "A" else "A" for v in a]
    b = list(a)
    good = pairwise_agreement(a, b, a_swapped=flipped_back, bootstrap=FAST)
    assert good.positional_agreement.estimate == 1.0 and good.warnings == ()
    bad = pairwise_agreement(a, b, a_swapped=not_flipped, bootstrap=FAST)
    # chance by hand: p_a(A) = p_s(A) = 0.5, p_a(B) = p_s(B) = 0.5 -> 0.5; observed 0
    assert bad.positional_agreement.estimate == 0.0
    assert len(bad.warnings) == 1 and "far below the 0.50 chance" in bad.warnings[0]
    assert "not mapped back" in bad.warnings[0]


def test_estimate_out_mirrors_the_one_estimate():
    import dataclasses

    from judge_service.schemas import EstimateOut
    from judge_service.stats.estimate import Estimate

    assert set(EstimateOut.model_fields) == {f.name for f in dataclasses.fields(Estimate)}
    out = EstimateOut.of(Estimate(float("nan"), float("-inf"), 0.7, 5, p_value=0.2, method="BCa"))
    assert out.model_dump() == {"estimate": None, "ci_low": None, "ci_high": 0.7, "n": 5, "p_value": 0.2,
                                "method": "BCa", "reason": None}


def test_averaged_scores_sent_as_ordinal_are_told_to_use_interval(client):
    body = {"kind": "ordinal", "labels": [1, 2, 3, 4, 5], "ratings": [[1, 2.5, 3], [2, 3.5, 4]], "n_resamples": 0}
    r = client.post("/v1/agreement", json=body)
    assert r.status_code == 422 and r.json()["error"]["field"] == "ratings"
    assert 'kind: "interval"' in r.json()["error"]["message"]
