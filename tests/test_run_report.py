"""runs.report and bias.position on small hand-built runs."""

from __future__ import annotations

import json

import krippendorff
import numpy as np
import pytest
from scipy import stats

from judge_service.bias.position import chosen_position, position_bias, position_bias_by_judge
from judge_service.errors import InvalidInput
from judge_service.runs.report import (
    AbsoluteRecord,
    ItemInfo,
    PairwiseRecord,
    ReportOptions,
    build_report,
)
from judge_service.stats.inference import minimum_detectable_difference, required_sample_size

FAST = ReportOptions(n_resamples=300)


def item(item_id: str, cand: str = "cand answer", base: str = "base answer", cmeta=None, bmeta=None) -> ItemInfo:
    return ItemInfo(item_id, cand, base, cmeta or {}, bmeta or {})


def pw(item_id, order, winner, judge="j1", sample=0, prob=None) -> PairwiseRecord:
    return PairwiseRecord(item_id, judge, order, sample, winner, prob)


# The hand example: one judge, four items.
#   i1: AB candidate, BA candidate  -> consistent; slots second, first
#   i2: AB baseline,  BA candidate  -> inconsistent; slots first, first
#   i3: AB tie,       BA tie        -> consistent; no slot
#   i4: AB baseline,  BA unscored   -> no pair; slot first
HAND = [
    pw("i1", "AB", "candidate"), pw("i1", "BA", "candidate"),
    pw("i2", "AB", "baseline"), pw("i2", "BA", "candidate"),
    pw("i3", "AB", "tie"), pw("i3", "BA", "tie"),
    pw("i4", "AB", "baseline"), pw("i4", "BA", None),
]
HAND_ITEMS = [item(f"i{k}") for k in range(1, 5)]


def test_chosen_position():
    assert chosen_position("AB", "baseline") == "first"
    assert chosen_position("BA", "candidate") == "first"
    assert chosen_position("AB", "candidate") == "second"
    assert chosen_position("BA", "tie") is None


def test_position_consistency_and_first_share_by_hand():
    bias = position_bias(HAND, n_resamples=300, seed="pos")
    assert bias.position_consistency.estimate == pytest.approx(2 / 3)
    assert bias.position_consistency.n == 3
    assert bias.first_position_share.estimate == pytest.approx(4 / 5)
    assert bias.first_position_share.n == 5
    assert bias.first_position_share.p_value == pytest.approx(stats.binomtest(4, 5, 0.5).pvalue)
    assert (bias.n_scored_calls, bias.n_ties, bias.n_pairs) == (7, 2, 3)


def test_position_bias_by_judge_keeps_judges_apart():
    always_first = [pw(f"i{k}", o, "baseline" if o == "AB" else "candidate", judge="j0")
                    for k in range(5) for o in ("AB", "BA")]
    by_judge = position_bias_by_judge(HAND + always_first, n_resamples=300, seed="pj")
    assert list(by_judge) == ["j0", "j1"]
    assert by_judge["j0"].position_consistency.estimate == 0.0
    assert by_judge["j0"].first_position_share.estimate == 1.0
    assert by_judge["j1"].position_consistency.estimate == pytest.approx(2 / 3)


def test_hand_run_report():
    report = build_report(HAND, [], HAND_ITEMS, FAST)
    pair = report.pairwise
    # Item preferences: i1 = 1, i2 = 0.5, i3 = 0.5, i4 = 0 (its one scored call)
    assert pair.win_rate.estimate == pytest.approx(0.5)
    assert (pair.wins, pair.ties, pair.losses) == (1, 2, 1)
    assert pair.win_rate.p_value == pytest.approx(stats.binomtest(1, 2, 0.5).pvalue)
    assert pair.n_unscored_calls == 1 and pair.n_scored_calls == 7
    assert pair.win_rate_by_order["AB"].estimate == pytest.approx((1 + 0 + 0.5 + 0) / 4)
    assert pair.win_rate_by_order["BA"].estimate == pytest.approx((1 + 1 + 0.5) / 3)
    judge = report.judges[0]
    assert judge.unscored == 1
    assert judge.position.position_consistency.estimate == pytest.approx(2 / 3)
    assert report.verdict.startswith("no detectable difference at n = 4")


