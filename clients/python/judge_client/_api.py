"""The endpoints, once: each function turns a method's arguments into a ``Call``. The sync and
async clients only differ in how they send a Call, so their surfaces cannot drift apart."""

from __future__ import annotations

import json as _json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic
from urllib.parse import quote

from pydantic import TypeAdapter
# typing_extensions (a dependency of pydantic) for a TypeVar default: a bare ``Call`` means Call[Any].
from typing_extensions import TypeVar

from judge_client import _models as m
from judge_client._items import RecordsFrame, as_path, to_items, to_rows

MessagesArg = Sequence[Mapping[str, str] | m.Message]

T = TypeVar("T", default=Any)  # what a Call's answer parses to
M = TypeVar("M", bound=m.ServiceModel)


@dataclass(frozen=True)
class Call(Generic[T]):
    """One request, and how to parse its answer; ``_send(call)`` returns a ``T``."""

    method: str
    path: str
    json: Any = None
    files: dict[str, Any] | None = None
    data: dict[str, str] | None = None
    params: dict[str, Any] | None = None
    cast: Callable[[Any], T] | None = None
    text: bool = False  # the answer is text (an SVG, an HTML report), not JSON

    def parse(self, payload: Any) -> T:
        return self.cast(payload) if self.cast else payload


def _model(cls: type[M]) -> Callable[[Any], M]:
    return cls.model_validate


def _list_of(cls: type[M]) -> Callable[[Any], list[M]]:
    return TypeAdapter(list[cls]).validate_python  # type: ignore[valid-type]


def _seg(value: str) -> str:
    """A path segment: ids and names are quoted so '/' or '?' in them cannot change the route."""
    return quote(str(value), safe="@")


def _body(**fields: Any) -> dict[str, Any]:
    """Leave unset arguments out, so the service's documented defaults apply."""
    return {k: v for k, v in fields.items() if v is not None}


def _list(values: Sequence[str] | None) -> list[str] | None:
    return list(values) if values is not None else None


def _messages(messages: MessagesArg | None) -> list[dict[str, str]] | None:
    if messages is None:
        return None
    return [x.model_dump(include={"role", "content"}) if isinstance(x, m.Message) else dict(x) for x in messages]


# --- catalog ---------------------------------------------------------------------------------

def health() -> Call[dict[str, Any]]:
    return Call("GET", "/healthz")


def judges() -> Call[list[m.JudgeInfo]]:
    return Call("GET", "/v1/judges", cast=_list_of(m.JudgeInfo))


def rubrics() -> Call[list[m.RubricSummary]]:
    return Call("GET", "/v1/rubrics", cast=_list_of(m.RubricSummary))


def rubric(name: str) -> Call[list[m.RubricVersion]]:
    return Call("GET", f"/v1/rubrics/{_seg(name)}", cast=_list_of(m.RubricVersion))


def add_rubric(rubric: Mapping[str, Any]) -> Call[m.RubricVersion]:
    return Call("POST", "/v1/rubrics", json=dict(rubric), cast=_model(m.RubricVersion))


def pilot_rubric(name: str, items: Iterable[Mapping[str, Any]] | str | Path, *, version: int | None = None,
                 variants: Sequence[str] | None = None, judges: Sequence[str] | None = None,
                 samples: int | None = None, temperature: float | None = None, seed: int | None = None,
                 alpha: float | None = None) -> Call[m.RubricPilot]:
    if isinstance(items, (str, Path)):
        lines = Path(items).read_text(encoding="utf-8").splitlines()
        rows: list[dict[str, Any]] = [_json.loads(line) for line in lines if line.strip()]
    else:
        rows = [dict(i) for i in items]
    return Call("POST", f"/v1/rubrics/{_seg(name)}/pilot", cast=_model(m.RubricPilot), json=_body(
        items=rows, version=version, variants=list(variants) if variants is not None else None,
        judges=list(judges) if judges is not None else None, samples=samples, temperature=temperature, seed=seed,
        alpha=alpha))


def rubric_pilot(pilot_id: str) -> Call[m.RubricPilot]:
    return Call("GET", f"/v1/rubric-pilots/{_seg(pilot_id)}", cast=_model(m.RubricPilot))


