"""``judge grade`` (absolute) and ``judge compare`` (pairwise, both orders): one verdict each."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from judge_service.cli.common import (
    DEFAULT_URL, ApiKey, AsJson, Local, Url, connect, fail, fmt, make_table, out, print_json, read_messages, read_text,
)

Rubric = Annotated[str, typer.Option("--rubric", "-r", help='"name" or "name@version"')]
Prompt = Annotated[str | None, typer.Option("--prompt", "-p", help="the user prompt (@file reads a file)")]
Messages = Annotated[Path | None, typer.Option("--messages", help="a JSON file: [{role, content}, ...] ending with a user turn")]
Reference = Annotated[str | None, typer.Option("--reference", help="reference answer, for reference-guided rubrics (@file)")]
Judges = Annotated[list[str] | None, typer.Option("--judge", "-j", help="a judge name; repeat for a panel (default: the service's panel)")]
Samples = Annotated[int | None, typer.Option("--samples", help="replies drawn per judge (and order)")]
Temperature = Annotated[float | None, typer.Option("--temperature", help="judge sampling temperature")]
Seed = Annotated[int | None, typer.Option("--seed")]


def _conversation(prompt: str | None, messages: Path | None) -> tuple[str | None, list[dict[str, str]] | None]:
    if (prompt is None) == (messages is None):
        fail("give exactly one of --prompt or --messages")
    return read_text(prompt), read_messages(messages)


def grade(
    rubric: Rubric,
    response: Annotated[str, typer.Option("--response", help="the response to grade (@file reads a file, - stdin)")],
    prompt: Prompt = None, messages: Messages = None, reference: Reference = None, judge: Judges = None,
    samples: Samples = None, temperature: Temperature = None, seed: Seed = None,
    calibration: Annotated[str | None, typer.Option("--calibration", help="id of a calibration to apply")] = None,
    url: Url = DEFAULT_URL, api_key: ApiKey = None, local: Local = False, as_json: AsJson = False,
) -> None:
    """Grade one response against a rubric."""
    prompt_text, msgs = _conversation(prompt, messages)
    with connect(url, api_key, local) as client:
        result = client.judge(rubric=rubric, response=read_text(response) or "", prompt=prompt_text, messages=msgs,
                              reference=read_text(reference), judges=judge, samples=samples,
                              temperature=temperature, seed=seed, calibration=calibration)
    if as_json:
        return print_json(result)
    calibrated = f"  calibrated {fmt(result.calibrated_score, 2)}" if result.calibrated_score is not None else ""
    out.print(f"score {fmt(result.score, 2)}{calibrated}  ({result.rubric.name} v{result.rubric.version}, {result.id})")
    table = make_table("judge", "model", "score", *result.criteria.keys(), "method", "cached", "rationale",
                       keep=("judge", "model", "score", *result.criteria.keys()))
    for j in result.judges:
        table.add_row(j.judge, j.model, fmt(j.score, 2), *(fmt(j.criteria.get(c), 2) for c in result.criteria),
                      j.method or "-", fmt(j.cached), j.error or j.rationale or "")
    out.print(table)
    if result.panel and result.panel.unscored:
        out.print(f"unscored (no verdict parsed): {', '.join(result.panel.unscored)}")


def compare(
    rubric: Rubric,
    response_a: Annotated[str, typer.Option("--response-a", "-a", help="response A (@file reads a file)")],
    response_b: Annotated[str, typer.Option("--response-b", "-b", help="response B (@file reads a file)")],
    prompt: Prompt = None, messages: Messages = None, reference: Reference = None, judge: Judges = None,
    samples: Samples = None, temperature: Temperature = None, seed: Seed = None,
    url: Url = DEFAULT_URL, api_key: ApiKey = None, local: Local = False, as_json: AsJson = False,
) -> None:
    """Compare two responses; every judge sees both orders (A first, then B first)."""
    prompt_text, msgs = _conversation(prompt, messages)
    with connect(url, api_key, local) as client:
        result = client.compare(rubric=rubric, response_a=read_text(response_a) or "",
                                response_b=read_text(response_b) or "", prompt=prompt_text, messages=msgs,
                                reference=read_text(reference), judges=judge, samples=samples,
                                temperature=temperature, seed=seed)
    if as_json:
        return print_json(result)
    out.print(f"winner {result.winner or 'none'}  P(A better) {fmt(result.prob_a)}  "
              f"orders agree: {fmt(result.consistent)}  ({result.rubric.name} v{result.rubric.version}, {result.id})")
    table = make_table("judge", "order", "winner", "P(A better)", "rationale", keep=("judge", "order", "winner"))
    for o in result.orders:
        table.add_row(o.judge, o.order, o.winner or "-", fmt(o.prob_a), o.error or o.rationale or "")
    out.print(table)
    inconsistent = [j.judge for j in result.judges if j.consistent is False]
    if inconsistent:
        out.print(f"position bias: the two orders disagreed for {', '.join(inconsistent)} (counted as a tie)")
