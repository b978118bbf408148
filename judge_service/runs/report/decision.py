"""The decision: power, the headline figure and the one-line verdict.
"""

from __future__ import annotations

import numpy as np

from judge_service.runs.report.inputs import ReportOptions
from judge_service.runs.report.tree import AbsoluteSummary, PairwiseSummary, Power
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


def one_line_verdict(metric: str | None, headline: Estimate | None, pair: PairwiseSummary | None,
             power: list[Power]) -> str:
    """"Beats" only when the headline CI excludes no-difference (0.5 win rate, 0 score gap)."""
    if headline is None or metric is None:
        return "no scored items: nothing to decide"
    null = 0.5 if pair else 0.0
    n = headline.n
    if metric == "LC win rate" and pair and not pair.length_controlled.identified:
        raw = pair.win_rate
        return (f"undetermined at n = {n}: the judge preferred the longer answer on every item, so quality cannot "
                f"be told from length (raw win rate {raw.estimate:.2f} [{raw.ci_low:.2f}, {raw.ci_high:.2f}] is "
                f"length-confounded)")
    if not headline.excludes(null):
        wanted = "win_rate" if pair else "score_difference"
        mde = next((p.minimum_detectable_difference for p in power if p.metric == wanted), None)
        if mde is None:
            return f"no detectable difference at n = {n} (too few items to estimate uncertainty)"
        return f"no detectable difference at n = {n} (±{mde:.2f})"
    if n < MIN_ITEMS_FOR_VERDICT:
        return (f"too few items to claim a difference: n = {n}; a bootstrap interval needs at least "
                f"{MIN_ITEMS_FOR_VERDICT} items to mean anything (see 'power' for how many you need)")
    direction = "candidate beats baseline" if headline.ci_low > null else "baseline beats candidate"
    if pair:
        p = pair.win_rate.p_value
        figure = f"{headline.estimate:.2f} [{headline.ci_low:.2f}, {headline.ci_high:.2f}]"
    else:
        p = headline.p_value
        figure = f"{headline.estimate:+.2f} [{headline.ci_low:+.2f}, {headline.ci_high:+.2f}]"
    line = f"{direction}: {metric} {figure}, {_fmt_p(p)}, n = {n}"
    if pair and pair.position.position_consistency is not None:
        line += f", position consistency {pair.position.position_consistency.estimate:.2f}"
    return line
