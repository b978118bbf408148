"""``judge import alpaca-eval|mt-bench``: other tools' files → run items and their own headline figures.

The items are written as JSONL for ``judge run create`` (re-judging with this service's panel);
the figures printed are the ones the other tool prints (AlpacaEval's leaderboard row, FastChat's
``show_result.py``), recomputed from the files, so a user can check the import first.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from judge_service.cli.common import DEFAULT_URL, ApiKey, AsJson, Local, Url, connect, fail, fmt, make_table, out, print_json

import_app = typer.Typer(help="Import AlpacaEval or FastChat MT-Bench files as run items.", no_args_is_help=True)

ItemsOut = Annotated[Path | None, typer.Option("--items-out", help="write the run items here (JSONL) for `judge run create`")]


def _find(folder: Path, pattern: str) -> Path | None:
    hits = sorted(folder.glob(pattern)) + sorted(folder.glob(pattern + ".xz"))
    return hits[0] if hits else None


def _alpaca_arm(path: Path) -> tuple[Path, Path | None]:
    """An AlpacaEval results folder (model_outputs.json + <annotator>/annotations.json) or an outputs file."""
    if path.is_file():
        return path, None
    outputs = _find(path, "model_outputs.json")
    if outputs is None:
        fail(f"{path} has no model_outputs.json(.xz); pass the file itself or an AlpacaEval results folder")
        raise AssertionError  # fail() exits
    annotations = sorted(path.glob("*/annotations.json")) + sorted(path.glob("*/annotations.json.xz"))
    if len(annotations) > 1:
        fail(f"{path} holds annotations by several annotators ({', '.join(str(a.parent.name) for a in annotations)}); "
             "pass --baseline-annotations/--candidate-annotations")
    return outputs, annotations[0] if annotations else None


def _write_items(path: Path | None, items: list[dict[str, object]]) -> None:
    if path is None:
        return
    with path.open("w", encoding="utf-8") as f:
        for item in items:
            f.write(json.dumps(item, ensure_ascii=False) + "\n")


@import_app.command("alpaca-eval")
def alpaca_eval(
    baseline: Annotated[Path, typer.Argument(exists=True, help="baseline's model_outputs.json or AlpacaEval results folder")],
    candidate: Annotated[Path, typer.Argument(exists=True, help="candidate's model_outputs.json or results folder")],
    baseline_annotations: Annotated[Path | None, typer.Option(exists=True, help="baseline arm's annotations.json")] = None,
    candidate_annotations: Annotated[Path | None, typer.Option(exists=True, help="candidate arm's annotations.json")] = None,
    baseline_name: Annotated[str | None, typer.Option(help="system name for the baseline (default: its generator)")] = None,
    candidate_name: Annotated[str | None, typer.Option(help="system name for the candidate (default: its generator)")] = None,
    items_out: ItemsOut = None,
    url: Url = DEFAULT_URL, api_key: ApiKey = None, local: Local = False, as_json: AsJson = False,
) -> None:
    """AlpacaEval outputs of two arms → run items joined on the instruction, and each arm's leaderboard row."""
    base_outputs, base_ann = _alpaca_arm(baseline)
    cand_outputs, cand_ann = _alpaca_arm(candidate)
    with connect(url, api_key, local) as client:
        result = client.import_alpaca_eval(base_outputs, cand_outputs,
                                           baseline_annotations=baseline_annotations or base_ann,
                                           candidate_annotations=candidate_annotations or cand_ann,
                                           baseline_name=baseline_name, candidate_name=candidate_name)
    _write_items(items_out, [i.model_dump() for i in result.items])
    if as_json:
        print_json(result)
        return
    out.print(f"{len(result.items)} items: {result.baseline} (baseline) vs {result.candidate} (candidate)")
    if result.annotations:
        table = make_table("arm", "annotator", "vs", "win_rate", "se", "wins", "losses", "draws", "n",
                           "discrete", keep=("arm",))
        for name, arm in result.annotations.items():
            table.add_row(name, arm.annotator or "-", arm.baseline_generator, fmt(arm.win_rate, 4),
                          fmt(arm.standard_error, 4), str(arm.n_wins), str(arm.n_wins_base), str(arm.n_draws),
                          str(arm.n_total), fmt(arm.discrete_win_rate, 4))
        out.print(table)
    judged = sorted({name for i in result.items for name in (i.external_judgments or {})})
    for name in judged:
        n = sum(name in (i.external_judgments or {}) for i in result.items)
        out.print(f"{n} item(s) carry {name}'s verdicts: a run over them reports it as the judge 'external:{name}' "
                  "beside the panel (imported, not re-run)")
    for warning in result.warnings:
        out.print(f"warning: {warning}")
    if items_out is not None:
        out.print(f"items written to {items_out}; re-judge with: judge run create {items_out} "
                  f"--baseline {result.baseline} --candidate {result.candidate} -r helpfulness")


