"""``judge metrics ...``: perplexity and overlap metrics over a JSONL or CSV file.

    judge metrics perplexity texts.jsonl --text-field text
    judge metrics perplexity texts.jsonl --base-model base/ --tuned-model tuned/
    judge metrics perplexity texts.jsonl --base-url http://localhost:8000/v1 --model my-model
    judge metrics overlap outputs.csv --prediction-field output --reference-field gold --json

Tables go to stdout (``--json`` prints the figures as JSON instead); progress bars go to
stderr, so ``--json`` output can be piped.
"""

from __future__ import annotations

import asyncio
import csv
import json
import math
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn
from rich.table import Table

from judge_service.errors import ServiceError

metrics_app = typer.Typer(
    help="Local metrics with CIs: perplexity of a model (or base vs tuned) on texts; BLEU/chrF/TER/ROUGE/EM/F1 against references.",
    no_args_is_help=True)
_out = Console()
_err = Console(stderr=True)


def read_records(path: Path) -> list[dict[str, Any]]:
    """Rows of a CSV/TSV file (by extension) or a JSONL file (one JSON object per line)."""
    suffix = path.suffix.lower()
    try:
        if suffix in (".csv", ".tsv"):
            with path.open(newline="", encoding="utf-8") as f:
                return list(csv.DictReader(f, delimiter="\t" if suffix == ".tsv" else ","))
        rows = []
        with path.open(encoding="utf-8") as f:
            for line_no, line in enumerate(f, 1):
                if line.strip():
                    row = json.loads(line)
                    if not isinstance(row, dict):
                        raise typer.BadParameter(f"{path}:{line_no} is not a JSON object")
                    rows.append(row)
        return rows
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise typer.BadParameter(f"cannot read {path} as {'CSV' if suffix in ('.csv', '.tsv') else 'JSONL'}: {e}") from e


def column(rows: list[dict[str, Any]], field: str, path: Path, *, allow_list: bool = False) -> list[Any]:
    values = []
    for i, row in enumerate(rows, 1):
        if field not in row or row[field] is None:
            raise typer.BadParameter(f"row {i} of {path} has no field '{field}'; fields there: {sorted(row)}")
        value = row[field]
        if not (isinstance(value, str) or (allow_list and isinstance(value, list) and all(isinstance(v, str) for v in value))):
            raise typer.BadParameter(f"row {i} of {path}: '{field}' must be a string{' or a list of strings' if allow_list else ''}")
        values.append(value)
    return values


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    console=_err, transient=True)


def _fail(e: ServiceError) -> typer.Exit:
    where = f" ({e.field})" if e.field else ""
    _err.print(f"[red]error{where}:[/red] {e.message}")
    return typer.Exit(code=2)


def _num(x: float | None, digits: int = 4) -> str:
    return "—" if x is None or not math.isfinite(x) else f"{x:.{digits}g}"


def _json_safe(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    return obj


@metrics_app.command()
def perplexity(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="JSONL or CSV, one text per row"),
    text_field: str = typer.Option("text", "--text-field", help="the field holding the text"),
    model: str | None = typer.Option(None, "--model", help="local: smollm2-135m-instruct (default), a .gguf or a model "
                                                          "directory; with --base-url: the served model's name"),
    base_model: str | None = typer.Option(None, "--base-model", help="compare mode: the base model"),
    tuned_model: str | None = typer.Option(None, "--tuned-model", help="compare mode: the fine-tuned model"),
    base_url: str | None = typer.Option(None, "--base-url", help="remote: an OpenAI-compatible server with prompt logprobs"),
    max_length: int | None = typer.Option(None, "--max-length", help="window in tokens (default: model context, ≤ 2048)"),
    stride: int | None = typer.Option(None, "--stride", help="tokens between window starts (default max_length // 2)"),
    batch_size: int = typer.Option(8, "--batch-size"),
    confidence: float = typer.Option(0.95, "--confidence"),
    n_resamples: int = typer.Option(1000, "--n-resamples"),
    seed: int = typer.Option(0, "--seed"),
    cache_dir: Path | None = typer.Option(None, "--cache-dir", help="converted GGUF models (default: JUDGE_MODEL_CACHE_DIR)"),
    as_json: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
) -> None:
    """Perplexity (token-weighted) and bits per byte of a model on texts, or base vs tuned with a CI."""
    from judge_service.metrics import perplexity as ppl

    texts = column(read_records(file), text_field, file)
    if (base_model is None) != (tuned_model is None):
        raise typer.BadParameter("compare mode needs both --base-model and --tuned-model")
    refs = [model] if base_model is None else [base_model, tuned_model]
    try:
        loaded = []
        if base_url is None:
            from judge_service.localmodel import load_causal_lm
            from judge_service.settings import Settings

            cache = cache_dir or Settings().resolved_model_cache()
            loaded = [load_causal_lm(ref, cache) for ref in refs]
            # One window size for both models in compare mode, or the comparison mixes contexts.
            max_length = max_length or min(ppl.DEFAULT_MAX_LENGTH, *(ppl.model_context(m.model) for m in loaded))
        elif any(not ref for ref in refs):
            raise typer.BadParameter("with --base-url, name the served model with --model")
        results = []
        with _progress() as progress:
            for i, ref in enumerate(refs):
                task = progress.add_task(f"scoring with {ref or 'smollm2-135m-instruct'}", total=None)

                def advance(done: int, total: int, task: TaskID = task) -> None:
                    progress.update(task, completed=done, total=total)

                if base_url is not None:
                    from judge_service.metrics.remote_logprobs import remote_perplexity

                    key = os.environ.get("JUDGE_METRICS_API_KEY")
                    assert ref is not None  # refused above: with --base-url every model is named
                    results.append(asyncio.run(remote_perplexity(base_url, ref, texts, api_key=key, on_progress=advance)))
                else:
                    results.append(ppl.perplexity(loaded[i], texts, max_length=max_length, stride=stride,
                                                  batch_size=batch_size, on_progress=advance))
        comparison = None
        if len(results) == 2:
            comparison = ppl.compare_results(results[0], results[1], confidence=confidence, n_resamples=n_resamples,
                                             seed=f"perplexity:{seed}")
    except ServiceError as e:
        raise _fail(e) from e

    if as_json:
        out: dict[str, Any] = {"results": [asdict(r) for r in results]}
        if comparison is not None:
            out["comparison"] = {"measure": comparison.measure, "per_text_difference": comparison.per_text_difference,
                                 "difference": comparison.difference.to_dict(), "verdict": comparison.verdict}
        print(json.dumps(_json_safe(out), indent=2))
        return
    table = Table(title=f"Perplexity on {len(texts)} texts from {file.name}")
    for col in ("model", "perplexity", "NLL/token", "bits/byte", "tokens", "window"):
        table.add_column(col, justify="left" if col == "model" else "right")
    for r in results:
        window = "server" if r.max_length is None else f"{r.max_length}/{r.stride}"
        table.add_row(r.model, _num(r.corpus_perplexity, 5), _num(r.mean_nll_per_token), _num(r.bits_per_byte),
                      str(r.total_tokens), window)
    _out.print(table)
    if comparison is not None:
        _out.print(comparison.verdict)


