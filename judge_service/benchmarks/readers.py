"""Read lm-eval and lighteval output into a ``BenchmarkRun``. Metric names are discovered from the
files, never hard-coded: a results key ``"<metric>,<filter>"`` with a ``"<metric>_stderr,<filter>"``
sibling (lm-eval, schema in ``lm_eval/result_schema.py``), or ``<metric>``/``<metric>_stderr`` under a
``"<suite>|<task>|<fewshot>"`` key (lighteval). A file that is neither is an ``InvalidInput`` naming it.
"""

from __future__ import annotations

import ast
import io
import json
import re
import zipfile
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from judge_service.benchmarks.model import BenchmarkRun, MetricValue, SampleRow, TaskInfo
from judge_service.errors import InvalidInput, MissingExtra
from judge_service.security import untrusted

# Keys of a per-task results entry that are bookkeeping, not metrics.
_NOT_METRICS = {"alias", "name", "sample_len", "sample_count", " ", ""}
_SAMPLES_NAME = re.compile(r"samples_(?P<task>.+)_(?P<date>\d{4}-\d{2}-\d{2}T[\d\-.]+)\.jsonl$")
MAX_ZIP_MEMBERS = 2_000


def expand(files: Mapping[str, bytes], field: str) -> dict[str, bytes]:
    """Zips are opened (one level) so a user can send an lm-eval output folder as one file."""
    out: dict[str, bytes] = {}
    for name, data in files.items():
        if name.lower().endswith(".zip"):
            try:
                with zipfile.ZipFile(io.BytesIO(data)) as archive:
                    members = [m for m in archive.infolist() if not m.is_dir()]
                    if len(members) > MAX_ZIP_MEMBERS:
                        raise InvalidInput(f"{name} holds {len(members)} files; the limit is {MAX_ZIP_MEMBERS}", field=field)
                    for m in members:
                        base = m.filename.rsplit("/", 1)[-1]
                        if _relevant(base):
                            out[f"{name}!{m.filename}"] = archive.read(m)
            except zipfile.BadZipFile:
                raise InvalidInput(f"{name} is not a readable zip file", field=field) from None
        else:
            out[name] = data
    return out


def _relevant(name: str) -> bool:
    return name.endswith((".json", ".jsonl", ".parquet")) and not name.startswith(".")


def read_arm(label: str, files: Mapping[str, bytes], *, field: str) -> BenchmarkRun:
    """One arm from its files (results JSON, samples JSONL, lighteval details parquet, zips of them)."""
    run: BenchmarkRun | None = None
    samples: list[tuple[str, bytes]] = []
    parquets: list[tuple[str, bytes]] = []
    expanded = expand(files, field)
    if not expanded:
        raise InvalidInput(f"no files for '{label}': send an lm-eval results_<date>.json (and optional samples_*.jsonl) "
                           "or a lighteval results_<timestamp>.json", field=field)
    for name, data in sorted(expanded.items()):
        base = name.rsplit("/", 1)[-1].rsplit("!", 1)[-1]
        if base.endswith(".jsonl"):
            samples.append((name, data))
        elif base.endswith(".parquet"):
            parquets.append((name, data))
        elif base.endswith(".json"):
            doc = _json(name, data, field)
            part = _guarded(name, field, lambda: _read_results(label, name, doc, field))
            run = part if run is None else _merge(run, part, field)
        else:
            raise InvalidInput(f"'{name}' is not lm-eval or lighteval output (expected .json, .jsonl, .parquet or .zip)",
                               field=field)
    if run is None:
        raise InvalidInput(f"'{label}' has samples but no results file; send the results_<date>.json written next to them",
                           field=field)
    for name, data in samples:
        _guarded(name, field, lambda: _read_samples(run, name, data, field))
    for name, data in parquets:
        _read_details_parquet(run, name, data, field)
    return run


T = TypeVar("T")


def _guarded(name: str, field: str, read: Callable[[], T]) -> T:
    """A file that looks like lm-eval output but has a field of the wrong shape is the user's input,
    not a server fault: say which file, never answer 500."""
    try:
        return read()
    except (AttributeError, TypeError, ValueError, KeyError, SyntaxError) as e:
        raise InvalidInput(f"'{name}' does not have the layout lm-eval/lighteval write ({type(e).__name__}: {e})",
                           field=field) from None


