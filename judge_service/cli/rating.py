"""``judge rate create|status|list|rating-set``: blind human rating tasks over a run's pairs."""

from __future__ import annotations

from typing import Annotated

import typer

from judge_service.cli.common import DEFAULT_URL, ApiKey, AsJson, Local, Url, connect, make_table, out, print_json

rate_app = typer.Typer(help="Blind human rating of a run's pairs: rater links, progress, agreement.", no_args_is_help=True)


@rate_app.command("create")
def create(
    run_id: Annotated[str, typer.Argument(help="the run whose pairs are rated")],
    rater: Annotated[list[str], typer.Option("--rater", help="a rater's name (repeat the option for each rater)")],
    n_items: Annotated[int | None, typer.Option("--n-items", help="rate the run's first N items (default: all)")] = None,
    name: Annotated[str | None, typer.Option(help="the task's name")] = None,
    mode: Annotated[str, typer.Option(help="pairwise (which answer is better) or absolute (each answer on the "
                                           "rubric's anchored scale)")] = "pairwise",
    url: Url = DEFAULT_URL, api_key: ApiKey = None, local: Local = False, as_json: AsJson = False,
) -> None:
    """Create a task; prints each rater's link (shown once: send it to that rater)."""
    with connect(url, api_key, local) as client:
        task = client.create_rating_task(run_id, rater, name=name, n_items=n_items, mode=mode)
    if as_json:
        print_json(task)
        return
    out.print(f"rating task {task.id}: {task.n_items} items of run {task.run_id}, {task.mode}")
    for r in task.raters:
        out.print(f"{r.rater}: {url.rstrip('/')}{r.link}")


@rate_app.command("status")
def status(task_id: str, url: Url = DEFAULT_URL, api_key: ApiKey = None, local: Local = False,
           as_json: AsJson = False) -> None:
    """Each rater's progress and the agreement among raters so far."""
    with connect(url, api_key, local) as client:
        task = client.get_rating_task(task_id)
    if as_json:
        print_json(task)
        return
    table = make_table("rater", "rated", keep=("rater",))
    for r in task.raters:
        table.add_row(r.rater, f"{r.rated} / {task.n_units}")
    out.print(f"{task.name} ({task.id}), run {task.run_id}")
    out.print(table)
    a = task.agreement
    if a.get("alpha") is None:
        out.print(f"agreement: not yet ({a.get('reason')})")
    else:
        interval = "" if a.get("ci_low") is None else f" [{a['ci_low']:.3f}, {a['ci_high']:.3f}]"
        out.print(f"agreement: Krippendorff's alpha {a['alpha']:.3f}{interval} on {a['n_items']} items")
    if task.rating_set_id:
        out.print(f"rating set: {task.rating_set_id}")


@rate_app.command("list")
def list_tasks(run: Annotated[str | None, typer.Option("--run", help="only this run's tasks")] = None,
               url: Url = DEFAULT_URL, api_key: ApiKey = None, local: Local = False, as_json: AsJson = False) -> None:
    """Rating tasks, newest first, with their progress."""
    with connect(url, api_key, local) as client:
        tasks = client.rating_tasks(run)
    if as_json:
        print_json(tasks)
        return
    table = make_table("task", "run", "mode", "items", "rated", "alpha", keep=("task", "run"))
    for t in tasks:
        alpha = t.agreement.get("alpha")
        table.add_row(t.id, t.run_id, t.mode, str(t.n_items), ", ".join(f"{r.rater} {r.rated}" for r in t.raters),
                      "—" if alpha is None else f"{alpha:.3f}")
    out.print(table)


@rate_app.command("rating-set")
def rating_set(task_id: str, url: Url = DEFAULT_URL, api_key: ApiKey = None, local: Local = False,
               as_json: AsJson = False) -> None:
    """Store the votes so far as a pairwise rating set; then `judge calibrate` or POST /v1/calibrations."""
    with connect(url, api_key, local) as client:
        rs = client.rating_task_rating_set(task_id)
    if as_json:
        print_json(rs)
        return
    out.print(f"rating set {rs.id}: {rs.n_items} items, kind {rs.kind}")
