"""``judge bench compare BASE TUNED [CKPT…]``: lm-eval / lighteval results, base vs tuned (and a
checkpoint series), one table with a column per compared arm. Talks to the service (``--url``) or
in-process (``--local``) through ``judge_client``, like every other client command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from judge_client import BenchmarkComparison
from judge_service.cli.common import DEFAULT_URL, ApiKey, AsJson, Local, Url, connect, err, fail, make_table, out, \
    print_json

bench_app = typer.Typer(help="Benchmarks (lm-eval, lighteval): did the fine-tune keep its general capabilities?",
                        no_args_is_help=True)

SYMBOL = {"improved": "improved", "regressed": "REGRESSED", "equivalent": "equivalent", "inconclusive": "inconclusive"}


def _cell(row: object) -> str:
    from judge_client import BenchmarkRow

    assert isinstance(row, BenchmarkRow)
    d = row.difference
    delta = "-" if d.estimate is None else f"{d.estimate:+.4g}"
    ci = "" if d.ci_low is None or d.ci_high is None else f" [{d.ci_low:+.3g}, {d.ci_high:+.3g}]"
    p = "" if row.p_holm is None else f" p_holm={row.p_holm:.2g}"
    return f"{SYMBOL.get(row.status, row.status)} {delta}{ci}{p}"


def print_comparison(result: BenchmarkComparison) -> None:
    arms = [c.tuned for c in result.comparisons]
    keys: list[tuple[str, str, str]] = []
    cells: dict[tuple[str, str, str], dict[str, str]] = {}
    base_values: dict[tuple[str, str, str], float | None] = {}
    for comp in result.comparisons:
        for row in comp.rows:
            key = (row.task, row.metric, row.filter)
            if key not in cells:
                keys.append(key)
                cells[key] = {}
                base_values[key] = row.base
            cells[key][comp.tuned] = _cell(row)
    table = make_table("task", "metric", result.arms[0] if result.arms else "base", *(f"{a} (Δ vs base)" for a in arms), keep=("task", "metric"))
    for key in keys:
        task, metric, filt = key
        base = base_values[key]
        table.add_row(task, metric if filt == "none" else f"{metric} ({filt})", "-" if base is None else f"{base:.4g}",
                      *(cells[key].get(a, "-") for a in arms))
    out.print(table)
    for comp in result.comparisons:
        c = comp.counts
        parity = "parity OK" if comp.parity.ok else "parity MISMATCH"
        out.print(f"{comp.base} -> {comp.tuned}: {c.get('improved', 0)} improved, {c.get('regressed', 0)} regressed, "
                  f"{c.get('equivalent', 0)} equivalent, {c.get('inconclusive', 0)} inconclusive; {parity}"
                  f" (margin {comp.margin:g}, Holm at alpha {comp.alpha:g})")
        for f in comp.parity.findings:
            out.print(f"  parity {f.severity}: {f.message}")
        for w in comp.warnings:
            out.print(f"  warning [{w.code}]: {w.message}")
    out.print(f"stored as {result.id}" + (f", attached to run {result.run_id}" if result.run_id else ""))


@bench_app.command("compare")
def compare(
    base: Annotated[Path, typer.Argument(help="base model: lm-eval output folder, results JSON or zip")],
    tuned: Annotated[Path, typer.Argument(help="tuned model (same forms)")],
    checkpoints: Annotated[list[Path] | None, typer.Argument(help="more checkpoints, compared with base in order")] = None,
    tasks: Annotated[list[str] | None, typer.Option("--tasks", help="only these tasks; repeat the option")] = None,
    margin: Annotated[float, typer.Option(help="equivalence margin: 0.01 = 1 point of a 0-1 score")] = 0.01,
    alpha: Annotated[float, typer.Option(help="level of the Holm gate and of TOST")] = 0.05,
    fail_on_regression: Annotated[bool, typer.Option("--fail-on-regression",
                                                     help="exit 3 on a Holm-significant regression beyond the margin")] = False,
    run_id: Annotated[str | None, typer.Option("--run", help="attach the comparison to this judge run")] = None,
    url: Url = DEFAULT_URL, api_key: ApiKey = None, local: Local = False, as_json: AsJson = False,
) -> None:
    """Compare base with tuned (and each checkpoint): paired tests when samples were logged, a parity check, Holm."""
    for p in [base, tuned, *(checkpoints or [])]:
        if not p.exists():
            fail(f"no file or folder at '{p}'")
    with connect(url, api_key, local) as client:
        result = client.compare_benchmarks(base, tuned, *(checkpoints or []), tasks=tasks, margin=margin, alpha=alpha,
                                           run_id=run_id)
    print_json(result) if as_json else print_comparison(result)
    if fail_on_regression and result.gate_failed:
        err.print("regression gate failed: a Holm-significant regression beyond the margin")
        raise typer.Exit(3)