def _json(name: str, data: bytes, field: str) -> Any:
    try:
        return untrusted.loads(data.decode("utf-8"), field=field)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InvalidInput(f"'{name}' is not valid UTF-8 JSON ({e}); is it an lm-eval/lighteval results file?",
                           field=field) from None


def _merge(a: BenchmarkRun, b: BenchmarkRun, field: str) -> BenchmarkRun:
    """Several results files of one model (lm-eval writes one per invocation) become one arm."""
    for key in b.results:
        if key in a.results:
            raise InvalidInput(f"task '{key[0]}' (filter '{key[1]}') appears in two results files of '{a.label}' "
                               f"({', '.join(a.files)} and {', '.join(b.files)}); keep one", field=field)
    a.results.update(b.results)
    a.tasks.update(b.tasks)
    a.groups.update(b.groups)
    for k, v in b.settings.items():
        a.settings.setdefault(k, v)
    a.files += b.files
    a.model = a.model or b.model
    return a


def _stderr(value: Any) -> tuple[float | None, bool]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value), True
    return None, False  # "N/A" (lm-eval writes it when it cannot bootstrap, e.g. perplexity or F1)


def _read_results(label: str, name: str, doc: Any, field: str) -> BenchmarkRun:
    if isinstance(doc, dict) and isinstance(doc.get("results"), dict) and "config_general" in doc:
        return _read_lighteval(label, name, doc)
    if not (isinstance(doc, dict) and isinstance(doc.get("results"), dict)
            and any(k in doc for k in ("configs", "n-shot", "versions", "config"))):
        raise InvalidInput(f"'{name}' is not an lm-eval results file (no 'results' with 'configs'/'versions') "
                           "nor a lighteval one (no 'config_general')", field=field)
    run = BenchmarkRun(label=label, source="lm-eval", files=[name])
    config = doc.get("config") or {}
    run.model = doc.get("model_name") or str((config.get("model_args") or "")) or None
    run.settings = {
        "limit": config.get("limit"), "fewshot_seed": config.get("fewshot_seed"),
        "random_seed": config.get("random_seed"), "gen_kwargs": config.get("gen_kwargs"),
        "chat_template_sha": doc.get("chat_template_sha"), "system_instruction_sha": doc.get("system_instruction_sha"),
        "fewshot_as_multiturn": doc.get("fewshot_as_multiturn"), "lm_eval_version": doc.get("lm_eval_version"),
    }
    run.groups = {g: list(subs) for g, subs in (doc.get("group_subtasks") or {}).items() if subs}
    n_samples = doc.get("n-samples") or {}
    hib = doc.get("higher_is_better") or {}
    for task, entry in doc["results"].items():
        if not isinstance(entry, dict):
            raise InvalidInput(f"'{name}': results['{task}'] is not an object", field=field)
        ns = n_samples.get(task) or {}
        info = TaskInfo(version=(doc.get("versions") or {}).get(task), n_shot=(doc.get("n-shot") or {}).get(task),
                        n_effective=ns.get("effective"), n_original=ns.get("original"),
                        task_hash=(doc.get("task_hashes") or {}).get(task),
                        higher_is_better={k: bool(v) for k, v in (hib.get(task) or {}).items()})
        if info.n_effective is None and task in run.groups:
            info.n_effective = sum((n_samples.get(s) or {}).get("effective") or 0 for s in run.groups[task]) or None
        run.tasks[task] = info
        for key, value in entry.items():
            if key in _NOT_METRICS or "," not in key or "_stderr," in key:
                continue
            metric, filt = key.split(",", 1)
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                continue
            se, reported = _stderr(entry.get(f"{metric}_stderr,{filt}"))
            run.results.setdefault((task, filt), {})[metric] = MetricValue(float(value), se, reported)
    if not run.results:
        raise InvalidInput(f"'{name}' has a 'results' section with no '<metric>,<filter>' values", field=field)
    return run


