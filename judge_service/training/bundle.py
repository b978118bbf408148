"""A set of uploaded files (or a zip of an ``output_dir``) → one run's normalised log.

One run, several files: an HF ``output_dir`` holds ``trainer_state.json`` at the top and in every
``checkpoint-*/``; each is the log up to that checkpoint, so the newest (largest ``global_step``)
supersedes the others instead of being merged with them (merging would count every point as a
duplicate). Several formats of the same run (a state and TensorBoard events) give each series
from the most faithful source only: HF state > LLaMA-Factory > TensorBoard > W&B > MLflow.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field

from judge_service.errors import InvalidInput, PayloadTooLarge
from judge_service.training.readers import LogMeta, read_file
from judge_service.training.series import NormalisedLog, RawRecord, normalise

MAX_FILES = 5_000
MAX_UNZIPPED_BYTES = 256 * 1024 * 1024  # a zip bomb stops here, not in memory
_PRIORITY = ("hf_trainer_state", "llamafactory_jsonl", "jsonl_log_history", "tensorboard", "wandb_csv", "mlflow")
_SKIP_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".gguf", ".model", ".npy", ".png", ".jpg",
                  ".md", ".txt", ".yaml", ".yml", ".py", ".sh", ".gitattributes")
# files an output_dir always holds that are JSON but not logs
_SKIP_NAMES = {"config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
               "special_tokens_map.json", "adapter_config.json", "preprocessor_config.json", "vocab.json",
               "added_tokens.json", "training_args.json", "model.safetensors.index.json", "LICENSE", "README",
               "NOTICE", "merges.txt"}


@dataclass
class LogBundle:
    log: NormalisedLog
    meta: LogMeta
    formats: list[str]
    sources: list[str]  # the files whose points were used
    notes: list[str] = field(default_factory=list)
    results: dict[str, float] = field(default_factory=dict)


def expand(files: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """Zips are opened (bounded), files an output_dir holds that are not logs are left out."""
    out: list[tuple[str, bytes]] = []
    total = 0
    for name, data in files:
        if data[:4] == b"PK\x03\x04":
            try:
                archive = zipfile.ZipFile(io.BytesIO(data))
            except zipfile.BadZipFile:
                raise InvalidInput(f"'{name}' looks like a zip but cannot be opened", field=name) from None
            for info in archive.infolist():
                if info.is_dir() or not wanted(info.filename):
                    continue
                total += info.file_size
                if total > MAX_UNZIPPED_BYTES or len(out) >= MAX_FILES:
                    raise PayloadTooLarge(f"'{name}' unpacks to more than {MAX_UNZIPPED_BYTES} bytes or "
                                          f"{MAX_FILES} log files; zip only the logs", field=name)
                out.append((f"{name}:{info.filename}", archive.read(info)))
        elif "/" not in name.replace("\\", "/") or wanted(name):
            # a file from inside a directory that is not a log (LICENSE, README.md) is left out;
            # a file named on its own is read, so a wrong file gets a clear 422
            out.append((name, data))
    return out


def wanted(path: str) -> bool:
    base = path.replace("\\", "/").rsplit("/", 1)[-1]
    if base.startswith(".") or base in _SKIP_NAMES or base.lower().endswith(_SKIP_SUFFIXES):
        return False
    return "/__MACOSX/" not in "/" + path


def read_bundle(files: list[tuple[str, bytes]]) -> LogBundle:
    expanded = expand(files)
    if not expanded:
        raise InvalidInput("no log files were sent; upload trainer_state.json, trainer_log.jsonl, "
                           "events.out.tfevents.*, a W&B CSV, MLflow metrics or a zip of the output_dir", field="files")
    parsed = [read_file(name, data) for name, data in expanded]
    notes = [n for p in parsed for n in p.notes]
    states = [p for p in parsed if p.format == "hf_trainer_state"]
    if len(states) > 1:
        newest = max(states, key=lambda p: (p.meta.global_step or 0, len(p.records)))
        older = [p.name for p in states if p is not newest]
        notes.append(f"used {newest.name} (global_step {newest.meta.global_step}); it supersedes {len(older)} older "
                     f"trainer_state.json ({', '.join(sorted(older)[:5])}{' …' if len(older) > 5 else ''})")
        parsed = [p for p in parsed if p.format != "hf_trainer_state" or p is newest]
    results: dict[str, float] = {}
    for p in parsed:
        results.update(p.meta.results)
    logs = sorted((p for p in parsed if p.format != "results_json"), key=lambda p: _PRIORITY.index(p.format))
    if not logs:
        raise InvalidInput("only *_results.json files were sent: they hold final figures, not a curve; add the "
                           "trainer_state.json (or another log) of the run", field="files")
    records: list[RawRecord] = []
    claimed: set[str] = set()
    sources: list[str] = []
    for p in logs:
        names = {r.name for r in p.records} - claimed
        if not names:
            if p.records:
                notes.append(f"{p.name}: every series it holds already came from a more faithful file; not used")
            continue
        records.extend(r for r in p.records if r.name in names)
        sources.append(p.name)
        # a format's series are claimed only after the whole format is read (one run may span
        # several event files or MLflow metric files)
        if p is logs[-1] or _PRIORITY.index(logs[logs.index(p) + 1].format) != _PRIORITY.index(p.format):
            claimed |= {r.name for r in records}
    meta = logs[0].meta
    for p in logs[1:]:
        for set_name, sizes in p.meta.eval_sizes.items():
            meta.eval_sizes.setdefault(set_name, sizes)
        if meta.max_steps is None:
            meta.max_steps = p.meta.max_steps
    return LogBundle(normalise(records), meta, sorted({p.format for p in logs}), sources, notes, results)
