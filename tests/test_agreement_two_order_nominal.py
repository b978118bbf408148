"""Issue 14 §2, the rest: two-order accuracy, grouped pairwise figures, kind nominal, shifted label sets.

Expected values come from sklearn, the ``krippendorff`` package or a hand count written beside them.
"""

from __future__ import annotations

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import accuracy_score, cohen_kappa_score, f1_score

from judge_service.stats.agreement import (
    BootstrapConfig,
    grouped_pairwise_agreement,
    nominal_agreement,
    pairwise_agreement,
    rater_agreement,
    score_agreement,
)

FAST = BootstrapConfig(n_resamples=200)
POINT = BootstrapConfig(n_resamples=0)

# A judge seen in both orders (second order already mapped back to the original identities).
FIRST = ["A", "B", "A", "tie", "B", "A", "B", "A", "A", "B"]
SECOND = ["A", "A", "B", "A", "B", "tie", "B", "A", "B", "B"]
GOLD = ["A", "B", "B", "tie", "A", "A", "B", "A", "A", "tie"]


def test_two_order_figures_match_a_hand_count():
    res = pairwise_agreement(FIRST, GOLD, a_swapped=SECOND, bootstrap=FAST)
    two = res.two_order
    assert two is not None and two.n == 10 and two.headline == "first_order"
    # first order right on items 0,1,3,5,6,7,8 -> 7/10; second on 0,2,6,7 -> 4/10
    assert two.first_order.estimate == pytest.approx(0.7) == res.accuracy.estimate
    assert two.second_order.estimate == pytest.approx(0.4)
    assert two.mean_of_orders.estimate == pytest.approx(0.55)
    assert two.both_orders_correct.estimate == pytest.approx(0.3)  # items 0, 6, 7
    # net vote (sign of the sum): A,tie,tie,A,B,A,B,A,tie,B -> right on 0,5,6,7 -> 0.4
    net = ["A", "tie", "tie", "A", "B", "A", "B", "A", "tie", "B"]
    assert two.net_vote.estimate == pytest.approx(accuracy_score(GOLD, net))
    # FastChat's rule: a winner only when both orders agree: A,tie,tie,tie,B,tie,B,A,tie,B -> 0,3,6,7 -> 0.4
    consistent = ["A", "tie", "tie", "tie", "B", "tie", "B", "A", "tie", "B"]
    assert two.consistent_vote.estimate == pytest.approx(accuracy_score(GOLD, consistent))
    assert two.mean_of_orders.ci_low is not None and two.mean_of_orders.ci_low <= 0.55 <= two.mean_of_orders.ci_high


def test_grouped_pairwise_figures_equal_one_request_per_slice():
    groups = ["math", "code", "math", "code", "math", "code", "math", "code", "solo", "math"]
    res = grouped_pairwise_agreement(FIRST, GOLD, groups, a_swapped=SECOND, bootstrap=FAST)
    assert [g.group for g in res] == ["math", "code", "solo"]
    for g in res[:2]:
        idx = [i for i, k in enumerate(groups) if k == g.group]
        fa, fb = [FIRST[i] for i in idx], [GOLD[i] for i in idx]
        assert g.n == len(idx)
        assert g.accuracy.estimate == pytest.approx(accuracy_score(fb, fa))
        assert g.cohen_kappa.estimate == pytest.approx(cohen_kappa_score(fa, fb, labels=["A", "B", "tie"]))
        present = sorted(set(fa) | set(fb))
        assert g.macro_f1.estimate == pytest.approx(f1_score(fb, fa, labels=present, average="macro",
                                                             zero_division=0))
        second_right = np.mean([SECOND[i] == GOLD[i] for i in idx])
        assert g.two_order_mean.estimate == pytest.approx((accuracy_score(fb, fa) + second_right) / 2)
    solo = res[2]
    assert solo.n == 1 and solo.accuracy.estimate is None and "figures need 2" in solo.accuracy.reason