@metrics_app.command()
def overlap(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="JSONL or CSV, one item per row"),
    prediction_field: str = typer.Option("prediction", "--prediction-field"),
    reference_field: list[str] = typer.Option(["reference"], "--reference-field",
                                              help="repeat for several reference columns; in JSONL a field may hold a list"),
    prediction_b_field: str | None = typer.Option(None, "--prediction-b-field", help="a second system: paired test B − A"),
    metrics: str | None = typer.Option(None, "--metrics", help="comma-separated; default: bleu,chrf,ter,rouge1,rouge2,rougeL,"
                                                              "rougeLsum,exact_match,token_f1; also classification, embedding"),
    tokenize: str | None = typer.Option(None, "--tokenize", help="BLEU tokenizer (sacrebleu name; default 13a)"),
    use_stemmer: bool = typer.Option(False, "--use-stemmer", help="ROUGE: Porter-stem tokens"),
    labels: str | None = typer.Option(None, "--labels", help="classification: comma-separated label set"),
    n_resamples: int = typer.Option(1000, "--n-resamples"),
    confidence: float = typer.Option(0.95, "--confidence"),
    seed: int = typer.Option(0, "--seed"),
    as_json: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
) -> None:
    """Reference-overlap metrics with bootstrap CIs, and a paired test when a second system is given."""
    from judge_service.metrics.overlap import check_metric_names, compute_overlap

    rows = read_records(file)
    predictions = column(rows, prediction_field, file)
    columns = [column(rows, f, file, allow_list=True) for f in reference_field]
    references = []
    for i in range(len(rows)):
        refs: list[str] = []
        for col in columns:
            refs.extend(col[i] if isinstance(col[i], list) else [col[i]])
        references.append([r for r in refs if r != ""] or [""])  # an empty CSV cell is a missing reference
    predictions_b = column(rows, prediction_b_field, file) if prediction_b_field else None
    try:
        names = check_metric_names([m.strip() for m in metrics.split(",") if m.strip()] if metrics else None)
        steps = len(names) * (2 if predictions_b is not None else 1)
        with _progress() as progress:
            task = progress.add_task(f"metrics on {len(predictions)} items", total=steps)
            report = compute_overlap(
                predictions, references, metrics=names, predictions_b=predictions_b, tokenize=tokenize,
                use_stemmer=use_stemmer, labels=[x.strip() for x in labels.split(",")] if labels else None,
                n_resamples=n_resamples, confidence=confidence, seed=f"overlap:{seed}",
                on_metric=lambda name: progress.advance(task))
    except ServiceError as e:
        raise _fail(e) from e

    if as_json:
        out = {"n": report.n, "metrics": {k: asdict(v) for k, v in report.scores.items()},
               "paired": {k: asdict(v) for k, v in report.paired.items()}, "per_class": report.per_class}
        print(json.dumps(_json_safe(out), indent=2))
        return
    level = f"{confidence:.0%} CI"
    table = Table(title=f"{len(predictions)} items from {file.name}" + (" — A vs B" if report.paired else ""))
    table.add_column("metric")
    for heading in ("A" if report.paired else "score", level) + (("B", "B − A", level, "p") if report.paired else ()):
        table.add_column(heading, justify="right")
    for name, s in report.scores.items():
        cells = [name, _num(s.score), f"[{_num(s.ci_low)}, {_num(s.ci_high)}]"]
        if name in report.paired:
            p = report.paired[name]
            cells += [_num(p.score_b), _num(p.difference), f"[{_num(p.ci_low)}, {_num(p.ci_high)}]", _num(p.p_value, 3)]
        table.add_row(*cells)
    _out.print(table)
    for p in report.paired.values():
        _out.print(p.verdict)
    if report.per_class:
        classes = Table(title="per class")
        for heading in ("label", "precision", "recall", "F1", "support"):
            classes.add_column(heading, justify="left" if heading == "label" else "right")
        for label, row in report.per_class.items():
            classes.add_row(label, _num(row["precision"]), _num(row["recall"]), _num(row["f1"]), str(int(row["support"])))
        _out.print(classes)
