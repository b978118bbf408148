"""The ``judge`` command. ``judge serve`` runs the service; other commands are added per feature."""

from __future__ import annotations

from pathlib import Path

import typer

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
) -> None:
    """Run the HTTP service."""
    import uvicorn

    from judge_service.app import create_app
    from judge_service.settings import Settings

    overrides = {k: v for k, v in {"config": config, "data_dir": data_dir}.items() if v is not None}
    settings = Settings(**overrides)
    uvicorn.run(create_app(settings), host=host, port=port, log_level=log_level)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