@import_app.command("mt-bench")
def mt_bench(
    baseline_answers: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="model_answer/<baseline>.jsonl")],
    candidate_answers: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="model_answer/<candidate>.jsonl")],
    questions: Annotated[Path, typer.Option(exists=True, dir_okay=False, help="question.jsonl")],
    single_judgments: Annotated[Path | None, typer.Option(exists=True, dir_okay=False,
                                                          help="model_judgment/<judge>_single.jsonl(.xz)")] = None,
    pair_judgments: Annotated[Path | None, typer.Option(exists=True, dir_okay=False,
                                                        help="model_judgment/<judge>_pair.jsonl(.xz)")] = None,
    pair_baseline: Annotated[str | None, typer.Option(help="show_result's --baseline-model (default: pairwise-all)")] = None,
    turn: Annotated[list[int] | None, typer.Option("--turn", help="turns to import (1, 2; repeat); default both")] = None,
    baseline_name: Annotated[str | None, typer.Option(help="system name for the baseline (default: its model_id)")] = None,
    candidate_name: Annotated[str | None, typer.Option(help="system name for the candidate (default: its model_id)")] = None,
    items_out: ItemsOut = None,
    url: Url = DEFAULT_URL, api_key: ApiKey = None, local: Local = False, as_json: AsJson = False,
) -> None:
    """MT-Bench questions and two models' answers → run items over (question, turn), and show_result's figures."""
    with connect(url, api_key, local) as client:
        result = client.import_mt_bench(questions, baseline_answers, candidate_answers, baseline_name=baseline_name,
                                        candidate_name=candidate_name, turns=turn, single_judgments=single_judgments,
                                        pair_judgments=pair_judgments, pair_baseline=pair_baseline)
    # None fields left out: a turn-1 line has a prompt, a turn-2 line messages and histories.
    _write_items(items_out, [i.model_dump(exclude_none=True) for i in result.items])
    if as_json:
        print_json(result)
        return
    out.print(f"{len(result.items)} items: {result.baseline} (baseline) vs {result.candidate} (candidate)")
    if result.single_scores:
        table = make_table("model", "turn 1", "turn 2", "MT-Bench score", "n", "unparseable", keep=("model",))
        for s in result.single_scores:
            table.add_row(s.model, fmt(s.by_turn.get(1), 5), fmt(s.by_turn.get(2), 5), fmt(s.average, 5), str(s.n),
                          str(s.n_unparseable))
        out.print(table)
    if result.pairwise:
        table = make_table("model", "win", "loss", "tie", "win_rate", "win_rate_adjusted", keep=("model",))
        for r in result.pairwise:
            table.add_row(r.model, str(r.win), str(r.loss), str(r.tie), fmt(r.win_rate, 4), fmt(r.win_rate_adjusted, 4))
        out.print(table)
    if result.pair_consistency is not None:
        c = result.pair_consistency
        out.print(f"external judge's position consistency: {c.consistent} of {c.n} ({fmt(c.rate, 4)}), "
                  f"{c.errors} error row(s)")
    judged = sorted({name for i in result.items for name in (i.external_judgments or {})})
    for name in judged:
        n = sum(name in (i.external_judgments or {}) for i in result.items)
        out.print(f"{n} item(s) carry {name}'s verdicts: a run over them reports it as the judge 'external:{name}' "
                  "beside the panel (imported, not re-run)")
    for warning in result.warnings:
        out.print(f"warning: {warning}")
    if items_out is not None:
        out.print(f"items written to {items_out}; re-judge with: judge run create {items_out} "
                  f"--baseline {result.baseline} --candidate {result.candidate} -r helpfulness")