def _read_lighteval(label: str, name: str, doc: dict[str, Any]) -> BenchmarkRun:
    general = doc.get("config_general") or {}
    run = BenchmarkRun(label=label, source="lighteval", files=[name], model=general.get("model_name"))
    run.settings = {"limit": general.get("max_samples"), "num_fewshot_seeds": general.get("num_fewshot_seeds"),
                    "lighteval_sha": general.get("lighteval_sha")}
    summary = doc.get("summary_tasks") or {}
    for task, entry in doc["results"].items():
        if task == "all" or not isinstance(entry, dict):
            continue  # "all" averages the tasks: comparing it again would count every task twice
        parts = task.split("|")
        s = summary.get(task) or {}
        n = s.get("non_truncated", 0) + s.get("truncated", 0) if s else None
        run.tasks[task] = TaskInfo(version=(doc.get("versions") or {}).get(task),
                                   n_shot=parts[2] if len(parts) > 2 else None, n_effective=n or None,
                                   task_hash=(s.get("hashes") or {}).get("hash_examples"))
        for key, value in entry.items():
            if key.endswith("_stderr") or not isinstance(value, (int, float)) or isinstance(value, bool):
                continue
            se, reported = _stderr(entry.get(f"{key}_stderr"))
            run.results.setdefault((task, "none"), {})[key] = MetricValue(float(value), se, reported)
    return run


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _read_samples(run: BenchmarkRun, name: str, data: bytes, field: str) -> None:
    """Both schemas: newer files carry ``filter`` and ``metrics`` (the metric names); older ones have
    neither, so every numeric top-level key that is a metric of the task in the results is taken."""
    match = _SAMPLES_NAME.search(name.rsplit("/", 1)[-1].rsplit("!", 1)[-1])
    if not match:
        raise InvalidInput(f"'{name}': a samples file must be named samples_<task>_<date>.jsonl as lm-eval writes it",
                           field=field)
    task = match.group("task")
    if task not in run.tasks:
        raise InvalidInput(f"'{name}' holds samples of task '{task}', which no results file of '{run.label}' reports",
                           field=field)
    for lineno, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = untrusted.loads(line, field=field)
        except json.JSONDecodeError as e:
            raise InvalidInput(f"'{name}' line {lineno} is not JSON ({e})", field=field) from None
        if not isinstance(rec, dict) or "doc_id" not in rec:
            raise InvalidInput(f"'{name}' line {lineno} has no 'doc_id': not an lm-eval samples file", field=field)
        filt = str(rec.get("filter", "none"))
        names = rec.get("metrics")
        if isinstance(names, str):  # some writers stringify the list
            names = ast.literal_eval(names) if names.startswith("[") else [names]
        if not isinstance(names, list) or not names:
            names = list((run.results.get((task, filt)) or {}).keys())
        values = {m: v for m in names if (v := _number(rec.get(m))) is not None}
        row = SampleRow(str(rec["doc_id"]), rec.get("doc_hash"), rec.get("prompt_hash"), rec.get("target_hash"), values)
        run.samples.setdefault((task, filt), {})[row.doc_id] = row


def _read_details_parquet(run: BenchmarkRun, name: str, data: bytes, field: str) -> None:
    """lighteval's ``details_<task>_<timestamp>.parquet``: one row per doc with a ``metrics`` dict."""
    try:
        import pyarrow.parquet as pq  # type: ignore[import-not-found, import-untyped, unused-ignore]
    except ImportError:
        raise MissingExtra(f"reading '{name}' needs pyarrow: pip install 'judge-service[lighteval]'",
                           field=field) from None
    table = pq.read_table(io.BytesIO(data)).to_pylist()
    base = name.rsplit("/", 1)[-1].rsplit("!", 1)[-1]
    task = next((t for t in run.tasks if t.replace(":", "_") in base or t in base), None)
    if task is None:
        raise InvalidInput(f"'{name}': no task of '{run.label}' matches this details file", field=field)
    for i, rec in enumerate(table):
        metrics = rec.get("metrics") or rec.get("metric") or {}
        values = {k: v for k, raw in dict(metrics).items() if (v := _number(raw)) is not None}
        run.samples.setdefault((task, "none"), {})[str(i)] = SampleRow(str(i), None, None, None, values)
