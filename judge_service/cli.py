"""The ``judge`` command. ``judge serve`` runs the service; the other commands are clients of it
(``--url``) or of a service built in-process (``--local``), one module per family of commands."""

from __future__ import annotations

import importlib
from pathlib import Path

import typer

from judge_service import cli_catalog, cli_evalsets, cli_evaluate, cli_imports, cli_judging, cli_runs, cli_stats

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

    overrides = {k: v for k, v in {"config": config, "data_dir": data_dir}.items() if v is not None}
    settings = Settings(**overrides, warm_judges=warm)
    service = create_app(settings)
    freeze_startup_heap()
    uvicorn.run(service, host=host, port=port, log_level=log_level, access_log=False)


app.command()(cli_judging.grade)
app.command()(cli_judging.compare)
app.command()(cli_catalog.judges)
app.add_typer(cli_catalog.rubrics_app, name="rubrics")
app.add_typer(cli_runs.run_app, name="run")
app.command()(cli_stats.agreement)
app.command()(cli_stats.calibrate)
app.add_typer(cli_imports.import_app, name="import")
app.add_typer(cli_evalsets.evalset_app, name="eval-set")
app.command()(cli_evaluate.evaluate)



def mount(parent: typer.Typer, module: str, attribute: str, name: str, help_text: str) -> None:
    """Mount a command group that lives in its own module (written alongside this one); the rest
    of the CLI must work without it."""
    try:
        group = getattr(importlib.import_module(module), attribute)
    except ImportError as e:
        if e.name == module:
            return
        reason = str(e)  # the module exists but cannot load: say why instead of hiding the command

        @parent.command(name, help=f"{help_text} (unavailable: run it to see why)",
                     context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
        def _unavailable() -> None:
            typer.echo(f"error: `judge {name}` could not load: {reason}", err=True)
            raise typer.Exit(1)

        return
    parent.add_typer(group, name=name)


mount(app, "judge_service.cli_metrics", "metrics_app", "metrics", "Perplexity and overlap metrics.")
mount(app, "judge_service.cli_keys", "keys_app", "keys", "API keys for the service.")
mount(app, "judge_service.cli_training", "curves_app", "curves", "Training curves: overfitting, best checkpoint.")
mount(app, "judge_service.cli_benchmarks", "bench_app", "bench", "Benchmarks: base vs tuned lm-eval results.")
mount(app, "judge_service.cli_memorization", "overlap_app", "overlap", "Training-set regurgitation and contamination.")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
