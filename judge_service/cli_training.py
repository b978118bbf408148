"""``judge curves analyze``: overfitting onset, best checkpoint and early-stopping advice, with CI exit codes.

Exit codes (for CI pipelines): 0 no overfitting (or a plateau: compute wasted, nothing lost),
3 overfitting or possible overfitting, 4 diverging (unstable training), 5 cannot judge (no eval
series, too few evaluations); 1 is an error, 2 a usage error.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Annotated

import typer

from judge_client import TrainingAnalysis
from judge_service.cli_common import DEFAULT_URL, ApiKey, AsJson, Local, Url, connect, make_table, out, print_json

curves_app = typer.Typer(help="Training curves: overfitting onset, best checkpoint, early stopping.",
                         no_args_is_help=True)

EXIT_CODES = {"no_overfitting": 0, "plateau": 0, "overfitting": 3, "possible_overfitting": 3, "diverging": 4,
              "cannot_judge": 5}


def _html(a: TrainingAnalysis) -> str:
    rows = "".join(f"<tr><td>{o.patience}</td><td>{o.threshold:g}</td><td>{o.stopped_at_step or 'end'}</td>"
                   f"<td>{o.chosen_step}</td><td>{o.regret:.4g}</td></tr>" for o in a.early_stopping)
    flags = "".join(f"<li><b>{html.escape(f.code)}</b>: {html.escape(f.message)}</li>" for f in a.flags)
    return (f"<!doctype html><meta charset='utf-8'><title>{html.escape(a.metric)}: {a.verdict}</title>"
            f"<body style='font-family:sans-serif;max-width:760px;margin:2em auto'>"
            f"<h1>{html.escape(a.verdict)}</h1><p>{html.escape(a.reason)}</p>"
            f"<p>{html.escape(a.advice or '')}</p>{a.chart_svg or ''}<h2>Flags</h2><ul>{flags or '<li>none</li>'}</ul>"
            f"<h2>Where Hugging Face's EarlyStoppingCallback would have stopped</h2><table border=1 cellpadding=4>"
            f"<tr><th>patience</th><th>threshold</th><th>stopped at</th><th>checkpoint kept</th><th>regret</th></tr>"
            f"{rows}</table><p>Sources: {html.escape(', '.join(a.sources))}</p></body>")


@curves_app.command("analyze")
def analyze(
    paths: Annotated[list[Path], typer.Argument(exists=True, help="log files or output dirs")],
    metric: Annotated[str | None, typer.Option(help="eval series to judge (default eval_loss)")] = None,
    eval_set: Annotated[str | None, typer.Option(help="judge eval_<NAME>_loss")] = None,
    html_out: Annotated[Path | None, typer.Option("--html", help="write a self-contained HTML report here")] = None,
    url: Url = DEFAULT_URL, api_key: ApiKey = None, local: Local = False, as_json: AsJson = False,
) -> None:
    """Read training logs and say whether (and when) overfitting began. Exit 0/3/4/5: see `judge curves --help`."""
    with connect(url, api_key, local) as client:
        a = client.analyze_training_logs(*paths, metric=metric, eval_set=eval_set, include_chart=html_out is not None)
    if html_out is not None:
        html_out.write_text(_html(a), encoding="utf-8")
    if as_json:
        print_json(a)
    else:
        out.print(f"{a.verdict}: {a.reason}")
        if a.advice:
            out.print(f"advice: {a.advice}")
        if a.best is not None:
            out.print(f"best {a.metric} {a.best.value:.4g} at step {a.best.step}; earliest within noise: step "
                      f"{a.earliest_equivalent.step if a.earliest_equivalent else '-'}; noise ±{a.band_width or 0:.3g}")
        for f in a.flags:
            out.print(f"flag {f.code}: {f.message}")
        if a.early_stopping:
            table = make_table("patience", "threshold", "stopped at", "kept", "regret")
            for o in a.early_stopping:
                table.add_row(str(o.patience), f"{o.threshold:g}", str(o.stopped_at_step or "end"),
                              str(o.chosen_step), f"{o.regret:.4g}")
            out.print(table)
    raise typer.Exit(EXIT_CODES.get(a.verdict, 1))
