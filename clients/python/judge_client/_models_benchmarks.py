"""Models of a benchmark comparison (``POST /v1/benchmark-comparisons``), and how one is sent."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from judge_client._api import Call
from judge_client._models import Estimate, ServiceModel

ArmArg = str | Path


class BenchmarkRow(ServiceModel):
    """One (task, filter, metric): ``status`` is improved / regressed / equivalent / inconclusive."""

    task: str
    filter: str
    metric: str
    kind: str
    base: float | None = None
    tuned: float | None = None
    difference: Estimate
    improvement: float | None = None
    higher_is_better: bool = True
    method: str
    margin: float | None = None
    margin_basis: str = ""
    p_value: float | None = None
    p_holm: float | None = None
    p_bh: float | None = None
    tost_p: float | None = None
    mdd: float | None = None
    se: float | None = None
    status: str
    base_only: int | None = None
    tuned_only: int | None = None
    wilcoxon_p: float | None = None
    correlation_needed: float | None = None
    exact_p: float | None = None
    note: str | None = None


class ParityFinding(ServiceModel):
    field: str
    severity: str
    message: str
    task: str | None = None
    base: Any = None
    tuned: Any = None


class BenchmarkParity(ServiceModel):
    ok: bool
    valid: bool
    findings: list[ParityFinding] = []


class BenchmarkWarning(ServiceModel):
    code: str
    message: str
    task: str | None = None


class BenchmarkPair(ServiceModel):
    base: str
    tuned: str
    alpha: float
    margin: float
    rows: list[BenchmarkRow]
    counts: dict[str, int]
    gate_failed: bool
    parity: BenchmarkParity
    warnings: list[BenchmarkWarning] = []


class BenchmarkComparison(ServiceModel):
    """Base against each other arm (tuned, then checkpoints in order)."""

    id: str
    run_id: str | None = None
    arms: list[str]
    comparisons: list[BenchmarkPair]
    gate_failed: bool
    options: dict[str, Any] = {}
    created_at: str


RELEVANT = (".json", ".jsonl", ".parquet")


def arm_file(arm: ArmArg) -> tuple[str, bytes]:
    """A results file or zip is sent as is; a folder (lm-eval's output dir) is zipped in memory."""
    path = Path(arm)
    if path.is_dir():
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for f in sorted(path.rglob("*")):
                if f.is_file() and f.name.endswith(RELEVANT) and not f.name.startswith("."):
                    archive.write(f, f.relative_to(path).as_posix())
        return f"{path.name}.zip", buffer.getvalue()
    if not path.is_file():
        raise FileNotFoundError(f"no file or folder at '{path}': pass an lm-eval output folder, a results JSON or a zip")
    return path.name, path.read_bytes()


def _label(arm: ArmArg) -> str:
    path = Path(arm)
    return path.name if path.is_dir() else path.stem


def compare_benchmarks_call(base: ArmArg, tuned: ArmArg, checkpoints: Sequence[ArmArg], *,
                            tasks: Sequence[str] | None, margin: float | None, alpha: float | None,
                            n_resamples: int | None, seed: str | None, strict: bool | None, run_id: str | None,
                            labels: Mapping[str, str] | None) -> Call[BenchmarkComparison]:
    files: list[tuple[str, tuple[str, bytes]]] = [("base", arm_file(base)), ("tuned", arm_file(tuned))]
    files += [("checkpoint", arm_file(c)) for c in checkpoints]
    names = {"base": _label(base), "tuned": _label(tuned)}
    names.update({f"checkpoint_{i}": _label(c) for i, c in enumerate(checkpoints, 1)})
    names.update(labels or {})
    options: dict[str, Any] = {k: v for k, v in {"tasks": list(tasks) if tasks else None, "margin": margin, "alpha": alpha,
                                 "n_resamples": n_resamples, "seed": seed, "strict": strict, "run_id": run_id}.items()
               if v is not None}
    options["labels"] = names
    return Call("POST", "/v1/benchmark-comparisons", files=files,  # type: ignore[arg-type]
                data={"options": json.dumps(options)}, cast=BenchmarkComparison.model_validate)


def get_benchmark_comparison_call(comparison_id: str) -> Call[BenchmarkComparison]:
    from judge_client._api import _seg

    return Call("GET", f"/v1/benchmark-comparisons/{_seg(comparison_id)}", cast=BenchmarkComparison.model_validate)


def run_benchmark_comparisons_call(run_id: str) -> Call[list[BenchmarkComparison]]:
    from judge_client._api import _seg
    from pydantic import TypeAdapter

    return Call("GET", f"/v1/runs/{_seg(run_id)}/benchmark-comparisons",
                cast=TypeAdapter(list[BenchmarkComparison]).validate_python)


def attach_benchmark_comparison_call(comparison_id: str, run_id: str) -> Call[BenchmarkComparison]:
    from judge_client._api import _seg

    return Call("POST", f"/v1/benchmark-comparisons/{_seg(comparison_id)}/attach", json={"run_id": run_id},
                cast=BenchmarkComparison.model_validate)
