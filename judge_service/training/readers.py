"""Readers of training logs, told apart by their content, not their names.

Each reader turns one file into ``RawRecord``s (HF names: ``loss``, ``eval_loss``,
``eval_<set>_loss``, ``learning_rate``, …) plus what the file says about the run (``LogMeta``).
``read_file`` sniffs which reader applies and raises ``InvalidInput`` naming the file when none
does. Formats (facts from each tool's writer):

- HF ``trainer_state.json``: ``log_history`` holds train entries (``loss``, ``learning_rate``,
  ``grad_norm``), eval entries (``eval_loss``, ``eval_runtime``, ``eval_samples_per_second``,
  ``eval_<metric>``; ``eval_<set>_*`` with several eval sets) and one final summary
  (``train_loss`` = the mean over the run, not a point, so it is never a series value). TRL adds
  ``mean_token_accuracy``, ``rewards/*``, ``logps/*`` to the same entries.
- LLaMA-Factory ``trainer_log.jsonl``: one object per log call, ``current_steps``, ``loss``,
  ``eval_loss``, ``lr``, ``epoch`` …; fields that were ``None`` are dropped by the writer, and a
  resumed run appends to the same file.
- TensorBoard events (``tfevents.py``), tags ``train/loss``, ``eval/loss``, ``train/epoch``.
- W&B history CSV export: a column per logged key (``train/loss``, ``eval/loss``,
  ``train/global_step``, ``_step``), empty cells where a key was not logged at that row.
- MLflow ``mlruns/<exp>/<run>/metrics/<key>``: ``timestamp value step`` per line.
- ``all_results.json`` / ``eval_results.json`` / ``train_results.json``: final figures, used as a
  cross-check of the last point.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from judge_service.errors import InvalidInput, PayloadTooLarge
from judge_service.training.series import RawRecord
from judge_service.training.tfevents import looks_like_tfevents, read_events
from judge_service.security import untrusted

MAX_RECORDS = 2_000_000  # ~100 MB of points in memory at worst; a real log has thousands
_THROUGHPUT = ("_runtime", "_samples_per_second", "_steps_per_second")
_NOT_SERIES = {"step", "epoch", "total_flos", "current_steps", "total_steps", "percentage"}


@dataclass
class LogMeta:
    best_metric: float | None = None
    best_global_step: int | None = None
    best_model_checkpoint: str | None = None
    early_stopping: dict[str, Any] | None = None
    global_step: int | None = None
    max_steps: int | None = None
    num_train_epochs: float | None = None
    eval_steps: int | None = None
    train_summary_loss: float | None = None  # HF's train_loss: the mean over the run
    eval_sizes: dict[str, list[tuple[int, float]]] = field(default_factory=dict)  # set -> (step, examples)
    results: dict[str, float] = field(default_factory=dict)  # *_results.json figures


@dataclass
class ParsedFile:
    name: str
    format: str
    records: list[RawRecord]
    meta: LogMeta
    notes: list[str] = field(default_factory=list)


FORMATS = ("hf_trainer_state", "llamafactory_jsonl", "tensorboard", "wandb_csv", "mlflow", "results_json",
           "jsonl_log_history")


def read_file(name: str, data: bytes) -> ParsedFile:
    """Sniff the format of one file and read it; ``InvalidInput(field=name)`` when nothing fits."""
    if not data.strip():
        raise InvalidInput(f"'{name}' is empty; upload the log the trainer wrote (trainer_state.json, "
                           "trainer_log.jsonl, events.out.tfevents.*, a W&B CSV or MLflow metrics)", field=name)
    if looks_like_tfevents(data):
        return _tensorboard(name, data)
    if "/metrics/" in "/" + name.replace("\\", "/") and _looks_like_mlflow(data):
        return _mlflow(name, data)
    text = _text(name, data)
    stripped = text.lstrip()
    if stripped.startswith("{") or stripped.startswith("["):
        try:
            doc = untrusted.loads(text, field=name)
        except json.JSONDecodeError:
            doc = None  # maybe JSON lines
        if isinstance(doc, dict) and isinstance(doc.get("log_history"), list):
            return _hf_state(name, doc)
        if isinstance(doc, list) and doc and all(isinstance(e, dict) for e in doc):
            return _log_entries(name, doc, "jsonl_log_history")
        if isinstance(doc, dict) and _is_results(doc):
            return _results(name, doc)
        if doc is None:
            return _jsonl(name, text)
    elif _looks_like_csv(text):
        return _wandb_csv(name, text)
    raise InvalidInput(f"'{name}' is not a training log this service reads: expected an HF trainer_state.json, a "
                       "LLaMA-Factory trainer_log.jsonl, TensorBoard events.out.tfevents.*, a W&B history CSV, an "
                       "MLflow metrics/<key> file or an *_results.json", field=name)


def _text(name: str, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput(f"'{name}' is neither UTF-8 text nor a TensorBoard events file", field=name) from None


def _num(value: Any) -> float | None:
    """JSON numbers and the strings writers use for non-finite values ("NaN", "Infinity")."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and value.strip().lower() in ("nan", "inf", "+inf", "-inf", "infinity", "-infinity"):
        return float(value.strip().lower().replace("infinity", "inf"))
    return None


