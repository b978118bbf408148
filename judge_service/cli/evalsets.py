"""``judge eval-set save|list|history|show|diff``: versioned eval sets."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from judge_service.cli.common import DEFAULT_URL, ApiKey, AsJson, Local, Url, connect, make_table, out, print_json

evalset_app = typer.Typer(help="Versioned eval sets: save, list, history, show, diff.", no_args_is_help=True)


@evalset_app.command("save")
def save(
    name: Annotated[str, typer.Argument(help="the eval set's name")],
    items: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="JSON list or JSONL of items")],
    note: Annotated[str | None, typer.Option(help="changelog entry for this version")] = None,
    overlap_index: Annotated[str | None, typer.Option(help="a training-data index id (judge overlap index): "
                                                           "flag items found in the training set")] = None,
    url: Url = DEFAULT_URL, api_key: ApiKey = None, local: Local = False, as_json: AsJson = False,
) -> None:
    """Save items as the next version (the same content again keeps its version)."""
    with connect(url, api_key, local) as client:
        saved = client.save_eval_set(name, items, note=note, overlap_index_id=overlap_index)
    if as_json:
        print_json(saved)
        return
    verb = "saved as" if saved.created else "unchanged:"
    out.print(f"{saved.name} {verb} version {saved.version} ({saved.n_items} items, {saved.content_hash[:12]}): "
              f"{saved.changes}")
    c = saved.contamination
    if c is not None:
        out.print(f"training-data check ({c.index_id}, report {c.report_id}): {c.contaminated} of {c.n} item(s) "
                  f"found in the training data" + (f": {', '.join(c.flagged)}" if c.flagged else ""))
        if c.warning:
            out.print(f"warning: {c.warning}")


@evalset_app.command("list")
def list_sets(url: Url = DEFAULT_URL, api_key: ApiKey = None, local: Local = False, as_json: AsJson = False) -> None:
    """Every eval set with its latest version."""
    with connect(url, api_key, local) as client:
        rows = client.list_eval_sets()
    if as_json:
        print_json(rows)
        return
    table = make_table("name", "latest", "items", keep=("name",))
    for r in rows:
        table.add_row(r.name, str(r.latest_version), str(r.n_items))
    out.print(table)


@evalset_app.command("history")
def history(name: str, url: Url = DEFAULT_URL, api_key: ApiKey = None, local: Local = False,
            as_json: AsJson = False) -> None:
    """The versions of one eval set with their notes."""
    with connect(url, api_key, local) as client:
        hist = client.eval_set_history(name)
    if as_json:
        print_json(hist)
        return
    table = make_table("version", "items", "hash", "created", "note")
    for v in hist.versions:
        table.add_row(str(v.version), str(v.n_items), v.content_hash[:12], v.created_at.isoformat(timespec="seconds"),
                      v.note or "")
    out.print(table)


@evalset_app.command("show")
def show(name: str, version: Annotated[int, typer.Option(help="the version to print")],
         url: Url = DEFAULT_URL, api_key: ApiKey = None, local: Local = False) -> None:
    """Print one version's items as JSON."""
    with connect(url, api_key, local) as client:
        print_json(client.get_eval_set(name, version))


@evalset_app.command("diff")
def diff(name: str, from_version: Annotated[int, typer.Argument(help="the older version")],
         to_version: Annotated[int | None, typer.Argument(help="the newer version (default: latest)")] = None,
         url: Url = DEFAULT_URL, api_key: ApiKey = None, local: Local = False, as_json: AsJson = False) -> None:
    """Item ids added, removed and changed between two versions."""
    with connect(url, api_key, local) as client:
        d = client.diff_eval_set(name, from_version, to_version)
    if as_json:
        print_json(d)
        return
    out.print(f"{d.name} v{d.from_version} → v{d.to_version}: {d.summary}")
    for label, ids in (("added", d.added), ("removed", d.removed), ("changed", d.changed)):
        if ids:
            out.print(f"  {label}: {', '.join(ids)}")