def test_nominal_kappa_is_unweighted_and_matches_sklearn():
    a = [1, 2, 3, 1, 2, 3, 3, 1, 2, 2]
    b = [1, 3, 3, 1, 2, 1, 3, 1, 2, 3]
    res = nominal_agreement(a, b, labels=[1, 2, 3], bootstrap=FAST)
    assert res.cohen_kappa.estimate == pytest.approx(cohen_kappa_score(a, b))  # no weights
    assert res.cohen_kappa.estimate != pytest.approx(cohen_kappa_score(a, b, weights="quadratic"))
    assert res.exact_agreement.estimate == pytest.approx(0.7)
    assert res.classes == ("1", "2", "3") and res.warnings == ()
    names = nominal_agreement(["cat", "dog", "cat", "bird"], ["cat", "dog", "dog", "bird"], bootstrap=POINT)
    assert names.cohen_kappa.estimate == pytest.approx(cohen_kappa_score(["cat", "dog", "cat", "bird"],
                                                                          ["cat", "dog", "dog", "bird"]))


def test_nominal_alpha_matches_the_krippendorff_package():
    ratings = [[1, 2, 3, 3, 2, 1, 4, 1, 2, None],
               [1, 2, 3, 3, 2, 2, 4, 1, 2, 5],
               [None, 3, 3, 3, 2, 3, 4, 2, 2, 5]]
    res = rater_agreement(ratings, "nominal", bootstrap=POINT)
    data = np.array([[np.nan if v is None else v for v in r] for r in ratings], dtype=float)
    assert res.alpha_level == "nominal"
    assert res.alpha.estimate == pytest.approx(krippendorff.alpha(reliability_data=data,
                                                                   level_of_measurement="nominal"))
    pair = res.pairs[0]  # raters 0 and 1 on the 9 items both rated
    assert pair.cohen_kappa.estimate == pytest.approx(cohen_kappa_score(ratings[0][:9], ratings[1][:9]))


def test_shifted_label_sets_are_warned_on_every_kind():
    judge = [0, 1, 0, 1, 1, 0, 1, 0]
    gold = [1, 2, 2, 1, 2, 1, 1, 2]
    scores = score_agreement(judge, gold, labels=[0, 1, 2], bootstrap=POINT)
    # the trap figure itself, by sklearn: quadratic kappa on the union scale
    assert scores.quadratic_kappa.estimate == pytest.approx(cohen_kappa_score(judge, gold, labels=[0, 1, 2],
                                                                              weights="quadratic"))
    assert len(scores.warnings) == 1 and "shifted by +1" in scores.warnings[0]
    assert "{0, 1}" in scores.warnings[0] and "{1, 2}" in scores.warnings[0]
    assert score_agreement(judge, gold, bootstrap=POINT).warnings == scores.warnings  # interval too
    assert "shifted by +1" in nominal_agreement(judge, gold, bootstrap=POINT).warnings[0]
    alpha = rater_agreement([judge, gold], "ordinal", bootstrap=POINT)
    assert any("shifted by +1" in w for w in alpha.warnings)
    aligned = score_agreement([j + 1 for j in judge], gold, labels=[0, 1, 2], bootstrap=POINT)
    assert aligned.warnings == ()


