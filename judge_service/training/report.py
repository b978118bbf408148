"""One analysis, top to bottom: bundle → flags → curve analysis per eval series → counterfactual
early stopping → epoch advice → external figures → a JSON-ready dict (stored, served, charted)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from judge_service.errors import InvalidInput
from judge_service.stats.estimate import Estimate
from judge_service.training.bundle import LogBundle
from judge_service.training.checks import EVAL_ADVICE, Flag, eval_series_names, log_flags, series_flags
from judge_service.training.curve import CurveAnalysis, analyse_curve
from judge_service.training.early_stopping import counterfactual_grid, epoch_advice
from judge_service.training.external import checkpoint_step, compare_external, lower_is_better
from judge_service.training.paired import compare_checkpoints
from judge_service.training.series import TRAIN_LOSS

VERDICTS = ("overfitting", "possible_overfitting", "plateau", "no_overfitting", "diverging", "cannot_judge")
CHART_POINTS = 1500


def choose_metric(bundle: LogBundle, metric: str | None, eval_set: str | None) -> str | None:
    names = eval_series_names(bundle)
    if eval_set:
        wanted = f"eval_{eval_set}_loss" if metric in (None, "eval_loss") else metric.replace("eval_", f"eval_{eval_set}_", 1)
        if wanted not in bundle.log.series:
            raise InvalidInput(f"no series '{wanted}' for eval set '{eval_set}'; the log has {names or 'no eval series'}",
                               field="eval_set")
        return wanted
    if metric:
        name = metric if metric.startswith("eval_") or metric in bundle.log.series else f"eval_{metric}"
        if name not in bundle.log.series:
            raise InvalidInput(f"metric '{metric}' is not in the log; it has {names or 'no eval series'}", field="metric")
        return name
    losses = [n for n in names if n.endswith("loss")]
    return "eval_loss" if "eval_loss" in losses else (losses[0] if losses else (names[0] if names else None))


def _curve_dict(a: CurveAnalysis) -> dict[str, Any]:
    out = asdict(a)
    if a.onset is not None:
        out["onset"]["interval"] = list(a.onset.interval)
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in out.items()}


def analyse(bundle: LogBundle, *, metric: str | None = None, eval_set: str | None = None,
            greater_is_better: bool | None = None,
            checkpoints: Mapping[str, Mapping[str, Estimate]] | None = None,
            per_example: Mapping[str, Sequence[float]] | None = None) -> dict[str, Any]:
    flags: list[Flag] = log_flags(bundle)
    name = choose_metric(bundle, metric, eval_set)
    train = bundle.log.series.get(TRAIN_LOSS)
    train_steps, train_values = (train.steps, train.values) if train else ([], [])
    result: dict[str, Any] = {"metric": name, "formats": bundle.formats, "sources": bundle.sources, "notes": bundle.notes,
                              "series": {n: len(s.points) for n, s in bundle.log.series.items()},
                              "primary": None, "secondary": [], "early_stopping": [], "epoch_advice": None,
                              "external": [], "paired": None, "disagreements": []}
    if name is None:
        flags.append(Flag("no_eval_series", "error", "the log has no eval series, only train curves; overfitting is "
                          "seen on held-out data, so it cannot be judged. " + EVAL_ADVICE))
        return _finish(result, flags, "cannot_judge", ["no eval series"], train_steps, train_values, [], bundle)
    series = bundle.log.series[name]
    flags += series_flags(bundle, name, series)
    higher = (not lower_is_better(name)) if greater_is_better is None else greater_is_better
    diverging = None
    for key in (name, TRAIN_LOSS):
        bad = bundle.log.non_finite.get(key)
        if bad:
            diverging = f"{key} became NaN/inf at step {bad[0]}: the run diverged (instability, not overfitting)"
    if train and len(train.points) >= 10 and not diverging:
        tail = train.values[-max(3, len(train.values) // 10):]
        if min(tail) > 3 * min(train.values) and min(train.values) > 0:
            diverging = f"the train loss ended {min(tail) / min(train.values):.1f}× above its minimum: the run blew up"
    analysis = analyse_curve(name, series.steps, series.values, [p.epoch for p in series.points],
                             greater_is_better=higher, train_steps=train_steps, train_loss=train_values,
                             diverging_reason=diverging)
    eval_chart = [[p.step, p.value] for p in series.points]
    if analysis is None or any(f.severity == "error" for f in flags):
        return _finish(result, flags, "cannot_judge", [f.message for f in flags if f.severity == "error"],
                       train_steps, train_values, eval_chart, bundle)
    result["primary"] = _curve_dict(analysis)
    result["early_stopping"] = [asdict(o) for o in counterfactual_grid(
        series.steps, series.values, greater_is_better=higher, band=analysis.band_threshold,
        thresholds=(0.0, 0.001, 0.01, round(analysis.noise_sd, 6)))]
    lr = bundle.log.series.get("learning_rate")
    earliest_epoch = next((p.epoch for p in series.points if p.step == analysis.earliest_equivalent_step), None)
    result["epoch_advice"] = asdict(epoch_advice(
        earliest_step=analysis.earliest_equivalent_step, earliest_epoch=earliest_epoch, best_epoch=analysis.best_epoch,
        last_step=analysis.last_step, verdict=analysis.verdict,
        lr_steps=lr.steps if lr else [], lr_values=lr.values if lr else []))
    for other in eval_series_names(bundle):
        if other == name:
            continue
        s = bundle.log.series[other]
        sec = analyse_curve(other, s.steps, s.values, [p.epoch for p in s.points],
                            greater_is_better=not lower_is_better(other), train_steps=train_steps, train_loss=train_values)
        if sec is None:
            continue
        result["secondary"].append(_curve_dict(sec))
        if sec.best_step not in analysis.band_steps and analysis.best_step not in sec.band_steps:
            result["disagreements"].append(
                f"{other} is best at step {sec.best_step} ({sec.verdict}), outside the {name} band "
                f"({analysis.band_steps[0]}–{analysis.band_steps[-1]}), and its value at the {name}-best step "
                f"{analysis.best_step} is outside its own band: judge the checkpoint by the metric you ship for")
    if bundle.meta.best_metric is not None:
        owner = next((n for n, s in bundle.log.series.items() if any(abs(v - bundle.meta.best_metric) < 1e-9 * max(1, abs(v))
                                                                    for v in s.values)), None)
        if owner and owner != name:
            flags.append(Flag("best_metric_is_other_metric", "info",
                              f"the Trainer's best_metric ({bundle.meta.best_metric:.6g}, "
                              f"{bundle.meta.best_model_checkpoint}) is {owner}, not {name}"))
    last_result = bundle.results.get(name)
    if last_result is not None and abs(last_result - series.values[-1]) > 1e-6 * max(1.0, abs(last_result)):
        flags.append(Flag("results_mismatch", "info",
                          f"*_results.json has {name} {last_result:.6g} but the last logged point is "
                          f"{series.values[-1]:.6g}: with load_best_model_at_end the final evaluation is of the restored "
                          "best checkpoint, or the results come from another run"))
    if checkpoints:
        figures = {checkpoint_step(label): dict(named) for label, named in checkpoints.items()}
        for comparison in compare_external(figures, loss_best_step=analysis.best_step, loss_metric=name):
            result["external"].append({"metric": comparison.metric, "higher_is_better": comparison.higher_is_better,
                                       "points": [{"step": s, "figure": e.to_dict()} for s, e in comparison.points],
                                       "best_step": comparison.best_step, "at_loss_best_step": comparison.at_loss_best_step,
                                       "disagrees": comparison.disagrees, "note": comparison.note})
            if comparison.disagrees:
                result["disagreements"].append(comparison.note)
    if per_example:
        if len(per_example) != 2:
            raise InvalidInput("per_example takes exactly two checkpoints: {\"checkpoint-A\": [...], \"checkpoint-B\": [...]}",
                               field="per_example")
        (a, la), (b, lb) = per_example.items()
        paired = compare_checkpoints(a, la, b, lb, lower_is_better=not higher)
        result["paired"] = {"a": paired.a, "b": paired.b, "n": paired.n, "mean_a": paired.mean_a, "mean_b": paired.mean_b,
                            "difference": paired.difference.to_dict(), "verdict": paired.verdict}
    return _finish(result, flags, analysis.verdict, analysis.reasons, train_steps, train_values, eval_chart, bundle)


def _finish(result: dict[str, Any], flags: list[Flag], verdict: str, reasons: list[str], train_steps: Sequence[int],
            train_values: Sequence[float], eval_chart: list[list[float]], bundle: LogBundle) -> dict[str, Any]:
    stride = max(1, len(train_steps) // CHART_POINTS)
    result["verdict"] = verdict
    result["reasons"] = reasons
    result["flags"] = [asdict(f) for f in flags]
    result["start_up_spike"] = any(f.code == "start_up_spike" for f in flags)
    result["chart"] = {"eval": eval_chart,
                       "train": [[s, v] for s, v in list(zip(train_steps, train_values))[::stride]]}
    return result


def summary_text(result: dict[str, Any]) -> str:
    """The plain-text report the CLI prints and ``--html`` embeds."""
    lines = [f"verdict: {result['verdict']}  (metric: {result.get('metric')})"]
    lines += [f"  {r}" for r in result.get("reasons", [])]
    p = result.get("primary")
    if p:
        lines.append(f"best: step {p['best_step']} ({p['best_value']:.6g}); noise sd {p['noise_sd']:.3g}, band ±{p['band_threshold']:.3g}; "
                     f"equivalent checkpoints {p['band_steps'][0]}–{p['band_steps'][-1]} ({len(p['band_steps'])}); "
                     f"earliest equivalent: step {p['earliest_equivalent_step']}")
        if p.get("onset"):
            o = p["onset"]
            lines.append(f"onset: step {o['step']} (between {o['interval'][0]} and {o['interval'][1]})")
    advice = result.get("epoch_advice")
    if advice:
        lines.append(f"advice: {advice['advice']}")
        if advice.get("lr_caveat"):
            lines.append(f"  caveat: {advice['lr_caveat']}")
    for f in result.get("flags", []):
        lines.append(f"flag {f['code']} ({f['severity']}): {f['message']}")
    for d in result.get("disagreements", []):
        lines.append(f"disagreement: {d}")
    stops = [o for o in result.get("early_stopping", []) if o["threshold"] == 0.0]
    if stops:
        lines.append("HF EarlyStoppingCallback (threshold 0): " + "; ".join(
            f"patience {o['patience']}: " + ("never stops" if o["stopped_at_step"] is None else f"stops at {o['stopped_at_step']}")
            + f", restores {o['restored_step']}" + (" (misses the best)" if o["missed_best"] else "") for o in stops))
    return "\n".join(lines)
