"""``judge run create|status|report|items``: base-vs-tuned runs from JSONL/CSV files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from judge_client import Estimate, ReportJudge, RunCost, RunReport, RunStatus
from judge_service.cli.common import (
    DEFAULT_URL, ApiKey, AsJson, Local, Url, connect, err, fmt, fmt_p, make_table, out, print_json,
)

run_app = typer.Typer(help="Batch base-vs-tuned runs: create from JSONL/CSV, follow, report, cancel.", no_args_is_help=True)

RunId = Annotated[str, typer.Argument(help="the run id (run_...)")]


class _RunProgress:
    """A rich progress bar fed by ``wait_for_run``'s status callback, on stderr so stdout stays
    the result (and stays parseable with --json)."""

    def __init__(self) -> None:
        self._progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                  TextColumn("{task.fields[failed]} failed"), TimeElapsedColumn(),
                                  console=err, transient=False)
        self._task: Any = None

    def __enter__(self) -> _RunProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def __call__(self, status: RunStatus) -> None:
        p = status.progress
        if self._task is None:
            self._task = self._progress.add_task(status.id, total=p.total, failed=0)
        description = f"{status.id} {status.status}"
        if status.batches:
            description += f" [{batches_line(status)}]"
        self._progress.update(self._task, completed=p.done + p.failed, failed=p.failed, description=description)


def batches_line(status: RunStatus) -> str:
    """The run's provider batches in one line: calls answered / sent, what the providers say."""
    sent = sum(b.submitted for b in status.batches)
    answered = sum(b.completed for b in status.batches)
    pending = sum(b.pending for b in status.batches)
    said = sorted({b.provider_status or b.status for b in status.batches if b.pending})
    return (f"{len(status.batches)} batches: {answered}/{sent} calls answered, {pending} pending"
            + (f" ({', '.join(said)})" if said else ""))


def _key_figures(report: RunReport) -> list[tuple[str, Estimate | None]]:
    rows: list[tuple[str, Estimate | None]] = []
    if report.pairwise:
        pw = report.pairwise
        rows += [("win rate", pw.win_rate), ("length-controlled win rate", pw.length_controlled_win_rate)]
        if pw.style_controlled_win_rate:
            rows.append(("style-controlled win rate", pw.style_controlled_win_rate))
        position = (pw.position or {}).get("position_consistency")
        rows.append(("position consistency", Estimate.model_validate(position) if position else None))
    if report.absolute:
        rows.append(("score difference", report.absolute.score_difference))
        if len(report.absolute.criteria) > 1:
            rows += [(f"  {name}", est) for name, est in report.absolute.criteria.items()]
        adjusted = (report.absolute.length or {}).get("adjusted")
        if adjusted:
            rows.append(("length-adjusted score difference", Estimate.model_validate(adjusted)))
    return rows


def print_report(report: RunReport) -> None:
    level = report.options.get("confidence", 0.95)
    table = make_table("figure (candidate vs baseline)", "estimate", "CI", "p", "n",
                       keep=("figure (candidate vs baseline)", "estimate", "CI"))
    table.columns[2].header = f"{level:.0%} CI"
    for name, est in _key_figures(report):
        if est is not None:
            table.add_row(name, fmt(est.estimate), f"[{fmt(est.ci_low)}, {fmt(est.ci_high)}]", fmt_p(est.p_value),
                          fmt(est.n))
    if table.row_count:
        out.print(table)
    judges = [j for j in report.judges if isinstance(j, ReportJudge)]
    if len(judges) > 1:
        per_judge = make_table("judge", "win rate", "position consistency", "score difference", "unscored", "note",
                               keep=("judge",))
        for j in judges:
            note = "excluded (self-preference)" if j.excluded else (
                f"same family as {', '.join(j.self_preferring_for)}" if j.self_preferring_for else "")
            per_judge.add_row(j.judge, *(fmt(e.estimate) if e else "-" for e in
                                         (j.win_rate, j.position_consistency, j.score_difference)),
                              str(j.unscored), note)
        out.print(per_judge)
    if report.external_judges:
        imported = make_table("imported judge", "win rate", "CI", "position consistency", "FastChat win_rate_adjusted",
                              "note", keep=("imported judge",))
        for e in report.external_judges:
            rate, fastchat = e.get("win_rate") or {}, e.get("fastchat") or {}
            imported.add_row(str(e.get("judge")), fmt(rate.get("estimate")),
                             f"[{fmt(rate.get('ci_low'))}, {fmt(rate.get('ci_high'))}]",
                             fmt((e.get("pair_consistency") or {}).get("rate")), fmt(fastchat.get("win_rate_adjusted")),
                             "in the panel" if e.get("in_panel") else "beside, not in the verdict")
        out.print(imported)
    for warning in report.warnings:
        out.print(f"warning: {warning}")
    probes: dict[str, Any] = report.pairwise.length_probes if report.pairwise else {"used": False}
    if probes.get("used"):
        slope = probes["length_slope"]
        out.print(f"length probes: {probes['n_rows']} rewrites of {probes['n_groups']} baseline answers pinned the "
                  f"length slope at {fmt(slope['estimate'])} [{fmt(slope['ci_low'])}, {fmt(slope['ci_high'])}] "
                  f"(from the pairs alone: {fmt(probes['length_slope_without_probes'])}); equal length is no longer "
                  "an extrapolation")
    p = report.progress
    out.print(f"{report.candidate} vs {report.baseline} on {report.rubric.get('name')} v{report.rubric.get('version')}:"
              f" {p.done}/{p.total} items judged, {p.failed} failed")
    out.print(report.verdict or "(the service gave no verdict)")
    if report.cost is not None:
        out.print(cost_line(report.cost))