def test_probabilities_are_used_when_present_and_unscored_never_become_ties():
    records = [
        pw("a", "AB", "candidate", prob=0.9), pw("a", "BA", "candidate", prob=0.7),
        pw("b", "AB", "baseline", prob=None), pw("b", "BA", None, prob=0.99),
    ]
    report = build_report(records, [], [item("a"), item("b")], FAST)
    # a: mean(0.9, 0.7) = 0.8; b: only the scored call counts -> 0
    assert report.pairwise.win_rate.estimate == pytest.approx((0.8 + 0.0) / 2)
    assert report.pairwise.n_unscored_calls == 1


def test_clustered_ci_when_several_samples_per_item():
    rng = np.random.default_rng(3)
    records, items = [], []
    for k in range(30):
        items.append(item(f"i{k}", "c" * int(rng.integers(100, 300)), "b" * int(rng.integers(100, 300))))
        for s in range(3):
            for order in ("AB", "BA"):
                records.append(pw(f"i{k}", order, rng.choice(["candidate", "baseline", "tie"]), sample=s))
    report = build_report(records, [], items, FAST)
    values = {"candidate": 1.0, "tie": 0.5, "baseline": 0.0}
    by_item = {}
    for r in records:
        by_item.setdefault(r.item_id, []).append(values[r.winner])
    expected = np.mean([np.mean(v) for v in by_item.values()])
    assert report.pairwise.win_rate.n == 30
    assert report.pairwise.win_rate.estimate == pytest.approx(expected)
    assert report.pairwise.position.n_pairs == 90


def _panel_run(n=80, seed=0):
    """Three judges who mostly agree on a candidate that truly wins 75% of items."""
    rng = np.random.default_rng(seed)
    records, absolute, items = [], [], []
    for k in range(n):
        iid = f"i{k}"
        items.append(item(iid, "c" * int(rng.integers(200, 600)), "b" * int(rng.integers(200, 600)),
                          {"model": "tuned", "chat_template": "chatml", "temperature": 0.7},
                          {"model": "base", "chat_template": "llama3", "temperature": 0.7}))
        truth = "candidate" if rng.random() < 0.75 else "baseline"
        quality = rng.normal(0.8 if truth == "candidate" else -0.2, 0.3)
        for judge in ("j1", "j2", "j3"):
            for order in ("AB", "BA"):
                winner = truth if rng.random() < 0.85 else rng.choice(["tie", "candidate", "baseline"])
                records.append(pw(iid, order, winner, judge=judge))
            noise = rng.normal(0, 0.4)
            base = 5 + noise
            absolute.append(AbsoluteRecord(iid, judge, "baseline", 0, base, {"clarity": base - 0.1}))
            absolute.append(AbsoluteRecord(iid, judge, "candidate", 0, base + quality,
                                           {"clarity": base + quality / 2}))
    return records, absolute, items


def test_panel_report_absolute_agreement_parity_and_power():
    records, absolute, items = _panel_run()
    options = ReportOptions(n_resamples=300, target_difference=0.05)
    report = build_report(records, absolute, items, options)

    # Absolute: mean of per-item differences (averaged over judges) and Wilcoxon on those.
    diffs = {}
    crit = {}
    for r in absolute:
        sign = 1 if r.system == "candidate" else -1
        diffs.setdefault(r.item_id, []).append(sign * r.score)
        crit.setdefault(r.item_id, []).append(sign * r.criteria["clarity"])
    item_diffs = np.array([sum(v) / 3 for v in diffs.values()])
    crit_diffs = np.array([sum(v) / 3 for v in crit.values()])
    overall = report.absolute.score_difference.difference
    assert overall.estimate == pytest.approx(item_diffs.mean())
    assert overall.p_value == pytest.approx(stats.wilcoxon(item_diffs).pvalue)
    clarity = report.absolute.criteria["clarity"].difference
    assert clarity.estimate == pytest.approx(crit_diffs.mean())
    assert clarity.p_value == pytest.approx(stats.wilcoxon(crit_diffs).pvalue)

    # Agreement: Krippendorff's alpha on the judges' item verdicts, vs the reference package.
    values = {"candidate": 1.0, "tie": 0.5, "baseline": 0.0}
    matrix = np.full((3, len(items)), np.nan)
    for a, judge in enumerate(("j1", "j2", "j3")):
        for u, it in enumerate(items):
            pref = np.mean([values[r.winner] for r in records if r.judge == judge and r.item_id == it.item_id])
            matrix[a, u] = 1.0 if pref > 0.5 else 0.0 if pref < 0.5 else 0.5
    expected = krippendorff.alpha(reliability_data=matrix, level_of_measurement="ordinal")
    assert report.agreement.pairwise_alpha == pytest.approx(expected, abs=1e-9)
    assert report.agreement.absolute_alpha is not None

    # Arm parity: the chat template differs (model name does not count, temperature matches).
    assert len(report.arm_parity) == 1
    assert "'chat_template'" in report.arm_parity[0] and "80 of 80" in report.arm_parity[0]
    assert "invalidates" in report.arm_parity[0]
    assert report.arm_parity[0] in report.warnings

    # Power: MDE from the SD of item preferences; n needed for a 5-point difference.
    power = report.power[0]
    prefs = np.asarray(report.pairwise.item_preferences)
    sd = float(np.std(prefs, ddof=1))
    assert power.minimum_detectable_difference == pytest.approx(minimum_detectable_difference(sd, len(prefs)))
    assert power.n_needed == required_sample_size(sd, 0.05)
    assert report.power[1].metric == "score_difference"

    # Verdict: the candidate clearly wins.
    assert report.verdict.startswith("candidate beats baseline: LC win rate ")
    assert "n = 80" in report.verdict and "position consistency" in report.verdict
    assert report.headline.ci_low > 0.5
    json.dumps(report.to_dict(), allow_nan=False)