def test_http_two_order_groups_and_nominal(client):
    body = {"kind": "pairwise", "a": FIRST, "b": GOLD, "a_swapped": SECOND, "n_resamples": 0,
            "groups": ["x"] * 5 + ["y"] * 5}
    r = client.post("/v1/agreement", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["pairwise"]["two_order"]["mean_of_orders"]["estimate"] == pytest.approx(0.55)
    assert out["pairwise"]["two_order"]["headline"] == "first_order"
    assert [g["group"] for g in out["pairwise_groups"]] == ["x", "y"]
    assert out["pairwise_groups"][0]["accuracy"]["estimate"] == pytest.approx(accuracy_score(GOLD[:5], FIRST[:5]))
    nominal = client.post("/v1/agreement", json={"kind": "nominal", "a": [0, 1, 0, 1, 1], "b": [1, 2, 2, 1, 2],
                                                 "n_resamples": 0})
    assert nominal.status_code == 200, nominal.text
    nom = nominal.json()["nominal"]
    assert nom["classes"] == ["0", "1", "2"]  # integer labels never come back as "1.0"
    assert nom["cohen_kappa"]["estimate"] == pytest.approx(cohen_kappa_score([0, 1, 0, 1, 1], [1, 2, 2, 1, 2]))
    assert "shifted by +1" in nom["warnings"][0]
    ratings = client.post("/v1/agreement", json={"kind": "nominal", "ratings": [[1, 2, 1, 3], [1, 2, 2, 3]],
                                                 "n_resamples": 0})
    assert ratings.status_code == 200 and ratings.json()["raters"]["alpha_level"] == "nominal"


@pytest.mark.parametrize("body, field", [
    ({"kind": "nominal", "a": [1, None, 2], "b": [1, 2, 2]}, "a"),
    ({"kind": "nominal", "a": [1, 2, 3], "b": [1, 2, 2], "labels": [1, 2]}, "a"),
    ({"kind": "nominal", "a": [1, 2, 3], "b": [1, 2, 2], "groups": ["x", "x", "y"]}, "groups"),
    ({"kind": "pairwise", "a": ["A", "B", "A"], "b": ["A", "B", "B"], "systems": ["s", "t", "u"]}, "systems"),
    ({"kind": "pairwise", "a": ["A", "B", "A"], "b": ["A", "B", "B"], "groups": ["x", "y"]}, "groups"),
])
def test_refusals_name_the_field(client, body, field):
    r = client.post("/v1/agreement", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == field


def test_python_client_and_cli_carry_the_new_options(make_settings, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from conftest import SCRIPTED_JUDGES, write_config
    from judge_client import JudgeClient
    from judge_service.app import create_app
    from judge_service.cli import app
    from test_client import serve

    with serve(create_app(make_settings())) as url, JudgeClient(url) as c:
        res = c.agreement(kind="pairwise", a=[1, 2, None, 1], b=["A", "B", "A", "B"], a_swapped=[1, 1, 2, 1],
                          vote_map={"1": "A", "2": "B"}, n_resamples=0, groups=["x", "x", "y", "y"])
        assert res.pairwise.n_missing == 1 and res.pairwise.two_order.n == 3
        assert res.pairwise.two_order.both_orders_correct.estimate == pytest.approx(1 / 3)  # only item 0
        assert [g.group for g in res.pairwise_groups] == ["x", "y"]
        nominal = c.agreement(kind="nominal", a=["x", "y", "x"], b=["x", "y", "y"], n_resamples=0)
        assert nominal.nominal.cohen_kappa.estimate == pytest.approx(cohen_kappa_score(["x", "y", "x"],
                                                                                       ["x", "y", "y"]))

    monkeypatch.setenv("JUDGE_CONFIG", str(write_config(tmp_path / "judges.yaml", SCRIPTED_JUDGES)))
    monkeypatch.setenv("JUDGE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("JUDGE_URL", raising=False)
    rows = tmp_path / "votes.csv"
    rows.write_text("judge,judge_swapped,human,cat\n" + "\n".join(
        f"{x},{y},{z},{g}" for x, y, z, g in zip(["1", "2", "", "1", "2", "1"], ["1", "1", "2", "1", "2", "2"],
                                                 ["1", "2", "1", "2", "2", "1"], "xxxyyy")))
    runner = CliRunner()
    result = runner.invoke(app, ["agreement", str(rows), "--kind", "pairwise", "--a", "judge", "--b", "human",
                                 "--a-swapped", "judge_swapped", "--vote-map", "1=A,2=B", "--group", "cat",
                                 "--n-resamples", "0", "--local"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "pairwise.two_order.mean_of_orders" in result.stdout and "pairwise_groups.1.accuracy" in result.stdout
    shifted = tmp_path / "scores.csv"
    shifted.write_text("judge,human\n" + "\n".join(f"{x},{y}" for x, y in zip([0, 1, 0, 1, 1], [1, 2, 2, 1, 2])))
    nominal = runner.invoke(app, ["agreement", str(shifted), "--kind", "nominal", "--a", "judge", "--b", "human",
                                  "--n-resamples", "0", "--local"], catch_exceptions=False)
    assert nominal.exit_code == 0, nominal.output
    assert "nominal.cohen_kappa" in nominal.stdout and "shifted by +1" in nominal.stderr
