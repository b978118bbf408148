"""What every client-side ``judge`` command shares: connection options, the client, output.

A command talks to a running service (``--url``/``JUDGE_URL``, ``--api-key``/``JUDGE_API_KEY``)
or, with ``--local``, to the service built in this process from ``Settings()`` (so
``JUDGE_CONFIG`` and ``JUDGE_DATA_DIR`` apply). Either way it goes through ``judge_client``,
so the CLI exercises the same client users script against.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Column, Table

from judge_client import JudgeClient, JudgeServiceError
from judge_service.errors import ServiceError

DEFAULT_URL = "http://127.0.0.1:8000"

Url = Annotated[str, typer.Option("--url", envvar="JUDGE_URL", help="URL of a running judge-service.",
                                  rich_help_panel="Connection")]
ApiKey = Annotated[str | None, typer.Option("--api-key", envvar="JUDGE_API_KEY", show_default=False,
                                            help="API key, sent as a Bearer token.", rich_help_panel="Connection")]
Local = Annotated[bool, typer.Option("--local", help="Run the service in this process (JUDGE_CONFIG, JUDGE_DATA_DIR) "
                                                     "instead of calling --url.", rich_help_panel="Connection")]
AsJson = Annotated[bool, typer.Option("--json", help="Print the service's answer as JSON.")]

# markup off: user text (rubrics, rationales) may contain [brackets]. soft_wrap: a verdict or an
# error message stays one line (greppable), whatever the terminal width; tables still fit it.
out = Console(highlight=False, markup=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def make_table(*headers: str, keep: tuple[str, ...] = ()) -> Table:
    """A table whose ``keep`` columns (names, ids) are never wrapped or cut; the others give way."""
    return Table(*(Column(h, no_wrap=True, min_width=len(h)) if h in keep else h for h in headers))


@contextmanager
def connect(url: str = DEFAULT_URL, api_key: str | None = None, local: bool = False) -> Iterator[JudgeClient]:
    """A client for the command's lifetime. A service error ends the command with exit code 1 and
    the service's own message (and field), which already says what to do."""
    try:
        if local:
            from judge_service.cli.local import local_transport

            client = JudgeClient("http://judge-service.local", api_key=api_key, transport=local_transport())
        else:
            client = JudgeClient(url, api_key=api_key)
        with client:
            yield client
    except (JudgeServiceError, ServiceError) as e:  # ServiceError: --local failed while building the service
        where = f" (field: {e.field})" if e.field else ""
        err.print(f"[bold red]error:[/] {escape(e.message)}{where}", markup=True)
        raise typer.Exit(1) from None


def fail(message: str) -> None:
    """A usage error found before calling the service."""
    err.print(f"[bold red]error:[/] {escape(message)}", markup=True)
    raise typer.Exit(2)


def to_jsonable(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, list):
        return [to_jsonable(v) for v in value]
    return value


def print_json(value: Any) -> None:
    # Plain stdout, not rich: the output must stay valid JSON when piped, whatever the terminal width.
    sys.stdout.write(json.dumps(to_jsonable(value), indent=2, ensure_ascii=False) + "\n")


def read_text(value: str | None) -> str | None:
    """``@path`` reads a file and ``-`` reads stdin (curl's convention), anything else is the text itself."""
    if value is None:
        return None
    if value == "-":
        return sys.stdin.read()
    if value.startswith("@"):
        path = Path(value[1:])
        if not path.is_file():
            fail(f"no file at '{path}' (a value starting with @ names a file to read)")
        return path.read_text(encoding="utf-8")
    return value


def read_messages(path: Path | None) -> list[dict[str, str]] | None:
    """The ``--messages`` file's [{role, content}, ...]; the service checks each message."""
    if path is None:
        return None
    try:
        messages: list[dict[str, str]] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        fail(f"--messages {path}: {e}; it must be a JSON list of {{role, content}} objects")
    if not isinstance(messages, list):
        fail(f"--messages {path} must hold a JSON list of {{role, content}} objects")
    return messages


def fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def figures(data: Mapping[str, Any], path: str = "") -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every {estimate, ci_low, ci_high, n} figure in an answer, named by where it sits, so figures
    the service adds later are shown without a CLI change."""
    for key, value in data.items():
        name = f"{path}.{key}" if path else str(key)
        if isinstance(value, Mapping):
            if "estimate" in value and "ci_low" in value:
                yield name, value
            else:
                yield from figures(value, name)
        elif isinstance(value, list):
            for i, v in enumerate(value):
                if isinstance(v, Mapping):
                    yield from figures(v, f"{name}.{i}")


def print_figures(data: Mapping[str, Any]) -> None:
    """A table of every figure; why a figure is missing (its ``reason``) is said once, below it."""
    found = list(figures(data))
    if not found:
        return
    level = data.get("confidence", 0.95)
    with_p = any(f.get("p_value") is not None for _, f in found)
    headers = ("figure", "estimate", f"{level:.0%} CI" if isinstance(level, float) else "CI", "n", *(("p",) if with_p else ()))
    shown = make_table(*headers, keep=headers[:3])
    reasons: dict[str, list[str]] = {}
    for name, f in found:
        row = [name, fmt(f.get("estimate")), f"[{fmt(f.get('ci_low'))}, {fmt(f.get('ci_high'))}]", fmt(f.get("n"))]
        shown.add_row(*row, *((fmt_p(f.get("p_value")),) if with_p else ()))
        if f.get("reason") and f.get("estimate") is None:
            reasons.setdefault(str(f["reason"]), []).append(name)
    out.print(shown)
    for reason, names in reasons.items():
        out.print(f"{', '.join(names)}: {reason}")


def fmt_p(p: Any) -> str:
    if p is None:
        return "-"
    return "<0.001" if p < 0.001 else f"{p:.3f}"