def test_baseline_beats_candidate_verdict():
    records = []
    items = [item(f"i{k}") for k in range(40)]
    for k in range(40):
        for order in ("AB", "BA"):
            records.append(pw(f"i{k}", order, "baseline" if k % 10 else "candidate"))
    report = build_report(records, [], items, FAST)
    assert report.verdict.startswith("baseline beats candidate: LC win rate 0.10")


def test_no_detectable_difference_quotes_the_mde():
    items = [item(f"i{k}") for k in range(60)]
    records = [pw(f"i{k}", o, "candidate" if k % 2 else "baseline") for k in range(60) for o in ("AB", "BA")]
    report = build_report(records, [], items, FAST)
    mde = report.power[0].minimum_detectable_difference
    assert report.verdict == f"no detectable difference at n = 60 (±{mde:.2f})"


def test_self_preference_flags_and_exclusion():
    records = [pw(f"i{k}", o, "candidate", judge=j) for k in range(10) for o in ("AB", "BA") for j in ("gpt", "claude")]
    items = [item(f"i{k}") for k in range(10)]
    families = dict(judge_families={"gpt": "openai", "claude": "anthropic"},
                    system_families={"candidate": "openai", "baseline": "meta"})
    flagged = build_report(records, [], items, ReportOptions(n_resamples=200, **families))
    assert flagged.self_preference.flags == [{"judge": "gpt", "system": "candidate", "family": "openai"}]
    assert flagged.self_preference.excluded_judges == []
    assert any("exclude_self_preferring" in w for w in flagged.warnings)
    excluded = build_report(records, [], items, ReportOptions(n_resamples=200, exclude_self_preferring=True, **families))
    assert excluded.self_preference.excluded_judges == ["gpt"]
    assert excluded.pairwise.n_scored_calls == 20  # only claude's calls remain
    assert [j.excluded for j in excluded.judges] == [False, True]  # sorted: claude, gpt
    only_gpt = [r for r in records if r.judge == "gpt"]
    with pytest.raises(InvalidInput, match="another family"):
        build_report(only_gpt, [], items, ReportOptions(n_resamples=200, exclude_self_preferring=True, **families))


def test_all_zero_score_differences_do_not_crash():
    absolute = [AbsoluteRecord(f"i{k}", "j1", s, 0, 4.0, {}) for k in range(8) for s in ("candidate", "baseline")]
    absolute.append(AbsoluteRecord("i0", "j2", "candidate", 0, None, {}))
    report = build_report([], absolute, [item(f"i{k}") for k in range(8)], FAST)
    diff = report.absolute.score_difference
    assert diff.difference.estimate == 0.0 and diff.difference.p_value == 1.0
    assert report.absolute.n_unscored_records == 1
    assert report.verdict.startswith("no detectable difference at n = 8")
    assert any("identically" in w for w in report.warnings)