def _guard(records: list[RawRecord], name: str) -> None:
    if len(records) > MAX_RECORDS:
        raise PayloadTooLarge(f"'{name}' holds more than {MAX_RECORDS} points; downsample the log", field=name)


# --- HF Trainer ---------------------------------------------------------------------------------

def _hf_state(name: str, doc: dict[str, Any]) -> ParsedFile:
    parsed = _log_entries(name, doc["log_history"], "hf_trainer_state")
    meta = parsed.meta
    meta.best_metric = _num(doc.get("best_metric"))
    meta.best_model_checkpoint = doc.get("best_model_checkpoint") if isinstance(doc.get("best_model_checkpoint"), str) else None
    best_step = doc.get("best_global_step")
    if isinstance(best_step, int):
        meta.best_global_step = best_step
    elif meta.best_model_checkpoint:
        found = re.search(r"checkpoint-(\d+)", meta.best_model_checkpoint)
        meta.best_global_step = int(found.group(1)) if found else None
    for key in ("global_step", "max_steps", "eval_steps"):
        if isinstance(doc.get(key), int):
            setattr(meta, key, doc[key])
    epochs = _num(doc.get("num_train_epochs"))
    # int64 max means "bounded by max_steps" (seen in real states), not a number of epochs
    meta.num_train_epochs = epochs if epochs is not None and epochs < 1e6 else None
    callbacks = doc.get("stateful_callbacks")
    if isinstance(callbacks, dict) and isinstance(callbacks.get("EarlyStoppingCallback"), dict):
        meta.early_stopping = callbacks["EarlyStoppingCallback"]
    return parsed


def _log_entries(name: str, entries: list[Any], fmt: str) -> ParsedFile:
    records: list[RawRecord] = []
    meta = LogMeta()
    skipped = 0
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("step"), int):
            skipped += 1
            continue
        step, epoch = entry["step"], _num(entry.get("epoch"))
        if "train_loss" in entry or "train_runtime" in entry:
            meta.train_summary_loss = _num(entry.get("train_loss"))
            continue
        for key, raw in entry.items():
            if key in _NOT_SERIES or key.endswith(_THROUGHPUT):
                continue
            value = _num(raw)
            if value is not None:
                records.append(RawRecord(key, step, value, epoch))
        _eval_sizes(entry, step, meta)
        _guard(records, name)
    parsed = ParsedFile(name, fmt, records, meta)
    if skipped:
        parsed.notes.append(f"{name}: {skipped} log entries without an integer 'step' were skipped")
    return parsed


def _eval_sizes(entry: dict[str, Any], step: int, meta: LogMeta) -> None:
    """Examples evaluated = eval_runtime × eval_samples_per_second (HF logs no eval size itself)."""
    for key, raw in entry.items():
        if key.startswith("eval_") and key.endswith("_runtime"):
            prefix = key[: -len("_runtime")]
            runtime, rate = _num(raw), _num(entry.get(prefix + "_samples_per_second"))
            if runtime and rate and math.isfinite(runtime * rate):
                eval_set = "eval" if prefix == "eval" else prefix[len("eval_"):]
                meta.eval_sizes.setdefault(eval_set, []).append((step, runtime * rate))


# --- LLaMA-Factory and other JSON lines ----------------------------------------------------------

_LF_RENAME = {"lr": "learning_rate"}


def _jsonl(name: str, text: str) -> ParsedFile:
    entries: list[dict[str, Any]] = []
    bad = 0
    for line in io.StringIO(text):
        line = line.strip()
        if not line:
            continue
        try:
            obj = untrusted.loads(line, field=name)
        except json.JSONDecodeError:
            bad += 1
            continue
        if isinstance(obj, dict):
            entries.append(obj)
    if not entries:
        raise InvalidInput(f"'{name}' is neither JSON nor JSON lines with log entries", field=name)
    if any("current_steps" in e for e in entries[:50]):
        records: list[RawRecord] = []
        for e in entries:
            step = e.get("current_steps")
            if not isinstance(step, int):
                continue
            epoch = _num(e.get("epoch"))
            for key, raw in e.items():
                value = _num(raw)  # None fields (the writer drops most) and strings are skipped
                if key in _NOT_SERIES or value is None:
                    continue
                records.append(RawRecord(_LF_RENAME.get(key, key), step, value, epoch))
            _guard(records, name)
        total = next((e["total_steps"] for e in reversed(entries) if isinstance(e.get("total_steps"), int)), None)
        parsed = ParsedFile(name, "llamafactory_jsonl", records, LogMeta(max_steps=total))
    elif any(isinstance(e.get("step"), int) for e in entries[:50]):
        parsed = _log_entries(name, entries, "jsonl_log_history")
    else:
        raise InvalidInput(f"'{name}' is JSON lines without 'current_steps' (LLaMA-Factory) or 'step' (HF "
                           "log_history) keys; it does not look like a training log", field=name)
    if bad:
        parsed.notes.append(f"{name}: {bad} lines were not JSON and were skipped (a line cut off mid-write?)")
    return parsed


