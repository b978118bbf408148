"""Each layer's stored result → its ``LayerVerdict``: a status and a headline carrying figure, CI and n.

The adapters read the layers' own answers (what their endpoints return), so an evaluation shows
exactly the figures a user would see from each layer alone, and a layer's wording never drifts
between its own report and the combined one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from judge_service.evaluation.summary import LayerVerdict


def _interval(e: Mapping[str, Any] | None, fmt: str = ".2f") -> str:
    if not e or e.get("estimate") is None:
        return "n/a"
    lo, hi = e.get("ci_low"), e.get("ci_high")
    ci = f" [{lo:{fmt}}, {hi:{fmt}}]" if lo is not None and hi is not None else ""
    return f"{e['estimate']:{fmt}}{ci}, n = {e.get('n')}"


def judge_layer(report: Mapping[str, Any]) -> LayerVerdict:
    """From a run report (``GET /v1/runs/{id}/report``)."""
    verdict = str(report.get("verdict", ""))
    decision = report.get("decision")
    if not report.get("complete", True):
        progress = report.get("progress") or {}
        return LayerVerdict("judge", "cannot_judge", verdict,
                            reason=f"the judge run is still running ({progress.get('done', 0)} of "
                                   f"{progress.get('total', '?')} items done)", action="wait, then read again")
    headline = f"{report.get('headline_metric') or 'headline'} {_interval(report.get('headline'))}"
    # Imported judges (FastChat's GPT-4 verdicts, ...) are named beside the panel's figure, never as it.
    for external in report.get("external_judges") or []:
        where = "in the panel" if external.get("in_panel") else "beside the panel"
        headline += (f"; {external.get('judge')} (imported, not re-run, {where}): win rate "
                     f"{_interval(external.get('win_rate'))}")
    status: str | None = None
    if isinstance(decision, Mapping) and isinstance(decision.get("outcome"), str):
        status = {"candidate_beats": "better", "baseline_beats": "worse", "no_difference": "inconclusive",
                  "undetermined": "cannot_judge", "nothing_to_decide": "cannot_judge"}.get(decision["outcome"])
    if status is None:
        if verdict.startswith("candidate beats baseline"):
            status = "better"
        elif verdict.startswith("baseline beats candidate"):
            status = "worse"
        elif verdict.startswith("no detectable difference"):
            status = "inconclusive"
        else:
            status = "cannot_judge"
    reason = verdict if status == "cannot_judge" else None
    return LayerVerdict("judge", status, headline, reason=reason)  # type: ignore[arg-type]


def perplexity_layer(result: Mapping[str, Any]) -> LayerVerdict:
    """From a base-vs-tuned perplexity comparison (``POST /v1/metrics/perplexity`` with two models).

    Lower perplexity on held-out text is a sanity check, not a win: "better" here only means the
    fine-tune did not break the model's language modelling, so a drop maps to ``equivalent``-or-
    better and only a significant rise is a failing layer.
    """
    comparison = result.get("comparison") or result
    difference = comparison.get("difference") if isinstance(comparison, Mapping) else None
    if not isinstance(difference, Mapping) or difference.get("estimate") is None:
        return LayerVerdict("perplexity", "cannot_judge", "no base-vs-tuned comparison",
                            reason="send held-out texts with both base_model and tuned_model")
    measure = comparison.get("measure", "log_perplexity")
    headline = f"Δ {measure} (tuned − base) {_interval(difference, '+.3f')}"
    lo, hi = difference.get("ci_low"), difference.get("ci_high")
    if lo is not None and lo > 0:
        return LayerVerdict("perplexity", "worse", headline + " — held-out perplexity went up",
                            action="check the fine-tune for a broken tokenizer, chat template or catastrophic forgetting")
    if hi is not None and hi < 0:
        return LayerVerdict("perplexity", "better", headline)
    return LayerVerdict("perplexity", "equivalent" if lo is not None else "inconclusive", headline)


def task_metrics_layer(result: Mapping[str, Any], primary: str | None = None) -> LayerVerdict:
    """From an overlap-metrics comparison (``POST /v1/metrics/overlap`` with ``predictions_b`` = tuned).

    ``primary`` names the metric the user cares about; without it, every metric counts and a
    significant loss on any of them is a failing layer.
    """
    paired = result.get("paired") or {}
    if not isinstance(paired, Mapping) or not paired:
        return LayerVerdict("task_metrics", "cannot_judge", "no paired comparison",
                            reason="send the tuned model's predictions as predictions_b")
    names = [primary] if primary and primary in paired else sorted(paired)
    parts, statuses = [], []
    for name in names:
        p = paired[name]
        lo, hi = p.get("ci_low"), p.get("ci_high")
        ci = f" [{lo:+.3f}, {hi:+.3f}]" if lo is not None and hi is not None else ""
        parts.append(f"{name} Δ {p.get('difference'):+.3f}{ci}, n = {p.get('n')}")
        up = lo is not None and lo > 0
        down = hi is not None and hi < 0
        if not p.get("higher_is_better", True):
            up, down = down, up
        statuses.append("better" if up else "worse" if down else "inconclusive")
    status = "worse" if "worse" in statuses else "better" if "better" in statuses else "inconclusive"
    return LayerVerdict("task_metrics", status, "; ".join(parts))  # type: ignore[arg-type]


def benchmarks_layer(comparison: Mapping[str, Any]) -> LayerVerdict:
    """From a benchmark comparison (``POST /v1/benchmark-comparisons``): base against the last arm.

    The regression gate is that comparison's own (Holm-significant and beyond the margin); rows
    are named, worst first, so the line says which capability was lost.
    """
    pairs = comparison.get("comparisons") or []
    if not pairs:
        return LayerVerdict("benchmarks", "cannot_judge", "no comparison rows")
    pair = pairs[-1]
    rows = pair.get("rows") or []
    counts = pair.get("counts") or {}
    regressed = [r for r in rows if r.get("status") == "regressed"]
    improved = [r for r in rows if r.get("status") == "improved"]

    def row_text(r: Mapping[str, Any]) -> str:
        d = r.get("difference") or {}
        p = r.get("p_holm")
        return (f"{r['task']} {r['metric']} {d.get('estimate', float('nan')):+.3f}"
                + (f" (Holm p = {p:.2g})" if p is not None else ""))

    summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()) if n)
    if not pair.get("parity", {}).get("valid", True):
        return LayerVerdict("benchmarks", "cannot_judge", summary, reason="the two arms did not run the same documents")
    if pair.get("gate_failed") or regressed:
        worst = sorted(regressed, key=lambda r: (r.get("p_holm") or 1.0))[:3]
        return LayerVerdict("benchmarks", "worse", f"{summary}; " + "; ".join(row_text(r) for r in worst),
                            action="look at what the fine-tune lost before shipping it")
    if improved:
        return LayerVerdict("benchmarks", "better", f"{summary}; " + "; ".join(row_text(r) for r in improved[:3]))
    if rows and all(r.get("status") == "equivalent" for r in rows):
        return LayerVerdict("benchmarks", "equivalent", f"{summary} (no change beyond the margin)")
    return LayerVerdict("benchmarks", "inconclusive", summary)


def overlap_layer(regurgitation: Mapping[str, Any] | None, contamination: Mapping[str, Any] | None) -> LayerVerdict:
    """From regurgitation and/or contamination reports (``/v1/regurgitation``, ``/v1/contamination``).

    Copying is a concern when the tuned model's rate of copied answers is significantly above the
    base's (McNemar), or, without a base, when any answer copies 50+ tokens; contamination is a
    concern whenever eval items are found in the training set (their figures are recall).
    """
    parts: list[str] = []
    reasons: list[str] = []
    if regurgitation:
        tuned = (regurgitation.get("tuned") or {}).get("any_copy") or {}
        rate = tuned.get("estimate")
        if rate is not None:
            parts.append(f"{100 * rate:.1f}% of answers copy training text (n = {tuned.get('n')})")
        comparison = (regurgitation.get("comparison") or {}).get("any_copy")
        if comparison:
            d = comparison["difference"]
            base_rate = comparison["base"].get("estimate")
            parts.append(f"base {100 * (base_rate or 0):.1f}%; Δ {_interval(d, '+.3f')}")
            if d.get("ci_low") is not None and d["ci_low"] > 0:
                reasons.append("the fine-tune copies training text more often than the base")
        elif ((regurgitation.get("tuned") or {}).get("regurgitation") or {}).get("estimate"):
            reasons.append("answers copy 50+ tokens of training text")
    if contamination:
        n_dirty, n = contamination.get("contaminated", 0), contamination.get("n", 0)
        parts.append(f"{n_dirty} of {n} eval items found in the training set")
        if n_dirty:
            reasons.append(f"{n_dirty} eval items are in the training set: their figures measure recall; "
                           "report the clean subset")
    if not parts:
        return LayerVerdict("overlap", "cannot_judge", "no regurgitation or contamination report")
    return LayerVerdict("overlap", "concern" if reasons else "ok", "; ".join(parts),
                        reason="; ".join(reasons) or None,
                        action="drop the copied or leaked items from training or evaluation" if reasons else None)


_TRAINING = {"overfitting": "concern", "possible_overfitting": "concern", "diverging": "concern",
             "plateau": "ok", "no_overfitting": "ok", "cannot_judge": "cannot_judge"}


def training_layer(analysis: Mapping[str, Any]) -> LayerVerdict:
    """From a training-log analysis (``POST /v1/training-logs/analyses``)."""
    verdict = str(analysis.get("verdict"))
    primary = analysis.get("primary") or {}
    headline = verdict
    if primary.get("best_step") is not None:
        headline += f"; best {analysis.get('metric')} {primary['best_value']:.4g} at step {primary['best_step']}"
    status = _TRAINING.get(verdict, "cannot_judge")
    reasons = analysis.get("reasons") or []
    advice = (analysis.get("epoch_advice") or {}).get("advice")
    return LayerVerdict("training", status, headline,  # type: ignore[arg-type]
                        reason="; ".join(reasons) if status != "ok" and reasons else None, action=advice)
