"""Base vs tuned over every shared (task, filter, metric): the one home of a benchmark comparison.

Per row: paired when both arms logged samples for the task (McNemar for 0/1 metrics, bootstrap +
Wilcoxon otherwise), a stratified bootstrap for groups whose subtasks all have samples, else the
unpaired z test from the results files (and Fisher's exact test when acc × n gives counts and n is
small). Then Holm across rows (the gate), BH (exploration), TOST against the margin, and the MDD."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from judge_service.benchmarks import decisions, paired, parity, unpaired
from judge_service.benchmarks.model import BenchmarkRun
from judge_service.errors import InvalidInput
from judge_service.stats.estimate import Estimate, finite_or_none

SMALL_N = 1000  # below this, acc × n counts get an exact test (HumanEval has 164 problems)
PERPLEXITY_WORDS = ("perplexity", "bits_per_byte", "loss")


@dataclass(frozen=True)
class Warning_:
    code: str
    message: str
    task: str | None = None


@dataclass
class Row:
    task: str
    filter: str
    metric: str
    kind: str  # "task" | "group"
    base: float
    tuned: float
    difference: Estimate  # tuned − base, metric scale
    improvement: float  # oriented: > 0 is better
    higher_is_better: bool
    method: str
    margin: float
    margin_basis: str
    p_value: float | None = None
    p_holm: float | None = None
    p_bh: float | None = None
    tost_p: float | None = None
    mdd: float | None = None
    se: float | None = None
    status: str = "inconclusive"
    base_only: int | None = None
    tuned_only: int | None = None
    wilcoxon_p: float | None = None
    correlation_needed: float | None = None
    exact_p: float | None = None
    note: str | None = None


@dataclass
class Comparison:
    base: str
    tuned: str
    rows: list[Row]
    parity: parity.Parity
    warnings: list[Warning_] = field(default_factory=list)
    alpha: float = 0.05
    margin: float = 0.01

    @property
    def gate_failed(self) -> bool:
        """A Holm-significant regression whose point estimate is beyond the margin."""
        return any(r.status == "regressed" and r.improvement < -r.margin for r in self.rows)

    def to_dict(self) -> dict[str, Any]:
        rows = []
        for r in self.rows:
            d = asdict(r)
            d["difference"] = r.difference.to_dict()
            rows.append({k: (finite_or_none(v) if isinstance(v, float) else v) for k, v in d.items()})
        counts = {s: sum(r.status == s for r in self.rows) for s in ("improved", "regressed", "equivalent", "inconclusive")}
        return {"base": self.base, "tuned": self.tuned, "alpha": self.alpha, "margin": self.margin, "rows": rows,
                "counts": counts, "gate_failed": self.gate_failed,
                "parity": {"ok": self.parity.ok, "valid": self.parity.valid,
                           "findings": [asdict(f) for f in self.parity.findings]},
                "warnings": [asdict(w) for w in self.warnings]}


def _margin(metric: str, base: float, tuned: float, margin: float) -> tuple[float, str]:
    """``margin`` is in points of a [0, 1] score (0.01 = 1 point). A 0–100 score gets ×100; a
    perplexity-type metric (unbounded) gets a relative margin, ``margin`` × the base value."""
    if any(w in metric for w in PERPLEXITY_WORDS) or max(abs(base), abs(tuned)) > 100:
        return margin * abs(base), "relative to base"
    if max(abs(base), abs(tuned)) > 1:
        return margin * 100, "points on a 0-100 scale"
    return margin, "points on a 0-1 scale"


def compare(base: BenchmarkRun, tuned: BenchmarkRun, *, tasks: list[str] | None = None, margin: float = 0.01,
            alpha: float = 0.05, seed: str = "benchmarks", n_resamples: int = 2000) -> Comparison:
    warnings: list[Warning_] = []
    all_tasks = sorted({t for t, _ in base.results} | {t for t, _ in tuned.results})
    if tasks:
        unknown = [t for t in tasks if t not in all_tasks]
        if unknown:
            raise InvalidInput(f"tasks {unknown} are in neither arm; known tasks: {all_tasks}", field="tasks")
        all_tasks = [t for t in all_tasks if t in tasks]
    for t in all_tasks:
        for arm, other in ((base, tuned), (tuned, base)):
            if not any(k[0] == t for k in arm.results):
                warnings.append(Warning_("task_missing_in_arm", f"task '{t}' is in {other.label} only; it is listed "
                                         f"but not compared", t))
    shared = [t for t in all_tasks if any(k[0] == t for k in base.results) and any(k[0] == t for k in tuned.results)]
    par = parity.check(base, tuned, shared)
    if base.settings.get("limit") or tuned.settings.get("limit"):
        warnings.append(Warning_("limit_set", f"limit is set ({base.settings.get('limit')} / "
                                 f"{tuned.settings.get('limit')}): scores are on the first docs only, not the benchmark"))
    rows: list[Row] = []
    for key in sorted(set(base.results) & set(tuned.results)):
        task, filt = key
        if task not in shared:
            continue
        for metric in sorted(set(base.results[key]) | set(tuned.results[key])):
            if metric not in base.results[key] or metric not in tuned.results[key]:
                warnings.append(Warning_("metric_missing_in_arm", f"task '{task}' metric '{metric}' ({filt}) is in one "
                                         "arm only", task))
                continue
            rows.append(_row(base, tuned, key, metric, margin, alpha, seed, n_resamples, warnings))
    _decide(rows, alpha)
    return Comparison(base.label, tuned.label, rows, par, warnings, alpha, margin)


def _hib(base: BenchmarkRun, task: str, metric: str) -> bool:
    info = base.tasks.get(task)
    if info and metric in info.higher_is_better:
        return info.higher_is_better[metric]
    return not any(w in metric for w in PERPLEXITY_WORDS)


def _row(base: BenchmarkRun, tuned: BenchmarkRun, key: tuple[str, str], metric: str, margin: float, alpha: float,
         seed: str, n_resamples: int, warnings: list[Warning_]) -> Row:
    task, filt = key
    vb, vt = base.results[key][metric], tuned.results[key][metric]
    hib = _hib(base, task, metric)
    m, basis = _margin(metric, vb.value, vt.value, margin)
    kind = "group" if task in base.groups else "task"
    n = (base.tasks[task].n_effective or 0) if task in base.tasks else 0
    row_seed = f"{seed}|{task}|{filt}|{metric}"
    common = dict(task=task, filter=filt, metric=metric, kind=kind, base=vb.value, tuned=vt.value,
                  higher_is_better=hib, margin=m, margin_basis=basis)
    pairs = _pairs(base, tuned, key, metric)
    if pairs is not None:
        b_vals, t_vals = pairs
        if paired.is_binary(b_vals) and paired.is_binary(t_vals):
            mc = paired.mcnemar_exact(b_vals, t_vals, 1 - alpha)
            return Row(difference=mc.difference, improvement=decisions.improvement(mc.difference.estimate or 0.0, hib),
                       method="paired: McNemar exact", p_value=mc.difference.p_value, se=mc.se,
                       base_only=mc.base_only, tuned_only=mc.tuned_only, **common)  # type: ignore[arg-type]
        bs = paired.paired_bootstrap(b_vals, t_vals, seed=row_seed, n_resamples=n_resamples, confidence=1 - alpha)
        return Row(difference=bs.difference, improvement=decisions.improvement(bs.difference.estimate or 0.0, hib),
                   method="paired: bootstrap", p_value=bs.difference.p_value, se=bs.se, wilcoxon_p=bs.wilcoxon_p,
                   **common)  # type: ignore[arg-type]
    strata = _group_strata(base, tuned, task, filt, metric) if kind == "group" else None
    if strata is not None:
        sb = paired.stratified_bootstrap([s for s, _ in strata], [w for _, w in strata], seed=row_seed,
                                         n_resamples=n_resamples, confidence=1 - alpha)
        return Row(difference=sb.difference, improvement=decisions.improvement(sb.difference.estimate or 0.0, hib),
                   method="paired: stratified bootstrap (subtasks weighted by size)", p_value=sb.difference.p_value,
                   se=sb.se, **common)  # type: ignore[arg-type]
    delta = vt.value - vb.value
    if vb.stderr is None or vt.stderr is None:
        warnings.append(Warning_("stderr_unavailable", f"task '{task}' metric '{metric}': stderr is \"N/A\" in "
                                 f"{base.label if vb.stderr is None else tuned.label}; no test without per-sample files",
                                 task))
        return Row(difference=Estimate(delta, None, None, n, reason="stderr N/A and no samples"),
                   improvement=decisions.improvement(delta, hib), method="none (stderr N/A)",
                   note="send --log_samples files of both arms for a paired test", **common)  # type: ignore[arg-type]
    z = unpaired.z_test(vb.value, vb.stderr, vt.value, vt.stderr, n, 1 - alpha, alpha)
    row = Row(difference=z.difference, improvement=decisions.improvement(delta, hib),
              method="unpaired: z (conservative)", p_value=z.difference.p_value, se=z.se,
              correlation_needed=z.correlation_needed, **common)  # type: ignore[arg-type]
    nt = (tuned.tasks[task].n_effective or 0) if task in tuned.tasks else 0
    if kind == "task" and 0 < n < SMALL_N and 0 < nt < SMALL_N and 0 <= vb.value <= 1 and 0 <= vt.value <= 1:
        exact = unpaired.exact_two_proportions(vb.value, vt.value, n, nt)
        if exact is not None:
            row.exact_p = exact[2]
            row.p_value = exact[2]
            row.method = "unpaired: Fisher exact on acc x n counts"
    return row


def _pairs(base: BenchmarkRun, tuned: BenchmarkRun, key: tuple[str, str],
           metric: str) -> tuple[list[float], list[float]] | None:
    a, b = base.samples.get(key), tuned.samples.get(key)
    if not a or not b:
        return None
    docs = sorted(set(a) & set(b), key=lambda d: (len(d), d))
    docs = [d for d in docs if metric in a[d].metrics and metric in b[d].metrics]
    if len(docs) < 2:
        return None
    return [a[d].metrics[metric] for d in docs], [b[d].metrics[metric] for d in docs]


def _group_strata(base: BenchmarkRun, tuned: BenchmarkRun, group: str, filt: str,
                  metric: str) -> list[tuple[tuple[list[float], list[float]], float]] | None:
    strata = []
    for sub in base.groups.get(group, []):
        if (sub, filt) not in base.results or metric not in base.results[(sub, filt)]:
            continue  # a subtask without this metric does not enter lm-eval's aggregate either
        pairs = _pairs(base, tuned, (sub, filt), metric)
        if pairs is None:
            return None
        strata.append((pairs, float(len(pairs[0]))))
    return strata or None


def _decide(rows: list[Row], alpha: float) -> None:
    tested = [r for r in rows if r.p_value is not None and not math.isnan(r.p_value)]
    for r, ph, pb in zip(tested, decisions.holm([r.p_value or 0.0 for r in tested]),
                         decisions.benjamini_hochberg([r.p_value or 0.0 for r in tested])):
        r.p_holm, r.p_bh = ph, pb
    for r in rows:
        if r.se is None or not math.isfinite(r.se):
            continue
        r.mdd = decisions.minimum_detectable_difference(r.se, alpha)
        r.tost_p = decisions.tost(r.difference.estimate or 0.0, r.se, r.margin)
        if r.p_holm is not None and r.p_holm < alpha:
            r.status = "improved" if r.improvement > 0 else "regressed"
        elif r.tost_p < alpha:
            r.status = "equivalent"
