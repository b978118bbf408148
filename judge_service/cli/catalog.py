"""``judge judges`` and ``judge rubrics list|show|add``: what the service can judge with."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.table import Table

from judge_service.cli.common import ApiKey, AsJson, Local, Url, DEFAULT_URL, connect, fail, fmt, make_table, out, print_json

rubrics_app = typer.Typer(help="List, show and add versioned rubrics.", no_args_is_help=True)


def judges(url: Url = DEFAULT_URL, api_key: ApiKey = None, local: Local = False, as_json: AsJson = False) -> None:
    """List the configured judges, their provider, model, family and health."""
    with connect(url, api_key, local) as client:
        found = client.judges()
    if as_json:
        return print_json(found)
    table = make_table("judge", "provider", "model", "family", "health", "default panel", keep=("judge", "model"))
    for j in found:
        table.add_row(j.name, j.provider, j.model, j.family or "-", j.health or "-", "yes" if j.in_default_panel else "")
    out.print(table)


@rubrics_app.command("list")
def list_rubrics(url: Url = DEFAULT_URL, api_key: ApiKey = None, local: Local = False, as_json: AsJson = False) -> None:
    """List rubrics with their versions and modes."""
    with connect(url, api_key, local) as client:
        found = client.rubrics()
    if as_json:
        return print_json(found)
    table = make_table("rubric", "latest", "versions", "modes", "description", keep=("rubric", "latest"))
    for r in found:
        table.add_row(r.name, f"v{r.latest_version}", ", ".join(map(str, r.versions)), ", ".join(r.modes), r.description)
    out.print(table)


@rubrics_app.command("show")
def show_rubric(
    name: Annotated[str, typer.Argument(help='rubric name, or "name@version"')],
    url: Url = DEFAULT_URL, api_key: ApiKey = None, local: Local = False, as_json: AsJson = False,
) -> None:
    """Show a rubric: its criteria, scales and anchors (latest version unless name@N)."""
    base, _, wanted = name.partition("@")
    with connect(url, api_key, local) as client:
        versions = client.rubric(base)
    if wanted:
        versions = [v for v in versions if str(v.version) == wanted]
        if not versions:
            fail(f"rubric '{base}' has no version {wanted}; `judge rubrics list` shows the versions")
    if not versions:
        fail(f"rubric '{base}' has no valid version")
    r = versions[-1]
    if as_json:
        return print_json(r)
    out.print(f"{r.name} v{r.version}  hash {r.hash[:12]}  modes: {', '.join(r.modes)}"
              f"{'  (needs a reference)' if r.requires_reference else ''}")
    out.print(r.description)
    for c in r.criteria:
        table = Table("score", "anchor", title=f"{c.name}: {c.description}", title_justify="left")
        for score, anchor in c.anchors.items():
            table.add_row(score, anchor)
        out.print(table)


@rubrics_app.command("add")
def add_rubric(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="a rubric as YAML or JSON")],
    url: Url = DEFAULT_URL, api_key: ApiKey = None, local: Local = False, as_json: AsJson = False,
) -> None:
    """Add a rubric version from a file (same schema as rubrics/<name>/v<N>.yaml)."""
    text = path.read_text(encoding="utf-8")
    try:
        body = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as e:
        fail(f"{path} is not valid {'JSON' if path.suffix.lower() == '.json' else 'YAML'}: {e}")
    if not isinstance(body, dict):
        fail(f"{path} must hold one rubric object (name, version, criteria, ...)")
    with connect(url, api_key, local) as client:
        saved = client.add_rubric(body)
    if as_json:
        return print_json(saved)
    out.print(f"rubric {saved.name} v{saved.version} saved (hash {saved.hash[:12]})")


def _names(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


@rubrics_app.command("pilot")
def pilot_rubric(
    name: Annotated[str, typer.Argument(help='rubric name, or "name@version"')],
    items: Annotated[Path, typer.Option("--items", exists=True, dir_okay=False,
                                        help="JSONL sample: id, prompt, response (or response_a/response_b), "
                                             "optional human_score / human_preference")],
    variants: Annotated[str | None, typer.Option(help="comma-separated variant names (the first is the reference); "
                                                      "default: every variant")] = None,
    judges: Annotated[str | None, typer.Option(help="comma-separated judge names; default: the panel")] = None,
    samples: Annotated[int, typer.Option(help="repeat calls per judge x variant x item (judge noise)")] = 3,
    temperature: Annotated[float, typer.Option(help="> 0 so repeat samples can differ")] = 1.0,
    seed: Annotated[int, typer.Option()] = 0,
    url: Url = DEFAULT_URL, api_key: ApiKey = None, local: Local = False, as_json: AsJson = False,
) -> None:
    """Try a rubric's wordings on a small sample before a full run: is it wording-sensitive?"""
    base, _, wanted = name.partition("@")
    if wanted and not wanted.lstrip("v").isdigit():
        fail(f"'{name}': the version after '@' must be a number, e.g. {base}@1")
    try:
        rows = [json.loads(line) for line in items.read_text(encoding="utf-8").splitlines() if line.strip()]
    except json.JSONDecodeError as e:
        fail(f"{items} is not JSONL (one JSON object per line): {e}")
    with connect(url, api_key, local) as client:
        report = client.pilot_rubric(base, rows, version=int(wanted.lstrip("v")) if wanted else None,
                                     variants=_names(variants), judges=_names(judges), samples=samples,
                                     temperature=temperature, seed=seed)
    if as_json:
        return print_json(report)
    out.print(f"pilot {report.id}: {report.rubric.name} v{report.rubric.version}, {report.n_items} items, "
              f"judges {', '.join(report.judges)}, {report.samples} sample(s)")
    out.print(report.verdict)
    for kind in ("absolute", "pairwise"):
        section = getattr(report, kind)
        if not section:
            continue
        table = make_table("variant", "mean" if kind == "absolute" else "P(A)", "sd / consistency", "noise sd",
                           "discrimination", "Δ vs ref [CI]", "cost", keep=("variant",))
        diffs = {d["variant"]: d["difference"] for d in section["differences"]}
        for variant, fig in section["per_variant"].items():
            if kind == "absolute":
                centre, second = fig["distribution"]["mean"], fig["distribution"]["sd"]
            else:
                centre, second = fig["mean_prob_a"], (fig["position_consistency"] or {}).get("estimate")
            d = diffs.get(variant)
            delta = f"{d['estimate']:+.2f} [{fmt(d['ci_low'], 2)}, {fmt(d['ci_high'], 2)}]" if d else "(reference)"
            table.add_row(variant, fmt(centre), fmt(second), fmt(fig["noise_sd"]), fmt(fig["discrimination"]), delta,
                          fmt(fig["cost_usd"], 4))
        out.print(table)
        test = section["wording_test"]
        alpha = section["agreement_between_variants"]["krippendorff_alpha"]
        if test:
            out.print(f"{kind}: wording test F = {fmt(test['f_statistic'])}, p = {fmt(test['p_value'], 4)} "
                      f"({test['basis']}); Krippendorff's alpha between variants {fmt(alpha)}")
    for w in report.warnings:
        out.print(f"warning: {w}")
