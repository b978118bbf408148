"""The decision: power, the headline figure, the decision rule and the one-line verdict.

The rule (``DECISION_RULE``, also in the README and in every report's ``decision``) lets no single
figure carry a winner: the judge must be informative, the headline interval, the hard-vote test
and the length-control diagnostics must agree.
"""

from __future__ import annotations

import numpy as np

from judge_service.runs.report.inputs import ReportOptions
from judge_service.runs.report.gate import FIX, JudgeGate
from judge_service.runs.report.tree import AbsoluteSummary, Decision, DecisionCheck, PairwiseSummary, Power
from judge_service.stats.estimate import Estimate
from judge_service.stats.inference import minimum_detectable_difference, required_sample_size


def power_analysis(pair: PairwiseSummary | None, absolute: AbsoluteSummary | None, options: ReportOptions) -> list[Power]:
    """MDE at this n from the observed item-level SD, and the n a named difference needs."""
    series = []
    if pair:
        series.append(("win_rate", np.asarray(pair.item_preferences)))
    if absolute and absolute.item_differences:
        series.append(("score_difference", np.asarray(absolute.item_differences)))
    out = []
    target = options.target_difference
    for metric, values in series:
        if values.size < 2:
            continue  # an SD needs two items
        sd = float(np.std(values, ddof=1))
        n_needed = None
        # target_difference is in win-rate points, so it sizes the pairwise comparison only.
        if target is not None and metric == "win_rate":
            n_needed = required_sample_size(sd, target) if sd > 0 else 1
        out.append(Power(metric, sd, int(values.size), minimum_detectable_difference(sd, int(values.size)),
                         target if metric == "win_rate" else None, n_needed))
    return out


def headline_figure(pair: PairwiseSummary | None, absolute: AbsoluteSummary | None) -> tuple[str | None, Estimate | None]:
    """The figure the verdict rests on: the controlled win rate, else the mean score difference."""
    if pair:
        if pair.style_controlled:
            return "style-controlled win rate", pair.style_controlled.controlled
        return "LC win rate", pair.length_controlled.controlled
    if absolute and absolute.score_difference:
        return "mean score difference", absolute.score_difference.difference
    return None, None


def _fmt_p(p: float | None) -> str:
    if p is None:
        return "p = n/a"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


MIN_ITEMS_FOR_VERDICT = 10

DECISION_RULE = (
    "A winner is declared only when every blocking check passes: (1) informative_judge: at least one judge "
    "passes the informativeness gate (first-position share inside (0.1, 0.9) or not significant, decided "
    "share >= 0.1, position consistency >= 0.25, kappa with the panel majority > 0, and with a calibration "
    "(options.human_check or options.calibration) agreement with its humans whose CI lies above 0); judges "
    "that fail are "
    "kept out of the headline; (2) length_identified: the length-controlled model is identified (quality "
    "not fully confounded with length); (3) headline_interval: the headline CI excludes no difference (0.5 "
    "win rate, 0 score gap); (4) enough_items: n >= 10; (5) hard_votes: the sign test on items won vs lost "
    "by the calls' winners alone (probabilities ignored, ties dropped; Wilcoxon for score differences) "
    "rejects at alpha = 1 - confidence in the same direction, so soft probabilities alone cannot carry a "
    "win. control_extrapolation is a caution, not a block: when one side is longer (or more styled) on "
    "nearly every item the controlled figure extrapolates, and the verdict says so."
)


