"""``judge agreement`` (statistics on labels you already have) and ``judge calibrate`` (fit a
judge to your human ratings)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from judge_service.cli.common import (
    DEFAULT_URL, ApiKey, AsJson, Local, Url, connect, err, fail, fmt, make_table, out, print_figures, print_json,
)


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a CSV, JSONL or JSON (a list of objects) file."""
    text = path.read_text(encoding="utf-8-sig")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return list(csv.DictReader(text.splitlines()))
    try:
        if suffix == ".json":
            rows = json.loads(text)
            rows = rows.get("items", rows) if isinstance(rows, dict) else rows
        else:
            rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError as e:
        fail(f"{path}: not valid JSON ({e.msg}, line {e.lineno}); give CSV, JSONL or a JSON list of objects")
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        fail(f"{path} must hold rows (objects), one per item")
    checked: list[dict[str, Any]] = rows  # a list of objects, checked just above
    return checked


def _column(rows: list[dict[str, Any]], name: str, path: Path, *, numeric: bool, allow_missing: bool = False) -> list[Any]:
    if rows and name not in rows[0]:
        fail(f"{path} has no column '{name}'; its columns are {sorted(rows[0])}")
    values: list[Any] = []  # floats, raw values and None for allowed gaps
    for i, row in enumerate(rows, start=1):
        v = row.get(name)
        if v in (None, ""):
            if not allow_missing:
                fail(f"{path} row {i}: '{name}' is empty")
            values.append(None)
        elif numeric and isinstance(v, str):
            try:
                values.append(float(v))
            except ValueError:
                fail(f"{path} row {i}: '{name}' is {v!r}, not a number (use --kind pairwise for A/B/tie votes)")
        else:
            values.append(v)
    return values


def agreement(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV, JSONL or JSON rows, one per item")],
    kind: Annotated[str, typer.Option(help="ordinal (scores on a scale), interval, nominal (categories), or pairwise "
                                           "(A/B/tie votes)")],
    a: Annotated[str | None, typer.Option("--a", help="column of the rater under test (e.g. the judge)")] = None,
    b: Annotated[str | None, typer.Option("--b", help="column of the reference rater (e.g. the human)")] = None,
    raters: Annotated[str | None, typer.Option(help="comma-separated columns, one per rater (instead of --a/--b)")] = None,
    labels: Annotated[str | None, typer.Option(help="the rating scale, comma-separated (needed for ordinal): 1,2,3,4,5")] = None,
    group: Annotated[str | None, typer.Option(help="column grouping items (prompt, document) for grouped correlations; "
                                                   "with pairwise votes, figures per group (category)")] = None,
    system: Annotated[str | None, typer.Option(help="column naming each item's system, for system-level correlations")] = None,
    a_swapped: Annotated[str | None, typer.Option("--a-swapped", help="pairwise: column of the judge's votes with the "
                                                  "responses in the other order, mapped back to the original A/B; "
                                                  "adds positional agreement and two-order accuracy")] = None,
    vote_map: Annotated[str | None, typer.Option(help="pairwise: how the file spells votes, e.g. 1=A,2=B,0=tie")] = None,
    n_resamples: Annotated[int | None, typer.Option(help="bootstrap resamples (0: point estimates only)")] = None,
    confidence: Annotated[float | None, typer.Option(help="CI level (default 0.95)")] = None,
    url: Url = DEFAULT_URL, api_key: ApiKey = None, local: Local = False, as_json: AsJson = False,
) -> None:
    """Agreement between labels you already have (judge vs human, or several raters), each figure with a CI."""
    rows = read_rows(path)
    numeric = kind in ("ordinal", "interval")
    body: dict[str, Any] = {"kind": kind, "confidence": confidence, "n_resamples": n_resamples}
    if raters:
        if a or b:
            fail("give either --raters or --a and --b")
        body["ratings"] = [_column(rows, r.strip(), path, numeric=numeric, allow_missing=True) for r in raters.split(",")]
    elif a and b:
        missing_ok = kind == "pairwise"  # an empty pairwise cell is a missing (unparseable) vote
        body["a"] = _column(rows, a, path, numeric=numeric, allow_missing=missing_ok)
        body["b"] = _column(rows, b, path, numeric=numeric, allow_missing=missing_ok)
        if a_swapped:
            body["a_swapped"] = _column(rows, a_swapped, path, numeric=False, allow_missing=True)
    else:
        fail("name the two columns to compare with --a and --b (or several with --raters)")
    if vote_map:
        try:
            body["vote_map"] = dict((k.strip(), v.strip()) for k, v in (pair.split("=", 1) for pair in vote_map.split(",")))
        except ValueError:
            fail(f"--vote-map {vote_map!r}: give spelling=vote pairs, comma-separated, e.g. 1=A,2=B,0=tie")
    if labels:
        try:
            body["labels"] = [float(x) if numeric else x.strip() for x in labels.split(",")]
        except ValueError:
            fail(f"--labels {labels!r}: give the scale's numbers, comma-separated, e.g. 1,2,3,4,5")
    if group:
        body["groups"] = _column(rows, group, path, numeric=False)
    if system:
        body["systems"] = _column(rows, system, path, numeric=False)
    with connect(url, api_key, local) as client:
        result = client.agreement(**body)
    if as_json:
        return print_json(result)
    data = result.model_dump(mode="json")
    print_figures(data)
    for part in (data.get("scores"), data.get("nominal"), data.get("pairwise"), data.get("raters")):
        for warning in (part or {}).get("warnings") or []:
            err.print(f"warning: {warning}")


