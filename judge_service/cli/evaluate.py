"""``judge evaluate eval.yaml``: run the layers you have, then one evaluation with one verdict.

eval.yaml (every layer optional; paths relative to the file)::

    name: sft-v1
    baseline: base
    candidate: tuned
    eval_set: {name: support-qa, items: items.jsonl, note: "first 200 prompts"}   # saved as a version
    judge: {items: outputs.jsonl, rubric: helpfulness, judges: [gpt-4o, claude], mode: pairwise,
            rubric_variants: [default, errors],   # optional: a panel over wordings
            execution: batch}   # optional: direct | batch | auto, or {judge: mode} (README: batch mode)
    training: {logs: [output_dir/], metric: eval_loss}
    benchmarks: {base: lm_eval_out/base/, tuned: lm_eval_out/tuned/, margin: 0.01}
    perplexity: {texts: heldout.jsonl, base_model: ./base, tuned_model: ./tuned}
    task_metrics: {references: refs.jsonl, baseline_predictions: base.jsonl, candidate_predictions: tuned.jsonl,
                   metrics: [rouge1, token_f1], primary: token_f1}

Exit code: 0 when the verdict is ``better`` or ``no_difference``, 3 for ``regression``, ``mixed``
or ``worse``, 5 for ``undetermined``; 1 is an error.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from judge_client import Evaluation, JudgeClient
from judge_service.cli.common import DEFAULT_URL, ApiKey, AsJson, Local, Url, connect, fail, make_table, out, print_json

EXIT = {"better": 0, "no_difference": 0, "regression": 3, "mixed": 3, "worse": 3, "undetermined": 5}


def _lines(path: Path, key: str | None = None) -> list[Any]:
    """A JSONL file (one value or object per line; ``key`` picks a field) or a plain text file (one per line)."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError:
            value = line
        rows.append(value[key] if key and isinstance(value, dict) else value)
    return rows


def _spec(path: Path) -> dict[str, Any]:
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        fail(f"{path} is not valid YAML ({type(e).__name__}); see `judge evaluate --help` for the layout")
    if not isinstance(spec, dict) or not {"baseline", "candidate"} <= set(spec):
        fail(f"{path} must be a mapping with baseline, candidate and the layers you have")
    return dict(spec)


def run_layers(client: JudgeClient, spec: dict[str, Any], root: Path, timeout: float | None) -> Evaluation:
    base, cand = spec["baseline"], spec["candidate"]
    eval_set = None
    if spec.get("eval_set"):
        es = spec["eval_set"]
        saved = client.save_eval_set(es["name"], root / es["items"], note=es.get("note"))
        eval_set = (saved.name, saved.version)
        out.print(f"eval set {saved.name} v{saved.version}: {saved.changes}")
    run_id = None
    if spec.get("judge"):
        j = spec["judge"]
        # The run names the eval-set version, so its items are checked against it (ids and prompts).
        created = client.upload_run(root / j["items"], baseline=base, candidate=cand, rubric=j["rubric"],
                                    judges=j.get("judges"), mode=j.get("mode", "pairwise"),
                                    rubric_variants=j.get("rubric_variants"),
                                    execution=j.get("execution"), batch_min_calls=j.get("batch_min_calls"),
                                    eval_set=None if eval_set is None else {"name": eval_set[0], "version": eval_set[1]})
        run_id = created.id
        status = client.wait_for_run(run_id, timeout=timeout)
        out.print(f"judge run {run_id}: {status.status}")
    analysis_id = None
    if spec.get("training"):
        t = spec["training"]
        analysis = client.analyze_training_logs([root / p for p in t["logs"]], metric=t.get("metric"),
                                                eval_set=t.get("eval_set"))
        analysis_id = analysis.id
        out.print(f"training logs: {analysis.verdict}")
    comparison_id = None
    if spec.get("benchmarks"):
        b = spec["benchmarks"]
        comparison = client.compare_benchmarks(root / b["base"], root / b["tuned"], margin=b.get("margin"),
                                               run_id=run_id)
        comparison_id = comparison.id
        out.print(f"benchmarks: {'regression' if comparison.gate_failed else 'no gated regression'}")
    # Perplexity and task metrics travel as requests: the service computes them with the evaluation
    # (server-side orchestration), so the figures come from one place and one request.
    layers: dict[str, Any] = {}
    if run_id is not None:
        layers["judge"] = {"run_id": run_id}
    if analysis_id is not None:
        layers["training"] = {"analysis_id": analysis_id}
    if comparison_id is not None:
        layers["benchmarks"] = {"comparison_id": comparison_id}
    if spec.get("perplexity"):
        p = spec["perplexity"]
        layers["perplexity"] = {"request": {k: v for k, v in {
            "texts": _lines(root / p["texts"], p.get("field", "text")), "base_model": p["base_model"],
            "tuned_model": p["tuned_model"], "base_url": p.get("base_url")}.items() if v is not None}}
    if spec.get("task_metrics"):
        m = spec["task_metrics"]
        request = {"predictions": _lines(root / m["baseline_predictions"], m.get("field")),
                   "references": _lines(root / m["references"], m.get("field")),
                   "predictions_b": _lines(root / m["candidate_predictions"], m.get("field"))}
        if m.get("metrics"):
            request["metrics"] = m["metrics"]
        layers["task_metrics"] = {"request": request} | ({"primary": m["primary"]} if m.get("primary") else {})
    return client.create_evaluation(baseline=base, candidate=cand, name=spec.get("name"), layers=layers,
                                    eval_set=eval_set)