@import_app.command("records")
def records(
    source: Annotated[Path, typer.Argument(exists=True, help="JSONL/CSV, .parquet/.arrow, or a folder saved by "
                                                             "Hugging Face datasets (save_to_disk)")],
    baseline_field: Annotated[str, typer.Option(help="the baseline's output column")],
    candidate_field: Annotated[str, typer.Option(help="the candidate's output column")],
    prompt_field: Annotated[str, typer.Option(help="the prompt column (text or chat messages)")] = "prompt",
    id_field: Annotated[str | None, typer.Option(help="a unique id column (default: the row number)")] = None,
    reference_field: Annotated[str | None, typer.Option(help="a reference-answer column")] = None,
    split: Annotated[str | None, typer.Option(help="the split of a saved DatasetDict (train, test, ...)")] = None,
    baseline_name: Annotated[str, typer.Option(help="system name for the baseline")] = "baseline",
    candidate_name: Annotated[str, typer.Option(help="system name for the candidate")] = "candidate",
    items_out: ItemsOut = None,
    url: Url = DEFAULT_URL, api_key: ApiKey = None, local: Local = False, as_json: AsJson = False,
) -> None:
    """Rows of prompts and both systems' outputs (JSONL, CSV, a datasets split on disk) → run items."""
    with connect(url, api_key, local) as client:
        try:
            result = client.import_records(source, baseline_field=baseline_field, candidate_field=candidate_field,
                                           prompt_field=prompt_field, id_field=id_field,
                                           reference_field=reference_field, split=split,
                                           baseline_name=baseline_name, candidate_name=candidate_name)
        except ValueError as e:  # the file itself (an unknown split, no pyarrow): before any request
            fail(str(e))
            raise AssertionError from e  # fail() exits
    _write_items(items_out, [i.model_dump(exclude_none=True) for i in result.items])
    if as_json:
        print_json(result)
        return
    out.print(f"{len(result.items)} items: {result.baseline} (baseline) vs {result.candidate} (candidate)")
    if items_out is not None:
        out.print(f"items written to {items_out}; judge them with: judge run create {items_out} "
                  f"--baseline {result.baseline} --candidate {result.candidate} -r helpfulness")


export_app = typer.Typer(help="Export a run's verdicts in another tool's format.", no_args_is_help=True)


@export_app.command("fastchat")
def export_fastchat(
    run_id: Annotated[str, typer.Argument(help="the run to export")],
    output: Annotated[Path, typer.Option("--out", "-o", help="where to write, e.g. model_judgment/<judge>_pair.jsonl")],
    kind: Annotated[str, typer.Option(help="pair (pairwise verdicts) or single (absolute scores)")] = "pair",
    judge: Annotated[str | None, typer.Option(help="one judge of the run's panel (default: all)")] = None,
    url: Url = DEFAULT_URL, api_key: ApiKey = None, local: Local = False,
) -> None:
    """A run's verdicts as FastChat model_judgment JSONL, which FastChat's show_result.py reads."""
    if kind not in ("pair", "single"):
        fail(f"--kind is '{kind}'; use pair or single")
    with connect(url, api_key, local) as client:
        text = client.export_fastchat(run_id, kind=kind, judge=judge, path=output)
    mode = "pairwise-all" if kind == "pair" else "single"
    out.print(f"{text.count(chr(10))} lines written to {output}; read them with FastChat's "
              f"show_result.py --mode {mode} --input-file {output}")


@export_app.command("alpaca-eval")
def export_alpaca_eval(
    run_id: Annotated[str, typer.Argument(help="the run to export (pairwise)")],
    output: Annotated[Path, typer.Option("--out", "-o", help="where to write, e.g. <annotator>/annotations.json")],
    url: Url = DEFAULT_URL, api_key: ApiKey = None, local: Local = False,
) -> None:
    """A run's verdicts as AlpacaEval annotations.json (output_1 = the baseline)."""
    with connect(url, api_key, local) as client:
        rows = client.export_alpaca_eval(run_id, path=output)
    scored = [r["preference"] for r in rows if r["preference"] is not None]
    rate = 100 * (sum(scored) / len(scored) - 1) if scored else float("nan")
    out.print(f"{len(rows)} annotations written to {output}; AlpacaEval's win rate of them: {rate:.4f}")