# --- judging ---------------------------------------------------------------------------------

def _judge_input(rubric: str, prompt: str | None, messages: MessagesArg | None, reference: str | None,
                 judges: Sequence[str] | None, samples: int | None, temperature: float | None,
                 seed: int | None) -> dict[str, Any]:
    return _body(rubric=rubric, prompt=prompt, messages=_messages(messages), reference=reference,
                 judges=list(judges) if judges is not None else None, samples=samples,
                 temperature=temperature, seed=seed)


def judge(*, rubric: str, response: str, prompt: str | None, messages: MessagesArg | None, reference: str | None,
          judges: Sequence[str] | None, samples: int | None, temperature: float | None, seed: int | None,
          calibration: str | None, rubric_variants: Sequence[str] | None = None,
          history: Sequence[str] | None = None) -> Call[m.Judgment]:
    body = _judge_input(rubric, prompt, messages, reference, judges, samples, temperature, seed)
    return Call("POST", "/v1/judgments", json=body | _body(response=response, calibration=calibration,
                                                          rubric_variants=_list(rubric_variants),
                                                          history=_list(history)),
                cast=_model(m.Judgment))


def compare(*, rubric: str, response_a: str, response_b: str, prompt: str | None, messages: MessagesArg | None,
            reference: str | None, judges: Sequence[str] | None, samples: int | None, temperature: float | None,
            seed: int | None, rubric_variants: Sequence[str] | None = None, history_a: Sequence[str] | None = None,
            history_b: Sequence[str] | None = None) -> Call[m.Comparison]:
    body = _judge_input(rubric, prompt, messages, reference, judges, samples, temperature, seed)
    return Call("POST", "/v1/comparisons", json=body | {"response_a": response_a, "response_b": response_b}
                | _body(rubric_variants=_list(rubric_variants), history_a=_list(history_a), history_b=_list(history_b)),
                cast=_model(m.Comparison))


def get_judgment(judgment_id: str) -> Call[m.Judgment]:
    return Call("GET", f"/v1/judgments/{_seg(judgment_id)}", cast=_model(m.Judgment))


def get_comparison(comparison_id: str) -> Call[m.Comparison]:
    return Call("GET", f"/v1/comparisons/{_seg(comparison_id)}", cast=_model(m.Comparison))


# --- runs ------------------------------------------------------------------------------------