def evaluate(
    spec_path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="eval.yaml (see `judge evaluate --help`)")],
    html_out: Annotated[Path | None, typer.Option("--html", help="write the self-contained HTML report here")] = None,
    timeout: Annotated[float | None, typer.Option(help="give up waiting for the judge run after this many seconds")] = None,
    url: Url = DEFAULT_URL, api_key: ApiKey = None, local: Local = False, as_json: AsJson = False,
) -> None:
    """Did the fine-tune work? Runs every layer eval.yaml names and prints one verdict. Exit 0/3/5."""
    spec = _spec(spec_path)
    with connect(url, api_key, local) as client:
        ev = run_layers(client, spec, spec_path.parent, timeout)
        if html_out is not None:
            from judge_service.evaluation.html import render

            charts = {}
            if "training" in ev.references:
                charts = {"training curves": client.training_chart(ev.references["training"])}
            html_out.write_text(render(ev.model_dump(mode="json"), charts), encoding="utf-8")
    if as_json:
        print_json(ev)
    else:
        out.print(f"{ev.summary.verdict}: {ev.summary.line}")
        table = make_table("layer", "status", "figures", keep=("layer", "status"))
        for layer in ev.layers:
            table.add_row(layer.layer, layer.status, layer.headline)
        out.print(table)
    raise typer.Exit(EXIT.get(ev.summary.verdict, 1))


evaluation_app = typer.Typer(help="Stored evaluations: compare two, re-run one on a newer eval set.",
                             no_args_is_help=True)


@evaluation_app.command("compare")
def compare(a: str, b: str, url: Url = DEFAULT_URL, api_key: ApiKey = None, local: Local = False,
            as_json: AsJson = False) -> None:
    """Whether two evaluations are comparable (same eval-set version); the items added/removed/changed. Exit 3 if not."""
    with connect(url, api_key, local) as client:
        cmp = client.compare_evaluations(a, b)
    if as_json:
        print_json(cmp)
    else:
        out.print(f"{a}: {cmp.a.summary.verdict}; {b}: {cmp.b.summary.verdict}; "
                  f"comparable: {'yes' if cmp.comparable else 'no'}")
        for warning in cmp.warnings:
            out.print(f"warning: {warning}")
        for label, ids in (("added", cmp.added), ("removed", cmp.removed), ("changed", cmp.changed)):
            if ids:
                out.print(f"{label}: {', '.join(ids)}")
    raise typer.Exit(0 if cmp.comparable else 3)


@evaluation_app.command("rerun")
def rerun(
    evaluation_id: Annotated[str, typer.Argument(help="the older evaluation")],
    version: Annotated[int | None, typer.Option(help="the eval-set version to run on (default: latest)")] = None,
    outputs: Annotated[Path | None, typer.Option(exists=True, dir_okay=False,
                                                 help="JSONL {id, outputs: {system: text}} for the items added or "
                                                      "changed since the evaluation's version")] = None,
    name: Annotated[str | None, typer.Option(help="name of the new evaluation")] = None,
    timeout: Annotated[float | None, typer.Option(help="give up waiting for the judge run after this many seconds")] = None,
    url: Url = DEFAULT_URL, api_key: ApiKey = None, local: Local = False, as_json: AsJson = False,
) -> None:
    """Re-run an older evaluation's judge layer on the new eval-set version, in one call; waits for the run."""
    rows = _lines(outputs) if outputs is not None else None
    with connect(url, api_key, local) as client:
        result = client.rerun_evaluation(evaluation_id, eval_set_version=version, outputs=rows, name=name)
        client.wait_for_run(result.run_id, timeout=timeout)
        ev = client.get_evaluation(result.evaluation.id)
    if as_json:
        print_json(result.model_copy(update={"evaluation": ev}))
    else:
        out.print(f"{ev.id} on {result.eval_set.name} v{result.eval_set.version} (run {result.run_id}): "
                  f"{len(result.reused)} item(s) reused, {len(result.supplied)} new or changed, "
                  f"{len(result.dropped)} dropped")
        if result.not_carried:
            out.print(f"not carried over (they depend on the items): {', '.join(result.not_carried)}")
        out.print(f"{ev.summary.verdict}: {ev.summary.line}")
    raise typer.Exit(EXIT.get(ev.summary.verdict, 1))