def decide(metric: str | None, headline: Estimate | None, pair: PairwiseSummary | None,
           absolute: AbsoluteSummary | None, power: list[Power], gates: dict[str, JudgeGate],
           confidence: float, extrapolation: list[str]) -> tuple[str, Decision]:
    """The one-line verdict and the decision record behind it (rule in ``DECISION_RULE``)."""
    checks: list[DecisionCheck] = []
    outcome = "undetermined"

    def done(line: str) -> tuple[str, Decision]:
        return line, Decision(DECISION_RULE, tuple(checks), outcome)

    failed = [g for g in gates.values() if not g.informative]
    passing = [g for g in gates.values() if g.informative]
    if gates:
        detail = ("every judge carries information about the items" if not failed else
                  "; ".join(g.reason or "" for g in failed)
                  + ("" if passing else "") + (f" (excluded; headline from {', '.join(g.judge for g in passing)})"
                                               if passing else ""))
        checks.append(DecisionCheck("informative_judge", bool(passing), detail))
    if headline is None or metric is None:
        outcome = "nothing_to_decide"
        if gates and not passing:
            return done(_uninformative_line(failed, pair))
        return done("no scored items: nothing to decide")
    n = headline.n
    if gates and not passing:
        return done(_uninformative_line(failed, pair))
    null = 0.5 if pair else 0.0
    if metric == "LC win rate" and pair:
        ok = pair.length_controlled.identified
        checks.append(DecisionCheck("length_identified", ok, "the length-controlled model is identified" if ok else
                                    "the judge preferred the longer answer on every item where lengths differ"))
        if not ok:
            raw = pair.win_rate
            return done(f"undetermined at n = {n}: the judge preferred the longer answer on every item, so quality "
                        f"cannot be told from length (raw win rate {_ci(raw)} is length-confounded)")
    excludes = headline.excludes(null)
    checks.append(DecisionCheck("headline_interval", excludes,
                                f"{metric} {_ci(headline, signed=not pair)} "
                                + ("excludes" if excludes else "includes") + f" {null:g}"))
    if not excludes:
        outcome = "no_difference"
        wanted = "win_rate" if pair else "score_difference"
        mde = next((p.minimum_detectable_difference for p in power if p.metric == wanted), None)
        if mde is None:
            return done(f"no detectable difference at n = {n} (too few items to estimate uncertainty)")
        return done(f"no detectable difference at n = {n} (±{mde:.2f})")
    enough = n >= MIN_ITEMS_FOR_VERDICT
    checks.append(DecisionCheck("enough_items", enough, f"n = {n} (needs {MIN_ITEMS_FOR_VERDICT})"))
    if not enough:
        return done(f"too few items to claim a difference: n = {n}; a bootstrap interval needs at least "
                    f"{MIN_ITEMS_FOR_VERDICT} items to mean anything (see 'power' for how many you need)")
    candidate_side = (headline.ci_low or 0.0) > null
    alpha = 1 - confidence
    hard_ok, hard_detail = _hard_vote_check(pair, headline, candidate_side, alpha)
    checks.append(DecisionCheck("hard_votes", hard_ok, hard_detail))
    cautions = list(extrapolation)
    checks.append(DecisionCheck("control_extrapolation", not cautions,
                                "; ".join(cautions) if cautions else "equal length (and style) lies inside the data",
                                blocking=False))
    if hard_ok is False:
        return done(f"undetermined at n = {n}: the {metric} {_ci(headline, signed=not pair)} excludes {null:g} but "
                    f"the hard votes do not ({hard_detail}); the difference rests on the judge's soft probabilities "
                    "alone — run more items or configure a stronger judge")
    outcome = "candidate_beats" if candidate_side else "baseline_beats"
    direction = "candidate beats baseline" if candidate_side else "baseline beats candidate"
    if pair:
        p = pair.win_rate.p_value
        figure = f"{headline.estimate:.2f} [{headline.ci_low:.2f}, {headline.ci_high:.2f}]"
    else:
        p = headline.p_value
        figure = f"{headline.estimate:+.2f} [{headline.ci_low:+.2f}, {headline.ci_high:+.2f}]"
    line = f"{direction}: {metric} {figure}, {_fmt_p(p)}, n = {n}"
    if pair and pair.position.position_consistency is not None:
        line += f", position consistency {pair.position.position_consistency.estimate:.2f}"
    if failed:
        line += f"; excluded uninformative judge(s): {', '.join(g.judge for g in failed)}"
    if cautions:
        line += "; caution: the controlled figure extrapolates (" + cautions[0] + ")"
    return done(line)


def _hard_vote_check(pair: PairwiseSummary | None, headline: Estimate, candidate_side: bool,
                     alpha: float) -> tuple[bool | None, str]:
    if pair is not None:
        hard = pair.hard_votes
        if hard is None:
            return None, "no hard votes"
        agrees = (hard.wins > hard.losses) == candidate_side and hard.wins != hard.losses
        ok = hard.p_value < alpha and agrees
        return ok, (f"sign test on the calls' winners {_fmt_p(hard.p_value)}: {hard.wins} won, {hard.losses} lost, "
                    f"{hard.ties} tied")
    p = headline.p_value
    if p is None:
        return None, "no rank test for the score difference"
    return p < alpha, f"Wilcoxon signed-rank {_fmt_p(p)}"


def _uninformative_line(failed: list[JudgeGate], pair: PairwiseSummary | None) -> str:
    n = pair.n_items if pair else 0
    reasons = "; ".join(g.reason or "" for g in failed)
    return (f"undetermined at n = {n}: {reasons}, so the verdicts carry no information about the answers; "
            f"{FIX}")


def _ci(e: Estimate, signed: bool = False) -> str:
    f = "{:+.2f}" if signed else "{:.2f}"
    if e.estimate is None:
        return "n/a"
    low = "n/a" if e.ci_low is None else f.format(e.ci_low)
    high = "n/a" if e.ci_high is None else f.format(e.ci_high)
    return f"{f.format(e.estimate)} [{low}, {high}]"
