"""The ``judge`` command. ``judge serve`` runs the service; the other commands are clients of it
(``--url``) or of a service built in-process (``--local``), one module per family of commands."""

from __future__ import annotations

from pathlib import Path

import typer

# One module per command group; this file only assembles them.
from judge_service.cli import (benchmarks, catalog, db, evalsets, evaluate, imports, judging, keys, memorization, metrics,
                               rating, runs, stats, training)

app = typer.Typer(help="judge-service: did the fine-tune beat the base model?", no_args_is_help=True)


@app.callback()
def _root() -> None:
    """judge-service: grade, compare and run base-vs-tuned evaluations with LLM judges."""


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="address to bind"),
    port: int = typer.Option(8000, help="port to bind"),
    config: Path | None = typer.Option(None, "--config", help="judges YAML (default: JUDGE_CONFIG or the embedded local judge)"),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="where the SQLite file and model cache live"),
    log_level: str = typer.Option("info"),
    warm: bool = typer.Option(True, "--warm/--no-warm", help="load local judge models at start-up, in the background"),
) -> None:
    """Run the HTTP service."""
    import uvicorn

    from judge_service.app import create_app
    from judge_service.heap import freeze_startup_heap
    from judge_service.settings import Settings

    settings = Settings(warm_judges=warm)
    if config is not None or data_dir is not None:  # only what was given overrides the environment
        settings = settings.model_copy(update={k: v for k, v in (("config", config), ("data_dir", data_dir))
                                               if v is not None})
    service = create_app(settings)
    service.state.ctx.judges.import_provider_modules()  # their objects frozen with the rest
    freeze_startup_heap()
    uvicorn.run(service, host=host, port=port, log_level=log_level, access_log=False)


app.command()(judging.grade)
app.command()(judging.compare)
app.command()(catalog.judges)
app.add_typer(catalog.rubrics_app, name="rubrics")
app.add_typer(runs.run_app, name="run")
app.command()(stats.agreement)
app.command()(stats.calibrate)
app.command("length-control-joint")(stats.length_control_joint)
app.add_typer(imports.import_app, name="import")
app.add_typer(evalsets.evalset_app, name="eval-set")
app.command()(evaluate.evaluate)
app.add_typer(evaluate.evaluation_app, name="evaluation")
app.add_typer(imports.export_app, name="export")
app.add_typer(metrics.metrics_app, name="metrics", help="Perplexity and overlap metrics.")
app.add_typer(keys.keys_app, name="keys", help="API keys for the service.")
app.add_typer(db.db_app, name="db", help="The database schema: revision and upgrade.")
app.add_typer(training.curves_app, name="curves", help="Training curves: overfitting, best checkpoint.")
app.add_typer(benchmarks.bench_app, name="bench", help="Benchmarks: base vs tuned lm-eval results.")
app.add_typer(rating.rate_app, name="rate", help="Blind human rating tasks: rater links, progress, agreement.")
app.add_typer(memorization.overlap_app, name="overlap", help="Training-set regurgitation and contamination.")

def main() -> None:
    app()


if __name__ == "__main__":
    main()
