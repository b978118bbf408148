"""``judge overlap ...``: training data against outputs and eval sets.

    judge overlap index train.jsonl [--field messages.assistant] [--n 13]
    judge overlap regurgitation oix_… outputs.jsonl [--output-field output --base-field base_output]
    judge overlap regurgitation oix_… --run run_…
    judge overlap contamination oix_… eval.jsonl [--text-field prompt --outcome-field correct]
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from judge_service.cli.common import ApiKey, AsJson, Local, Url, connect, fail, make_table, out, print_figures, print_json

overlap_app = typer.Typer(help="Training-set overlap: regurgitation of training text, contamination of eval sets.",
                          no_args_is_help=True)


def _rows(path: Path) -> list[dict[str, Any]]:
    try:
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        fail(f"cannot read {path} as JSONL: {e}")
    if not rows or not all(isinstance(r, dict) for r in rows):
        fail(f"{path} must hold one JSON object per line (and at least one)")
    return rows


def _pick(row: dict[str, Any], field: str | None, i: int, path: Path) -> Any:
    if field is None:
        return None
    if field not in row:
        fail(f"{path} line {i + 1} has no field '{field}' (it has {sorted(row)})")
    return row[field]


@overlap_app.command("index")
def index(file: Path = typer.Argument(..., help="training set: JSONL (chat 'messages' or fields) or CSV"),
          field: list[str] = typer.Option([], "--field", help="text field(s); default: assistant turns / output / completion"),
          id_field: str = typer.Option("id", "--id-field"), n: int = typer.Option(13, "--n", help="n-gram size"),
          name: str | None = typer.Option(None, "--name"), as_json: AsJson = False, url: Url = "http://127.0.0.1:8000",
          api_key: ApiKey = None, local: Local = False) -> None:
    """Index a training set (reused when the same file and options were indexed before)."""
    if not file.is_file():
        fail(f"no file at '{file}'")
    with connect(url, api_key, local) as client:
        result = client.create_overlap_index(path=file, text_fields=field or None, id_field=id_field, n=n, name=name)
    if as_json:
        return print_json(result)
    out.print(f"{result.id}{' (reused)' if result.reused else ''}: {result.n_docs} documents, {result.n_tokens} tokens, "
              f"{result.indexed_ngrams} {n}-grams, {result.boilerplate_ngrams} boilerplate, "
              f"{result.memory_bytes / 1e6:.1f} MB")


@overlap_app.command("regurgitation")
def regurgitation(index_id: str = typer.Argument(...), file: Path | None = typer.Argument(None, help="outputs JSONL"),
                  run: str | None = typer.Option(None, "--run", help="screen a run's outputs instead"),
                  output_field: str = typer.Option("output", "--output-field"),
                  prompt_field: str | None = typer.Option("prompt", "--prompt-field"),
                  reference_field: str | None = typer.Option(None, "--reference-field"),
                  base_field: str | None = typer.Option(None, "--base-field", help="the base model's output (paired)"),
                  regurgitation_tokens: int = typer.Option(50, "--regurgitation-tokens"),
                  partial_tokens: int = typer.Option(13, "--partial-tokens"),
                  as_json: AsJson = False, url: Url = "http://127.0.0.1:8000", api_key: ApiKey = None,
                  local: Local = False) -> None:
    """Longest copied span of each output, flags, and base vs tuned rates."""
    outputs = None
    if (file is None) == (run is None):
        fail("give an outputs JSONL file or --run RUN_ID (one of them)")
    if file is not None:
        rows = _rows(file)
        outputs = [{k: v for k, v in {"id": str(r.get("id", i)), "output": _pick(r, output_field, i, file),
                                      "prompt": r.get(prompt_field) if prompt_field else None,
                                      "reference": _pick(r, reference_field, i, file),
                                      "base_output": _pick(r, base_field, i, file)}.items() if v is not None}
                   for i, r in enumerate(rows)]
    with connect(url, api_key, local) as client:
        report = client.regurgitation(index_id, outputs, run_id=run,
                                      thresholds={"regurgitation": regurgitation_tokens, "partial": partial_tokens})
    if as_json:
        return print_json(report)
    data = report.model_dump(mode="json")
    print_figures({"tuned": data["tuned"], "base": data["base"] or {}, "comparison": data["comparison"] or {}})
    table = make_table("id", "flag", "longest", "copied", "document", "copied span", keep=("id", "flag"))
    for item in report.items:
        if item.flag != "none":
            m = item.matches[0]
            table.add_row(item.id, item.flag, str(item.longest_span), f"{item.copied_fraction:.0%}", m.doc_id,
                          f"{m.text_span[:80]}  ⇔  …{m.training_before[-30:]}[{m.training_span[:80]}]")
    out.print(table)
    out.print(f"report {report.id}")


@overlap_app.command("contamination")
def contamination(index_id: str = typer.Argument(...), file: Path | None = typer.Argument(None, help="eval items JSONL"),
                  run: str | None = typer.Option(None, "--run", help="a run's items and verdicts instead"),
                  text_field: str | None = typer.Option(None, "--text-field", help="default: text, else prompt, else turns"),
                  outcome_field: str | None = typer.Option(None, "--outcome-field", help="per-item outcome (1/0, a score)"),
                  rule: str = typer.Option("any", "--rule", help="any | ngram | palm | minhash"),
                  as_json: AsJson = False, url: Url = "http://127.0.0.1:8000", api_key: ApiKey = None,
                  local: Local = False) -> None:
    """Which eval items leaked into the training set, and the headline on the clean items."""
    items = None
    if (file is None) == (run is None):
        fail("give an eval items JSONL file or --run RUN_ID (one of them)")
    if file is not None:
        items = []
        for i, r in enumerate(_rows(file)):
            item: dict[str, Any] = {"id": str(r.get("id", r.get("question_id", i)))}
            if text_field:
                value = _pick(r, text_field, i, file)
                item["turns" if isinstance(value, list) else "text"] = value
            else:
                item.update({k: r[k] for k in ("text", "prompt", "turns") if k in r})
            if outcome_field:
                item["outcome"] = float(_pick(r, outcome_field, i, file))
            items.append(item)
    with connect(url, api_key, local) as client:
        report = client.contamination(index_id, items, run_id=run, rule=rule)
    if as_json:
        return print_json(report)
    out.print(f"{report.contaminated} of {report.n} items contaminated (rule {report.rule}): {report.ngram_hits} 13-gram hits, "
              f"{report.palm_contaminated} PaLM ≥70% 8-grams, {report.near_duplicates} MinHash near-duplicates")
    data = report.model_dump(mode="json")
    print_figures({"contamination_rate": data["contamination_rate"], **({"impact": data["impact"]} if data["impact"] else {})})
    out.print(f"report {report.id}")