# --- TensorBoard, W&B, MLflow --------------------------------------------------------------------

def tag_to_name(tag: str) -> str:
    """HF's TensorBoard and W&B callbacks rewrite ``eval_loss`` → ``eval/loss`` and ``loss`` →
    ``train/loss``; map them back so every format speaks the same names."""
    if tag.startswith("eval/"):
        return "eval_" + tag[len("eval/"):]
    if tag.startswith("train/"):
        return tag[len("train/"):]
    return tag


def _tensorboard(name: str, data: bytes) -> ParsedFile:
    events = read_events(data)
    epoch_at = {s.step: s.value for s in events.scalars if s.tag in ("train/epoch", "epoch")}
    records = [RawRecord(tag_to_name(s.tag), s.step, s.value, epoch_at.get(s.step))
               for s in events.scalars if s.tag not in ("train/epoch", "epoch")]
    _guard(records, name)
    parsed = ParsedFile(name, "tensorboard", records, LogMeta())
    if events.truncated:
        parsed.notes.append(f"{name}: the last record is cut off (the run was killed while writing); it was ignored")
    return parsed


def _looks_like_csv(text: str) -> bool:
    header = text.split("\n", 1)[0]
    return "," in header and any(k in header for k in ("_step", "global_step", "loss", "step"))


def _wandb_csv(name: str, text: str) -> ParsedFile:
    reader = csv.DictReader(io.StringIO(text))
    rows = untrusted.csv_rows(reader, field=name)
    fields = reader.fieldnames or []
    step_col = next((c for c in ("train/global_step", "global_step", "_step", "step", "Step") if c in fields), None)
    if step_col is None:
        raise InvalidInput(f"'{name}' is a CSV without a step column (train/global_step, _step or step)", field=name)
    epoch_col = next((c for c in ("train/epoch", "epoch") if c in fields), None)
    records: list[RawRecord] = []
    for _, row in rows:
        step_value = _float_cell(row.get(step_col))
        if step_value is None or not math.isfinite(step_value):
            continue
        epoch = _float_cell(row.get(epoch_col)) if epoch_col else None
        for col, cell in row.items():
            if col is None or col in (step_col, epoch_col) or col.startswith("_") or col.endswith(("__MIN", "__MAX")):
                continue
            value = _float_cell(cell)
            if value is not None:
                records.append(RawRecord(tag_to_name(col.split(" - ")[-1]), int(step_value), value, epoch))
        _guard(records, name)
    return ParsedFile(name, "wandb_csv", records, LogMeta())


def _float_cell(cell: str | None) -> float | None:
    if cell is None or not cell.strip():
        return None
    try:
        return float(cell)
    except ValueError:
        return None


def _looks_like_mlflow(data: bytes) -> bool:
    first = data.split(b"\n", 1)[0].split()
    if len(first) != 3:
        return False
    try:
        float(first[0]), float(first[1]), int(first[2])
    except ValueError:
        return False
    return True


def _mlflow(name: str, data: bytes) -> ParsedFile:
    key = name.replace("\\", "/").split("/metrics/", 1)[1]
    records: list[RawRecord] = []
    for line in data.decode("utf-8", "replace").splitlines():
        parts = line.split()
        if len(parts) != 3:
            continue
        try:
            records.append(RawRecord(key, int(parts[2]), float(parts[1])))
        except ValueError:
            continue
        _guard(records, name)
    return ParsedFile(name, "mlflow", records, LogMeta())


# --- results files ------------------------------------------------------------------------------

def _is_results(doc: dict[str, Any]) -> bool:
    return any(k.startswith(("eval_", "train_", "test_", "predict_")) and _num(v) is not None for k, v in doc.items())


def _results(name: str, doc: dict[str, Any]) -> ParsedFile:
    meta = LogMeta(results={k: v for k, raw in doc.items() if (v := _num(raw)) is not None})
    return ParsedFile(name, "results_json", [], meta)