def run_spec(*, rubric: str, baseline: str, candidate: str, judges: Sequence[str] | None, mode: str | None,
             samples: int | None, temperature: float | None, seed: int | None,
             options: Mapping[str, Any] | None, rubric_variants: Sequence[str] | None = None,
             execution: str | Mapping[str, str] | None = None, batch_min_calls: int | None = None,
             eval_set: Mapping[str, Any] | None = None,
             length_probes: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return _body(rubric=rubric, baseline=baseline, candidate=candidate,
                 length_probes=dict(length_probes) if length_probes is not None else None,
                 judges=list(judges) if judges is not None else None, mode=mode, samples=samples,
                 temperature=temperature, seed=seed, options=dict(options) if options is not None else None,
                 rubric_variants=list(rubric_variants) if rubric_variants is not None else None,
                 execution=execution if isinstance(execution, str) or execution is None else dict(execution),
                 batch_min_calls=batch_min_calls, eval_set=dict(eval_set) if eval_set is not None else None)


def create_run(items: Iterable[Mapping[str, Any]] | RecordsFrame, spec: dict[str, Any]) -> Call[m.RunCreated]:
    rows = to_items(items, baseline=spec["baseline"], candidate=spec["candidate"])
    return Call("POST", "/v1/runs", json=spec | {"items": rows}, cast=_model(m.RunCreated))


def upload_run(path: str | Path, spec: dict[str, Any]) -> Call[m.RunCreated]:
    path = Path(path)
    # Read now, not streamed: a retried request must be able to send the same bytes again.
    content = path.read_bytes()
    return Call("POST", "/v1/runs/upload", files={"file": (path.name, content)}, data={"spec": _json.dumps(spec)},
                cast=_model(m.RunCreated))


def cancel_run(run_id: str) -> Call[m.RunCreated]:
    return Call("POST", f"/v1/runs/{_seg(run_id)}/cancel", cast=_model(m.RunCreated))


def run_status(run_id: str) -> Call[m.RunStatus]:
    return Call("GET", f"/v1/runs/{_seg(run_id)}", cast=_model(m.RunStatus))


def run_items(run_id: str) -> Call[list[m.RunItemResult]]:
    return Call("GET", f"/v1/runs/{_seg(run_id)}/items", cast=_list_of(m.RunItemResult))


def run_report(run_id: str) -> Call[m.RunReport]:
    return Call("GET", f"/v1/runs/{_seg(run_id)}/report", cast=_model(m.RunReport))


def compare_runs(run_id: str, other_id: str) -> Call[m.RunComparison]:
    return Call("GET", f"/v1/runs/{_seg(run_id)}/compare/{_seg(other_id)}", cast=_model(m.RunComparison))


# --- statistics ------------------------------------------------------------------------------

def agreement(*, kind: str, a: Sequence[float | str | None] | None, b: Sequence[float | str | None] | None,
              a_swapped: Sequence[str | int | None] | None, ratings: Sequence[Sequence[float | str | None]] | None,
              groups: Sequence[str | int] | None, systems: Sequence[str | int] | None,
              labels: Sequence[float | str] | None, kendall_variant: str | None, confidence: float | None,
              n_resamples: int | None, seed: str | None,
              vote_map: Mapping[str, str] | None = None) -> Call[m.Agreement]:
    def _list(x: Any) -> Any:
        return None if x is None else [list(r) if isinstance(r, (list, tuple)) else r for r in x]

    return Call("POST", "/v1/agreement", json=_body(
        kind=kind, a=_list(a), b=_list(b), a_swapped=_list(a_swapped), ratings=_list(ratings), groups=_list(groups),
        systems=_list(systems), labels=_list(labels), kendall_variant=kendall_variant, confidence=confidence,
        n_resamples=n_resamples, seed=seed, vote_map=None if vote_map is None else dict(vote_map)),
        cast=_model(m.Agreement))


def joint_length_control(*, models: Mapping[str, Mapping[str, Sequence[Any]]],
                         probes: Mapping[str, Sequence[Any]] | None = None, n_resamples: int | None = None,
                         confidence: float | None = None, seed: str | None = None) -> Call[m.JointLengthControl]:
    return Call("POST", "/v1/length-control/joint",
                json=_body(models={name: {k: list(v) for k, v in m.items()} for name, m in models.items()},
                           probes=None if probes is None else {k: list(v) for k, v in probes.items()},
                           n_resamples=n_resamples, confidence=confidence, seed=seed),
                cast=_model(m.JointLengthControl))


def overlap(*, predictions: Sequence[str], references: Sequence[str | Sequence[str]],
            predictions_b: Sequence[str] | None, metrics: Sequence[str] | None, tokenize: str | None,
            use_stemmer: bool | None, labels: Sequence[str] | None, n_resamples: int | None,
            confidence: float | None, seed: int | None, per_item: bool | None) -> Call[m.Overlap]:
    refs = [r if isinstance(r, str) else list(r) for r in references]
    return Call("POST", "/v1/metrics/overlap", json=_body(
        predictions=list(predictions), references=refs,
        predictions_b=list(predictions_b) if predictions_b is not None else None,
        metrics=list(metrics) if metrics is not None else None, tokenize=tokenize, use_stemmer=use_stemmer,
        labels=list(labels) if labels is not None else None, n_resamples=n_resamples, confidence=confidence,
        seed=seed, per_item=per_item), cast=_model(m.Overlap))


def perplexity(*, texts: Sequence[str], model: str | None, base_model: str | None, tuned_model: str | None,
               base_url: str | None, remote_api_key: str | None, max_length: int | None, stride: int | None,
               batch_size: int | None, confidence: float | None, n_resamples: int | None, seed: int | None) -> Call[m.Perplexity]:
    return Call("POST", "/v1/metrics/perplexity", json=_body(
        texts=list(texts), model=model, base_model=base_model, tuned_model=tuned_model, base_url=base_url,
        api_key=remote_api_key, max_length=max_length, stride=stride, batch_size=batch_size,
        confidence=confidence, n_resamples=n_resamples, seed=seed), cast=_model(m.Perplexity))


# --- human ratings and calibration -----------------------------------------------------------

def create_rating_set(ratings: Any, *, name: str, kind: str, rubric: str | None) -> Call[m.RatingSet]:
    path = as_path(ratings)
    form = _body(name=name, kind=kind, rubric=rubric)
    if path is not None:
        return Call("POST", "/v1/rating-sets/upload", files={"file": (path.name, path.read_bytes())}, data=form,
                    cast=_model(m.RatingSet))
    rows = to_rows(ratings)
    if rows and all(isinstance(r.get("ratings"), Mapping) for r in rows):
        return Call("POST", "/v1/rating-sets", json=form | {"items": rows}, cast=_model(m.RatingSet))
    # Long rows (rater, rating) or wide ones (a column per rater), e.g. from a DataFrame: the
    # service's upload parser already reads those, so send them to it as a JSON file.
    payload = _json.dumps(rows, default=str).encode()
    return Call("POST", "/v1/rating-sets/upload", files={"file": ("ratings.json", payload)}, data=form,
                cast=_model(m.RatingSet))


def get_rating_set(rating_set_id: str) -> Call[m.RatingSet]:
    return Call("GET", f"/v1/rating-sets/{_seg(rating_set_id)}", cast=_model(m.RatingSet))


def create_calibration(*, rating_set: str, rubric: str | None, judges: Sequence[str] | None, samples: int | None,
                       folds: int | None) -> Call[m.CalibrationCreated]:
    return Call("POST", "/v1/calibrations", json=_body(
        rating_set=rating_set, rubric=rubric, judges=list(judges) if judges is not None else None,
        samples=samples, folds=folds), cast=_model(m.CalibrationCreated))


def get_calibration(calibration_id: str) -> Call[m.Calibration]:
    return Call("GET", f"/v1/calibrations/{_seg(calibration_id)}", cast=_model(m.Calibration))


# --- training logs ---------------------------------------------------------------------------

def _log_files(paths: Sequence[str | Path]) -> list[tuple[str, tuple[str, bytes]]]:
    """Files and directories (an output_dir: every file under it, named by its relative path)."""
    out: list[tuple[str, tuple[str, bytes]]] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for child in sorted(p for p in path.rglob("*") if p.is_file()):
                if child.suffix in (".safetensors", ".bin", ".pt", ".pth", ".gguf", ".ckpt"):
                    continue  # weights are never logs, and can be gigabytes
                out.append(("files", (str(child.relative_to(path.parent)), child.read_bytes())))
        else:
            out.append(("files", (path.name, path.read_bytes())))
    return out


def analyze_training_logs(paths: Sequence[str | Path], options: Mapping[str, Any]) -> Call:
    from judge_client import _models_training as mt

    return Call("POST", "/v1/training-logs/analyses", files=_log_files(paths),  # type: ignore[arg-type]
                data={"options": _json.dumps(dict(options))}, cast=_model(mt.TrainingAnalysis))


def get_training_analysis(analysis_id: str) -> Call:
    from judge_client import _models_training as mt

    return Call("GET", f"/v1/training-logs/analyses/{_seg(analysis_id)}", cast=_model(mt.TrainingAnalysis))



def sweep_checkpoints(analysis_id: str, body: Mapping[str, Any]) -> Call:
    from judge_client import _models_training as mt

    return Call("POST", f"/v1/training-logs/analyses/{_seg(analysis_id)}/sweep", json=dict(body),
                cast=_model(mt.CheckpointSweep))


def get_checkpoint_sweep(analysis_id: str) -> Call:
    from judge_client import _models_training as mt

    return Call("GET", f"/v1/training-logs/analyses/{_seg(analysis_id)}/sweep", cast=_model(mt.CheckpointSweep))


def training_chart(analysis_id: str) -> Call[str]:
    return Call("GET", f"/v1/training-logs/analyses/{analysis_id}/chart.svg", text=True)