def cost_line(cost: RunCost) -> str:
    usd = (f"${cost.usd:.4f}" if cost.usd is not None
           else f"unknown ({cost.unpriced_calls} calls to judges with no price configured)")
    direct = ""
    if cost.usd is not None and cost.direct_usd is not None and cost.direct_usd > cost.usd:
        direct = f" (${cost.direct_usd:.4f} as direct calls)"
    return (f"cost: {usd}{direct}; {cost.calls} judge calls ({cost.input_tokens} tokens in, {cost.output_tokens} out), "
            f"{cost.cached_calls} cached, {cost.failed_calls} failed")


@run_app.command("create")
def create(
    items: Annotated[Path, typer.Argument(exists=True, dir_okay=False,
                                          help="JSONL (one item per line) or CSV (id, prompt, reference?, <system>...)")],
    baseline: Annotated[str, typer.Option(help="name of the base system in the items' outputs")],
    candidate: Annotated[str, typer.Option(help="name of the tuned system in the items' outputs")],
    rubric: Annotated[str, typer.Option("--rubric", "-r", help='"name" or "name@version"')],
    judge: Annotated[list[str] | None, typer.Option("--judge", "-j", help="a judge name; repeat for a panel")] = None,
    variants: Annotated[str | None, typer.Option(help="comma-separated rubric variants (or 'all'): a panel over "
                                                      "judges x wordings")] = None,
    mode: Annotated[str, typer.Option(help="pairwise, absolute or both")] = "pairwise",
    samples: Annotated[int | None, typer.Option(help="replies drawn per judge (and order)")] = None,
    style_control: Annotated[bool, typer.Option("--style-control", help="also report a style-controlled win rate")] = False,
    target_difference: Annotated[float | None, typer.Option(help="win-rate difference you want to detect (power)")] = None,
    human_check: Annotated[str | None, typer.Option(help="a calibration id: its judge-vs-human agreement gates the "
                                                         "verdict (informative_judge)")] = None,
    execution: Annotated[list[str] | None, typer.Option(
        "--execution", "-e", help="direct, batch (the provider's batch API: half the price, answers within 24 h) or "
                                  "auto, for every judge; or JUDGE=MODE for one judge (repeat)")] = None,
    batch_min_calls: Annotated[int | None, typer.Option(help="with --execution auto: batch a judge with more calls "
                                                             "than this")] = None,
    length_probes: Annotated[str | None, typer.Option(
        "--length-probes", help="REWRITER[:N]: a configured judge rewrites N (default 50) of the baseline's answers "
                                "verbose and concise, and the judges' verdicts on them pin the length-controlled "
                                "win rate's length slope")] = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="follow the run to its report")] = True,
    poll_interval: Annotated[float, typer.Option(help="seconds between status checks")] = 1.0,
    timeout: Annotated[float | None, typer.Option(help="give up waiting after this many seconds")] = None,
    url: Url = DEFAULT_URL, api_key: ApiKey = None, local: Local = False, as_json: AsJson = False,
) -> None:
    """Start a run from a file, show its progress, and print the verdict."""
    options: dict[str, Any] = {}
    if style_control:
        options["style_control"] = True
    if target_difference is not None:
        options["target_difference"] = target_difference
    if human_check is not None:
        options["human_check"] = human_check
    with connect(url, api_key, local) as client:
        created = client.upload_run(items, baseline=baseline, candidate=candidate, rubric=rubric, judges=judge,
                                    mode=mode, samples=samples, options=options or None,
                                    rubric_variants=[v.strip() for v in variants.split(",") if v.strip()]
                                    if variants else None,
                                    execution=_execution(execution), batch_min_calls=batch_min_calls,
                                    length_probes=_length_probes(length_probes))
        if not wait:
            if local:
                err.print("note: with --local the run stops when this command exits; it resumes the next time "
                          "the service starts on the same JUDGE_DATA_DIR")
            return print_json(created) if as_json else out.print(created.id)
        err.print(f"run {created.id} started; `judge run status {created.id}` follows it from elsewhere")
        with _RunProgress() as bar:
            status = client.wait_for_run(created.id, poll_interval=poll_interval, timeout=timeout, progress=bar)
        if status.status == "failed":
            err.print(f"run {created.id} failed: {status.error or 'no reason given'}")
            raise typer.Exit(1)
        report = client.run_report(created.id)
    print_json(report) if as_json else print_report(report)


