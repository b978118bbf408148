"""``build_report``: the run's records in, the ``RunReport`` out (see the package docstring).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from judge_service.bias.probes import ProbeRow, pool_by_judges
from judge_service.errors import InvalidInput
from judge_service.runs.report.absolute import absolute_summary
from judge_service.runs.report.decision import decide, headline_figure, power_analysis
from judge_service.runs.report.extrapolation import control_extrapolation
from judge_service.runs.report.gate import FIX, HumanAgreement, judge_gates
from judge_service.runs.report.inputs import (
    UNSCORED_WARNING, AbsoluteRecord, ItemInfo, PairwiseRecord, ReportOptions,
    index_items, validate_absolute, validate_pairwise,
)
from judge_service.runs.report.pairwise import item_units, pairwise_summary
from judge_service.runs.report.panel import panel_agreement, judge_breakdown, self_preference_flags
from judge_service.runs.report.parity import arm_parity
from judge_service.runs.report.tree import AbsoluteSummary, PairwiseSummary, RunReport, SelfPreference
from judge_service.runs.report.wording import apply_wording, wording_section


def build_report(
    pairwise: list[PairwiseRecord],
    absolute: list[AbsoluteRecord],
    items: list[ItemInfo],
    options: ReportOptions,
    *,
    length_fn: Callable[[str], float] = len,
    human: HumanAgreement | None = None,
    probes: Sequence[ProbeRow] = (),
) -> RunReport:
    """Turn a run's stored verdicts into the decision report (see module docstring).

    ``length_fn`` measures answer length for length control; characters by default. ``human``:
    a calibration's judge-vs-human agreement, a check of the informativeness gate. ``probes``: the
    run's length-probe rows, one per rewrite and judge (pooled here over the judges the headline keeps).
    """
    item_by_id = index_items(items)
    validate_pairwise(pairwise, item_by_id)
    validate_absolute(absolute, item_by_id)
    judges = sorted({r.judge for r in pairwise} | {r.judge for r in absolute})

    flags = self_preference_flags(judges, options)
    excluded = sorted({f["judge"] for f in flags}) if options.exclude_self_preferring else []
    warnings: list[str] = []
    if excluded and len(excluded) == len(judges):
        raise InvalidInput(
            f"every judge ({', '.join(judges)}) shares a family with a system under test; add a judge from "
            "another family or set exclude_self_preferring to false",
            field="exclude_self_preferring",
        )
    for f in flags:
        action = "excluded from every figure" if f["judge"] in excluded else (
            "its verdicts may favour that system; set exclude_self_preferring to drop it")
        warnings.append(f"self-preference: judge '{f['judge']}' is in the {f['system']}'s family "
                        f"'{f['family']}'; {action}")
    kept_pairwise = [r for r in pairwise if r.judge not in excluded]
    kept_absolute = [r for r in absolute if r.judge not in excluded]
    # The informativeness gate: judges whose verdicts follow the layout, not the answers, are kept
    # out of the headline; when no judge passes, the figures stay (for diagnosis) and the verdict
    # is undetermined.
    gates = judge_gates(kept_pairwise, human)
    uninformative = {j for j, g in gates.items() if not g.informative}
    if uninformative and len(uninformative) < len(gates):
        kept_pairwise = [r for r in kept_pairwise if r.judge not in uninformative]
        for j in sorted(uninformative):
            warnings.append(f"uninformative judge excluded from the headline: {gates[j].reason}; {FIX}")
    elif uninformative:
        warnings.append("no judge passes the informativeness gate: "
                        + "; ".join(g.reason or "" for g in gates.values()) + f"; {FIX}")

    kept_probes = pool_by_judges(probes, {r.judge for r in kept_pairwise})
    pair_summary = pairwise_summary(kept_pairwise, item_by_id, options, length_fn, kept_probes)
    abs_summary = absolute_summary(kept_absolute, item_by_id, options, length_fn)
    # Over several rubric variants, the headline intervals include the variance across wordings.
    wording = wording_section(kept_pairwise, kept_absolute, pair_summary, abs_summary, options)
    pair_summary, abs_summary = apply_wording(pair_summary, abs_summary, wording, options)
    if wording is not None:
        for fig in wording.figures:
            warnings.append(f"rubric wording: {fig.widening.share_of_width_from_wording:.0%} of the {fig.figure} interval's "
                            f"width comes from the variance across {len(wording.variants)} variants "
                            f"({', '.join(wording.variants)}); per-variant figures are under 'wording'")
    warnings.extend(_section_warnings(pair_summary, abs_summary))
    if kept_pairwise and pair_summary is None:
        warnings.append(f"all {len(kept_pairwise)} pairwise calls are unscored; no win rate can be computed — "
                        "check the judges' reply format or parser")
    if kept_absolute and (abs_summary is None or abs_summary.score_difference is None):
        warnings.append("no item has scores for both systems from the same judge and sample; no score "
                        "difference can be computed — check for unscored replies")
    parity = arm_parity(items)
    warnings.extend(parity)
    breakdown = [
        dataclasses.replace(judge_breakdown(j, pairwise, absolute, options, flags, excluded), gate=gates.get(j))
        for j in judges
    ]
    agreement = panel_agreement(kept_pairwise, kept_absolute, [j for j in judges if j not in excluded])
    power = power_analysis(pair_summary, abs_summary, options)
    headline_metric, headline = headline_figure(pair_summary, abs_summary)
    extrapolation: list[str] = []
    if pair_summary is not None:
        ids = sorted(item_units(kept_pairwise))
        extrapolation = control_extrapolation(
            [item_by_id[i].candidate_text for i in ids], [item_by_id[i].baseline_text for i in ids],
            style_control=options.style_control, length_fn=length_fn)
        if pair_summary.length_probes is not None:
            # Probes measured the length slope directly: equal length is no longer an extrapolation of
            # the GLM's form along length (style features are not pinned and keep their caution).
            extrapolation = [e for e in extrapolation if " is longer on " not in e]
    verdict, decision = decide(headline_metric, headline, pair_summary, abs_summary, power, gates,
                               options.confidence, extrapolation)
    return RunReport(
        n_items=len(items),
        verdict=verdict,
        headline_metric=headline_metric,
        headline=headline,
        pairwise=pair_summary,
        absolute=abs_summary,
        judges=breakdown,
        agreement=agreement,
        self_preference=SelfPreference(flags, excluded),
        arm_parity=parity,
        power=power,
        warnings=warnings,
        decision=decision,
        wording=wording,
        options={
            "confidence": options.confidence,
            "n_resamples": options.n_resamples,
            "seed": options.seed,
            "style_control": options.style_control,
            "exclude_self_preferring": options.exclude_self_preferring,
            "target_difference": options.target_difference,
            "length_unit": "characters" if length_fn is len else getattr(length_fn, "__name__", "custom"),
        },
    )




def _section_warnings(pair: PairwiseSummary | None, absolute: AbsoluteSummary | None) -> list[str]:
    out: list[str] = []
    if pair:
        out.extend(pair.length_controlled.warnings)
        if pair.style_controlled:
            out.extend(pair.style_controlled.warnings)
        total = pair.n_scored_calls + pair.n_unscored_calls
        if pair.n_unscored_calls > UNSCORED_WARNING * total:
            out.append(f"{pair.n_unscored_calls} of {total} pairwise calls were unscored (excluded, not counted as "
                       "ties); check the judge's reply format or parser before trusting the figures")
    if absolute:
        if absolute.length:
            out.extend(absolute.length.warnings)
        named = ([("score", absolute.score_difference)] if absolute.score_difference else []) + list(
            absolute.criteria.items())
        out.extend(f"{name}: {diff.note}" for name, diff in named if diff.note)
    return out
