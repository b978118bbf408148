"""Readers for the logs users already have, chosen by sniffing the content (never by file name alone).

- Hugging Face ``trainer_state.json``: ``log_history`` holds three kinds of entries told apart by
  their keys: train (``loss``, ``learning_rate``, ``grad_norm``), eval (``eval_loss``,
  ``eval_<metric>``, ``eval_<name>_loss`` for several eval sets) and the final summary, whose
  ``train_loss`` is the mean over the run (not a point, so it is kept aside).
- LLaMA-Factory ``trainer_log.jsonl``: one object per line (``current_steps``, ``loss``,
  ``eval_loss``, ``lr``, ``epoch``); ``None`` fields are dropped and lines are sometimes written twice.
- W&B history CSV exports (a ``_step`` column, one column per metric, e.g. ``train/loss``).
- MLflow metric files (``mlruns/<exp>/<run>/metrics/<key>``: ``timestamp value step`` per line).
Everything is stdlib: these formats are small and stable, and a reader per format is a few lines.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from judge_service.errors import InvalidInput
from judge_service.training.series import TrainingLog

# Keys of HF eval entries that are timings, not metrics.
_EVAL_TIMING = {"eval_runtime", "eval_samples_per_second", "eval_steps_per_second"}
_TRAIN_KEYS = {"loss": "train_loss", "learning_rate": "learning_rate", "grad_norm": "grad_norm",
               "mean_token_accuracy": "train_mean_token_accuracy"}
# W&B and TensorBoard tag spellings → our names.
_TAG_NAMES = {"train/loss": "train_loss", "eval/loss": "eval_loss", "train/learning_rate": "learning_rate",
              "train/grad_norm": "grad_norm", "loss": "train_loss"}


@dataclass(frozen=True)
class LogFile:
    name: str
    text: str


def _hf_state(f: LogFile, state: dict[str, Any]) -> TrainingLog:
    history = state.get("log_history")
    if not isinstance(history, list):
        raise InvalidInput(f"{f.name}: log_history is not a list", field=f.name)
    log = TrainingLog(f.name, "hf_trainer_state")
    for key in ("best_metric", "best_global_step", "best_model_checkpoint", "global_step", "max_steps",
                "num_train_epochs", "eval_steps", "logging_steps", "save_steps"):
        if key in state:
            log.meta[key] = state[key]
    callbacks = state.get("stateful_callbacks")
    if isinstance(callbacks, dict) and isinstance(callbacks.get("EarlyStoppingCallback"), dict):
        log.meta["early_stopping"] = callbacks["EarlyStoppingCallback"].get("args")
    for entry in history:
        if not isinstance(entry, dict) or not isinstance(entry.get("step"), int):
            continue
        step, epoch = entry["step"], entry.get("epoch")
        epoch = float(epoch) if isinstance(epoch, (int, float)) else None
        if "train_loss" in entry and "loss" not in entry:
            value = entry["train_loss"]
            log.summary_train_loss = float(value) if isinstance(value, (int, float)) else None
            continue
        if any(k.startswith("eval_") for k in entry):
            for key, value in entry.items():
                if key.startswith("eval_") and key not in _EVAL_TIMING:
                    log.add(key, step, epoch, value)
            runtime, rate = entry.get("eval_runtime"), entry.get("eval_samples_per_second")
            if isinstance(runtime, (int, float)) and isinstance(rate, (int, float)):
                log.eval_sizes.append((step, float(runtime) * float(rate)))
            continue
        for key, name in _TRAIN_KEYS.items():
            if key in entry:
                log.add(name, step, epoch, entry[key])
        for key, value in entry.items():  # TRL's DPO keys (rewards/chosen, …)
            if key.startswith(("rewards/", "logps/", "logits/")):
                log.add(key, step, epoch, value)
    return log


def _llama_factory(f: LogFile, rows: list[dict[str, Any]]) -> TrainingLog:
    log = TrainingLog(f.name, "llama_factory")
    total = None
    for row in rows:
        step = row.get("current_steps")
        if not isinstance(step, int):
            continue
        total = row.get("total_steps", total)
        epoch = row.get("epoch") if isinstance(row.get("epoch"), (int, float)) else None
        for key, name in (("loss", "train_loss"), ("eval_loss", "eval_loss"), ("lr", "learning_rate"),
                          ("accuracy", "train_accuracy"), ("grad_norm", "grad_norm")):
            if row.get(key) is not None:
                log.add(name, step, epoch, row[key])
        for key, value in row.items():
            if key.startswith("eval_") and key != "eval_loss" and value is not None:
                log.add(key, step, epoch, value)
    if isinstance(total, int):
        log.meta["max_steps"] = total
    return log


def _wandb_csv(f: LogFile) -> TrainingLog:
    reader = csv.DictReader(io.StringIO(f.text))
    log = TrainingLog(f.name, "wandb_csv")
    for row in reader:
        try:
            step = int(float(row.get("_step") or row.get("train/global_step") or ""))
        except ValueError:
            continue
        epoch_text = row.get("train/epoch") or row.get("epoch")
        try:
            epoch = float(epoch_text) if epoch_text else None
        except ValueError:
            epoch = None
        for key, text in row.items():
            if key is None or key.startswith("_") or key in ("train/epoch", "epoch", "train/global_step") or not text:
                continue
            try:
                value = float(text)
            except ValueError:
                continue
            log.add(_TAG_NAMES.get(key, key.replace("/", "_")), step, epoch, value)
    return log


_MLFLOW_LINE = re.compile(r"^\s*\d+\s+\S+\s+-?\d+\s*$")


def _mlflow(f: LogFile) -> TrainingLog:
    key = f.name.replace("\\", "/").rsplit("/", 1)[-1]
    log = TrainingLog(f.name, "mlflow")
    for line in f.text.splitlines():
        if not line.strip():
            continue
        _, value, step = line.split()
        log.add(_TAG_NAMES.get(key, key), int(step), None, float(value))
    return log


def _jsonl(text: str) -> list[dict[str, Any]] | None:
    rows = []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            return None
        if not isinstance(row, dict):
            return None
        rows.append(row)
    return rows or None


def read_log(f: LogFile) -> TrainingLog | None:
    """The log in ``f``, or None when it is a results file (``all_results.json``) read as a cross-check."""
    text = f.text.lstrip("\ufeff")
    stripped = text.lstrip()
    if not stripped:
        raise InvalidInput(f"{f.name} is empty", field=f.name)
    if stripped.startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            data = None
        if isinstance(data, dict):
            if "log_history" in data:
                log = _hf_state(f, data)
                log.normalise()
                return log
            if any(k.startswith(("train_", "eval_")) for k in data) and "current_steps" not in data:
                return None  # all_results.json / eval_results.json: used as a cross-check only
        rows = _jsonl(text)
        if rows and any("current_steps" in r for r in rows):
            log = _llama_factory(f, rows)
            log.normalise()
            return log
    else:
        first = stripped.splitlines()[0]
        if "_step" in first.split(","):
            log = _wandb_csv(f)
            log.normalise()
            return log
        if all(_MLFLOW_LINE.match(line) for line in stripped.splitlines()[:20]):
            log = _mlflow(f)
            log.normalise()
            return log
    raise InvalidInput(f"{f.name} is not a training log this service reads (HF trainer_state.json, LLaMA-Factory "
                       "trainer_log.jsonl, a W&B history CSV or an MLflow metric file)", field=f.name)


def _checkpoint_step(name: str) -> int | None:
    m = re.search(r"checkpoint-(\d+)[/\\]trainer_state\.json$", name.replace("\\", "/"))
    return int(m.group(1)) if m else None


def read_logs(files: Sequence[LogFile]) -> tuple[TrainingLog, dict[str, Any]]:
    """One run from several files: an output dir's newest ``checkpoint-*/trainer_state.json``
    supersedes older ones (each holds the whole history up to its step); MLflow metric files of one
    run merge into one log; results files come back as the cross-check."""
    if not files:
        raise InvalidInput("no training log given", field="files")
    results: dict[str, Any] = {}
    logs: list[TrainingLog] = []
    for f in files:
        base = f.name.replace("\\", "/").rsplit("/", 1)[-1]
        if base.endswith("results.json"):
            try:
                data = json.loads(f.text)
            except json.JSONDecodeError:
                raise InvalidInput(f"{f.name} is not JSON", field=f.name) from None
            if isinstance(data, dict):
                results[f.name] = data
            continue
        log = read_log(f)
        if log is None:
            results[f.name] = json.loads(f.text)
        else:
            logs.append(log)
    if not logs:
        raise InvalidInput("only results files were given; send the trainer_state.json (or another log) too",
                           field="files")
    states = [lg for lg in logs if lg.format == "hf_trainer_state"]
    if len(states) > 1:
        def rank(lg: TrainingLog) -> int:
            step = _checkpoint_step(lg.source)
            gs = lg.meta.get("global_step")
            return step if step is not None else (gs if isinstance(gs, int) else -1)
        logs = [max(states, key=rank)] + [lg for lg in logs if lg.format != "hf_trainer_state"]
    if len(logs) > 1 and all(lg.format == "mlflow" for lg in logs):
        merged = TrainingLog("+".join(lg.source for lg in logs), "mlflow")
        for lg in logs:
            merged.series.update(lg.series)
            merged.non_finite.extend(lg.non_finite)
        return merged, results
    if len(logs) > 1:
        raise InvalidInput(f"{len(logs)} separate logs given ({', '.join(lg.source for lg in logs)}); analyse one "
                           "run at a time", field="files")
    return logs[0], results