def _length_probes(value: str | None) -> dict[str, Any] | None:
    """``--length-probes rewriter`` or ``--length-probes rewriter:30``."""
    if value is None:
        return None
    name, sep, count = value.partition(":")
    if not name or (sep and not count.isdigit()):
        err.print(f"--length-probes {value!r}: give a judge name, optionally with a sample size (REWRITER or "
                  "REWRITER:N, e.g. gpt-4o-mini:50)")
        raise typer.Exit(2)
    return {"rewriter": name} | ({"sample": int(count)} if sep else {})


def _execution(values: list[str] | None) -> str | dict[str, str] | None:
    """``--execution batch`` (every judge) or ``--execution gpt=batch --execution claude=direct``."""
    if not values:
        return None
    if len(values) == 1 and "=" not in values[0]:
        return values[0]
    per_judge = {}
    for value in values:
        name, sep, mode = value.partition("=")
        if not sep or not name or not mode:
            err.print(f"--execution {value!r}: give one mode for every judge (batch) or JUDGE=MODE for each judge")
            raise typer.Exit(2)
        per_judge[name] = mode
    return per_judge


@run_app.command("cancel")
def cancel(run_id: RunId, url: Url = DEFAULT_URL, api_key: ApiKey = None, local: Local = False,
           as_json: AsJson = False) -> None:
    """Stop a queued or running run and cancel its provider batches (judged items are kept)."""
    with connect(url, api_key, local) as client:
        cancelled = client.cancel_run(run_id)
    print_json(cancelled) if as_json else out.print(f"{cancelled.id} {cancelled.status}")


@run_app.command("status")
def status(run_id: RunId, url: Url = DEFAULT_URL, api_key: ApiKey = None, local: Local = False,
           as_json: AsJson = False) -> None:
    """A run's status and progress."""
    with connect(url, api_key, local) as client:
        st = client.run_status(run_id)
    if as_json:
        return print_json(st)
    p = st.progress
    out.print(f"{st.id} {st.status}: {p.done}/{p.total} done, {p.failed} failed, {p.pending} pending"
              f"  ({st.candidate} vs {st.baseline}, {st.mode})" + (f"\nerror: {st.error}" if st.error else ""))
    if st.batches:
        out.print(batches_line(st))
        for b in st.batches:
            out.print(f"  {b.id} {b.judge}: {b.status} ({b.provider_status or '-'}), {b.completed}/{b.submitted} answered, "
                      f"{b.failed} failed, {b.pending} pending" + (f"; {b.error}" if b.error else ""))
    if st.cost is not None:
        out.print(cost_line(st.cost))


@run_app.command("report")
def report(run_id: RunId, url: Url = DEFAULT_URL, api_key: ApiKey = None, local: Local = False,
           as_json: AsJson = False) -> None:
    """A run's decision: win rates and score deltas with CIs, n, and the one-line verdict."""
    with connect(url, api_key, local) as client:
        rep = client.run_report(run_id)
    print_json(rep) if as_json else print_report(rep)


def _item_summary(result: dict[str, Any] | None) -> tuple[str, str]:
    """(winner, scores) from one item's result, as the client's RunItemResult.result holds it."""
    if not result:
        return "-", "-"
    pairwise = result.get("pairwise") or {}
    absolute = result.get("absolute") or {}
    scores = " / ".join(f"{role} {fmt((absolute.get(role) or {}).get('score'), 2)}"
                        for role in ("baseline", "candidate") if absolute.get(role))
    return str(pairwise.get("winner", "-")), scores or "-"


@run_app.command("items")
def items(run_id: RunId, url: Url = DEFAULT_URL, api_key: ApiKey = None, local: Local = False,
          as_json: AsJson = False) -> None:
    """Every item's verdict in a run."""
    with connect(url, api_key, local) as client:
        found = client.run_items(run_id)
    if as_json:
        return print_json(found)
    table = make_table("item", "status", "winner", "scores", "error", keep=("item", "status", "winner"))
    for it in found:
        winner, scores = _item_summary(it.result)
        table.add_row(it.id, it.status, winner, scores, it.error or "")
    out.print(table)


@run_app.command("compare")
def compare(run_id: RunId, other_id: Annotated[str, typer.Argument(help="the other run's id")],
            url: Url = DEFAULT_URL, api_key: ApiKey = None, local: Local = False, as_json: AsJson = False) -> None:
    """Two runs' headlines side by side; warns, with a diff of the rubric texts, when their rubrics differ."""
    with connect(url, api_key, local) as client:
        found = client.compare_runs(run_id, other_id)
    if as_json:
        return print_json(found)
    for r in found.runs:
        h = r.get("headline") or {}
        out.print(f"{r['id']}: {r['rubric']['name']}@{r['rubric']['version']}  {r.get('headline_metric') or '-'} "
                  f"{fmt(h.get('estimate'))} [{fmt(h.get('ci_low'))}, {fmt(h.get('ci_high'))}]  {r.get('verdict') or ''}")
    for w in found.warnings:
        err.print(f"warning: {w}")
    if found.rubric_diff:
        out.print(found.rubric_diff, markup=False, highlight=False)
