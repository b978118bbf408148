"""``judge curves analyze PATH…``: is the fine-tune overfitting, and which checkpoint to keep.

Exit codes, for CI: 0 no overfitting (``no_overfitting`` or ``plateau``); 3 overfitting
(``overfitting`` or ``possible_overfitting``); 4 cannot judge (``cannot_judge``, no eval series or
too few points); 5 diverging; 1 a service error (bad file, 4xx); 2 a usage error.

``judge curves sweep ANALYSIS_ID ITEMS.jsonl``: judge the checkpoints the analysis names against
base. Exit 0 when the judges agree with the loss or cannot tell the checkpoints apart, 6 when they
prefer another checkpoint (intervals apart), 7 when ``--wait`` ran out of time.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from judge_service.cli.common import ApiKey, AsJson, Local, Url, connect, fail, out, print_json

curves_app = typer.Typer(help="Training curves: overfitting onset, best checkpoint, early-stopping advice.",
                         no_args_is_help=True)

EXIT_CODES = {"no_overfitting": 0, "plateau": 0, "overfitting": 3, "possible_overfitting": 3, "cannot_judge": 4,
              "diverging": 5}
MAX_FILE_BYTES = 200 * 1024 * 1024


@curves_app.command("analyze")
def analyze(
    paths: Annotated[list[Path], typer.Argument(help="trainer_state.json, an output_dir, trainer_log.jsonl, "
                                                     "events.out.tfevents.*, a W&B CSV, MLflow metrics, or a zip")],
    metric: Annotated[str | None, typer.Option("--metric", help="eval series to judge (default eval_loss)")] = None,
    eval_set: Annotated[str | None, typer.Option("--eval-set", help="judge eval_<NAME>_loss")] = None,
    html: Annotated[Path | None, typer.Option("--html", help="write an HTML report with the chart here")] = None,
    as_json: AsJson = False,
    url: Url = "http://127.0.0.1:8000",
    api_key: ApiKey = None,
    local: Local = False,
) -> None:
    """Analyse training logs. Exit 0: no overfitting; 3: overfitting; 4: cannot judge; 5: diverging."""
    for path in paths:
        if not path.exists():
            fail(f"no file or directory at '{path}'")
        if path.is_file() and path.stat().st_size > MAX_FILE_BYTES:
            fail(f"'{path}' is {path.stat().st_size} bytes; logs over {MAX_FILE_BYTES} bytes are refused: downsample it")
    with connect(url, api_key, local) as client:
        result = client.analyze_training_logs(paths, metric=metric, eval_set=eval_set)
        svg = None
        if html is not None:
            svg = client.training_chart(result.id)
    if as_json:
        print_json(result)
    else:
        out.print(_text(result.model_dump(mode="json")))
    if html is not None and svg is not None:
        from html import escape

        html.write_text("<!doctype html><html><head><meta charset='utf-8'><title>training curves</title></head><body>"
                        f"{svg}<pre>{escape(_text(result.model_dump(mode='json')))}</pre></body></html>", encoding="utf-8")
    raise typer.Exit(EXIT_CODES.get(result.verdict, 4))


@curves_app.command("sweep")
def sweep_command(
    analysis_id: Annotated[str, typer.Argument(help="the id of a stored analysis (judge curves analyze --json)")],
    items: Annotated[Path, typer.Argument(help="JSONL: one prompt per line with outputs for the baseline and each "
                                               "swept checkpoint (keyed by --checkpoint-name)")],
    baseline: Annotated[str, typer.Option("--baseline", help="the base model's name in the outputs")],
    rubric: Annotated[str, typer.Option("--rubric", "-r", help="rubric name[@version]")],
    judge: Annotated[list[str] | None, typer.Option("--judge", "-j", help="a judge (repeat; default: the panel)")] = None,
    checkpoint_name: Annotated[str, typer.Option("--checkpoint-name", help="how outputs are keyed")] = "checkpoint-{step}",
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="wait for the runs and print the comparison")] = True,
    timeout: Annotated[float, typer.Option(help="seconds to wait for the runs")] = 3600.0,
    as_json: AsJson = False,
    url: Url = "http://127.0.0.1:8000",
    api_key: ApiKey = None,
    local: Local = False,
) -> None:
    """Judge best-by-loss, earliest-equivalent and last checkpoints against base; do judges agree with the loss?"""
    if not items.is_file():
        fail(f"no items file at '{items}'")
    with connect(url, api_key, local) as client:
        sweep = client.sweep_checkpoints(analysis_id, items, baseline=baseline, rubric=rubric, judges=judge,
                                         checkpoint_name=checkpoint_name)
        deadline = time.monotonic() + timeout
        while wait and sweep.agreement == "pending" and time.monotonic() < deadline:
            time.sleep(1.0)
            sweep = client.get_checkpoint_sweep(analysis_id)
    if as_json:
        print_json(sweep)
    else:
        for c in sweep.checkpoints:
            w = c.win_rate
            figure = (f"win rate vs {sweep.baseline} {w.estimate:.3f} [{w.ci_low:.3f}, {w.ci_high:.3f}] n={w.n}"
                      if w is not None and w.estimate is not None and w.ci_low is not None and w.ci_high is not None
                      else c.status)
            value = f"{c.metric_value:.4g}" if c.metric_value is not None else "?"
            out.print(f"{c.system} ({', '.join(c.roles)}): {sweep.metric} {value}; {figure}  [run {c.run_id}]", markup=False)
        out.print(f"{sweep.agreement}: {sweep.statement}", markup=False)
    if sweep.agreement == "pending" and wait:
        raise typer.Exit(7)
    raise typer.Exit(6 if sweep.agreement == "disagree" else 0)


def _text(result: dict[str, Any]) -> str:
    from judge_service.training.report import summary_text

    return f"analysis {result['id']}\n" + summary_text(result)