def test_report_is_deterministic_for_a_seed():
    records, absolute, items = _panel_run(n=20, seed=4)
    a = build_report(records, absolute, items, ReportOptions(n_resamples=200, seed="s1")).to_dict()
    b = build_report(records, absolute, items, ReportOptions(n_resamples=200, seed="s1")).to_dict()
    c = build_report(records, absolute, items, ReportOptions(n_resamples=200, seed="s2")).to_dict()
    assert a == b
    assert a["pairwise"]["win_rate"]["ci_low"] != c["pairwise"]["win_rate"]["ci_low"] or \
        a["headline"]["ci_low"] != c["headline"]["ci_low"]


@pytest.mark.parametrize(
    ("record", "field"),
    [
        (pw("missing", "AB", "candidate"), "pairwise[0].item_id"),
        (pw("i0", "XY", "candidate"), "pairwise[0].order"),
        (pw("i0", "AB", "A"), "pairwise[0].winner"),
        (pw("i0", "AB", "candidate", prob=1.2), "pairwise[0].prob_candidate"),
    ],
)
def test_bad_records_name_the_field(record, field):
    with pytest.raises(InvalidInput) as info:
        build_report([record], [], [item("i0")], FAST)
    assert info.value.field == field


def test_duplicate_calls_are_refused():
    with pytest.raises(InvalidInput, match="store each call once"):
        build_report([pw("i0", "AB", "tie"), pw("i0", "AB", "tie")], [], [item("i0")], FAST)


def test_style_control_becomes_the_headline_and_length_fn_is_recorded():
    records, _, items = _panel_run(n=30, seed=2)
    report = build_report(records, [], items, ReportOptions(n_resamples=200, style_control=True),
                          length_fn=lambda text: len(text.split()))
    assert report.headline_metric == "style-controlled win rate"
    assert report.headline == report.pairwise.style_controlled.controlled
    assert report.to_dict()["pairwise"]["style_controlled_win_rate"] == report.headline.to_dict()
    assert report.options["length_unit"] == "<lambda>"


def test_many_unscored_calls_earn_a_warning():
    records = [pw(f"i{k}", o, None if k < 3 else "candidate") for k in range(10) for o in ("AB", "BA")]
    report = build_report(records, [], [item(f"i{k}") for k in range(10)], FAST)
    assert report.pairwise.n_unscored_calls == 6 and report.pairwise.items_without_scored_call == 3
    assert report.pairwise.n_items == 7
    assert any("6 of 20 pairwise calls were unscored" in w for w in report.warnings)


def test_all_unscored_is_reported_not_raised():
    records = [pw(f"i{k}", o, None) for k in range(5) for o in ("AB", "BA")]
    report = build_report(records, [], [item(f"i{k}") for k in range(5)], FAST)
    assert report.pairwise is None and report.headline is None
    assert report.verdict == "no scored items: nothing to decide"
    assert any("all 10 pairwise calls are unscored" in w for w in report.warnings)
    assert report.judges[0].unscored == 10


def test_a_single_item_is_not_overclaimed():
    report = build_report([pw("i0", "AB", "candidate"), pw("i0", "BA", "candidate")], [], [item("i0")], FAST)
    assert report.verdict == "no detectable difference at n = 1 (too few items to estimate uncertainty)"
    assert report.headline.to_dict()["ci_low"] is None  # unbounded, serialised as null


def test_a_judge_that_only_follows_length_gives_no_verdict():
    """Perfect separation: the longer answer always wins, so the LC fit's candidate term is not
    identified and its narrow CI would be an artefact of the penalty. The verdict must say so."""
    records, items = [], []
    for k in range(30):
        cand_longer = k % 3 != 0
        winner = "candidate" if cand_longer else "baseline"
        records += [pw(f"i{k}", "AB", winner), pw(f"i{k}", "BA", winner)]
        items.append(item(f"i{k}", cand="c" * (40 if cand_longer else 10), base="b" * (10 if cand_longer else 40)))
    report = build_report(records, [], items, FAST)
    assert report.verdict.startswith("undetermined at n = 30")
    lc = report.to_dict()["pairwise"]["length_control"]
    assert lc["identified"] is False and any("not identified" in w for w in lc["warnings"])


def test_a_clear_difference_on_few_items_is_not_claimed():
    records = [r for k in range(5) for r in (pw(f"i{k}", "AB", "candidate", prob=0.9), pw(f"i{k}", "BA", "candidate", prob=0.9))]
    report = build_report(records, [], [item(f"i{k}") for k in range(5)], FAST)
    assert report.verdict.startswith("too few items to claim a difference: n = 5")