def calibrate(
    ratings: Annotated[Path, typer.Argument(exists=True, dir_okay=False,
                                            help="human ratings: CSV, JSONL or JSON; long (rater, rating) or wide "
                                                 "(a column per rater) rows with id, prompt, response")],
    rubric: Annotated[str, typer.Option("--rubric", "-r", help="the rubric the humans rated with")],
    name: Annotated[str | None, typer.Option(help="a name for the rating set (default: the file name)")] = None,
    kind: Annotated[str, typer.Option(help="ordinal, interval or pairwise (A/B/tie votes)")] = "ordinal",
    judge: Annotated[list[str] | None, typer.Option("--judge", "-j", help="a judge to calibrate; repeat for a panel")] = None,
    folds: Annotated[int | None, typer.Option(help="cross-validation folds (default 5)")] = None,
    samples: Annotated[int | None, typer.Option(help="replies drawn per judge and item")] = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="wait for the fit and show it")] = True,
    poll_interval: Annotated[float, typer.Option(help="seconds between status checks")] = 1.0,
    url: Url = DEFAULT_URL, api_key: ApiKey = None, local: Local = False, as_json: AsJson = False,
) -> None:
    """Upload human ratings, judge the same items, and fit the judge to the humans (cross-validated)."""
    with connect(url, api_key, local) as client:
        rating_set = client.create_rating_set(ratings, name=name or ratings.stem, kind=kind, rubric=rubric)
        err.print(f"rating set {rating_set.id}: {rating_set.n_items} items, raters {', '.join(rating_set.raters)}")
        created = client.create_calibration(rating_set=rating_set.id, rubric=rubric, judges=judge, folds=folds,
                                            samples=samples)
        if not wait:
            return print_json(created) if as_json else out.print(created.id)
        with err.status(f"calibration {created.id}: judging {rating_set.n_items} items ..."):
            cal = client.wait_for_calibration(created.id, poll_interval=poll_interval)
    if as_json:
        return print_json(cal)
    if cal.status != "done":
        err.print(f"calibration {cal.id} {cal.status}: {cal.error or 'no reason given'}")
        raise typer.Exit(1)
    report = cal.report or {}
    print_figures({"judge_vs_human": report.get("judge_vs_human") or {}, "confidence": report.get("confidence", 0.95)})
    fit = report.get("calibration") or {}
    if "raw_mae" in fit:
        out.print(f"mean absolute error vs the humans, out of sample ({fit.get('folds')} folds): "
                  f"raw {fmt(fit.get('raw_mae'))} -> calibrated {fmt(fit.get('calibrated_mae'))}")
    ceiling = report.get("human_ceiling")
    if ceiling is None and report.get("human_ceiling_reason"):
        out.print(f"human ceiling: n/a ({report['human_ceiling_reason']})")
    out.print(f"calibration {cal.id} done; apply it with: judge grade --calibration {cal.id} ...")


def length_control_joint(
    annotations: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False,
                                                      help="AlpacaEval annotations.json (or .json.xz) files, one per "
                                                           "checkpoint, all against the same baseline")],
    url: Url = DEFAULT_URL, api_key: ApiKey = None, local: Local = False, as_json: AsJson = False,
) -> None:
    """Length-controlled win rates of several checkpoints, fitted jointly (a difficulty per instruction)."""
    import lzma

    models: dict[str, dict[str, list[Any]]] = {}
    for path in annotations:
        opener = lzma.open if path.suffix == ".xz" else open
        try:
            with opener(path, "rt", encoding="utf-8") as f:
                rows = json.load(f)
        except (json.JSONDecodeError, lzma.LZMAError, UnicodeDecodeError) as e:
            fail(f"{path}: not an AlpacaEval annotations file ({e})")
        keep = [r for r in rows if isinstance(r, dict) and r.get("preference") not in (None, "")]
        missing = {"instruction", "output_1", "output_2", "generator_2"} - set(keep[0] if keep else {})
        if not keep or missing:
            fail(f"{path}: needs AlpacaEval annotations with instruction, output_1, output_2, generator_2 and "
                 f"preference (missing: {', '.join(sorted(missing)) or 'every preference'})")
        name = str(keep[0]["generator_2"])
        if name in models:
            fail(f"{path}: checkpoint '{name}' was given twice")
        models[name] = {"items": [r["instruction"] for r in keep],
                        # AlpacaEval's preference: 1 = baseline (output_1), 2 = checkpoint (output_2)
                        "preference": [float(r["preference"]) - 1 for r in keep],
                        "delta_len": [len(r["output_2"]) - len(r["output_1"]) for r in keep]}
    with connect(url, api_key, local) as client:
        result = client.joint_length_control(models)
    if as_json:
        return print_json(result)
    table = make_table("checkpoint", "n", "win rate", "LC win rate (joint)", "95% CI", "length slope",
                       keep=("checkpoint",))
    for name, m in result.models.items():
        ci = m.length_controlled_ci
        interval = (f"[{100 * ci.ci_low:.2f}, {100 * ci.ci_high:.2f}]"
                    if ci is not None and ci.ci_low is not None and ci.ci_high is not None else "-")
        table.add_row(name, str(m.n), f"{100 * m.win_rate:.2f}", f"{100 * m.length_controlled:.2f}", interval,
                      f"{m.length_slope:+.3f}")
    out.print(table)
    out.print(f"{result.n_items} items; difficulty shared across {len(result.models)} checkpoints")
