"""``AsyncJudgeClient``: ``JudgeClient``'s methods, awaited. Docstrings live on ``JudgeClient``;
a test holds the two surfaces (names and signatures) identical."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

from judge_client import _api
from judge_client import _rating_tasks as _rt
from judge_client import _models_evaluations as mev
from judge_client import _evaluations
from judge_client import _imports
from judge_client import _models_evalsets as me
from judge_client import _models_imports as mi
from judge_client._imports import RecordsArg
from judge_client import _models as m
from judge_client._api import Call, MessagesArg, T
from judge_client import _models_memorization as mm
from judge_client._api import Call, MessagesArg
from judge_client._base import BaseClient
from judge_client._models_benchmarks import (
    BenchmarkComparison,
    attach_benchmark_comparison_call,
    compare_benchmarks_call,
    get_benchmark_comparison_call,
    run_benchmark_comparisons_call,
)
from judge_client._exceptions import JudgeServiceError, RunFailed, WaitTimeout
from judge_client._items import read_jsonl, ItemsSource, RecordsFrame, as_path
from judge_client._progress import ProgressArg, reporter


class AsyncJudgeClient(BaseClient):
    """The asyncio twin of ``JudgeClient``; ``transport`` takes an ``httpx.AsyncBaseTransport``
    (e.g. ``httpx.ASGITransport(app)`` to drive a service in-process)."""

    def __init__(self, base_url: str | None = None, api_key: str | None = None, timeout: float | httpx.Timeout = 60.0,
                 max_retries: int = 3, transport: httpx.AsyncBaseTransport | None = None, *,
                 initial_retry_delay: float = 0.5, max_retry_delay: float = 8.0) -> None:
        super().__init__(base_url, api_key, timeout, max_retries, initial_retry_delay, max_retry_delay)
        self._http = httpx.AsyncClient(base_url=self.base_url, headers=self._headers(), timeout=timeout,
                                       transport=transport)

    async def close(self) -> None:
        await self._http.aclose()

    aclose = close

    async def __aenter__(self) -> AsyncJudgeClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _send(self, call: Call[T]) -> T:
        retries = 0
        while True:
            try:
                response = await self._http.request(call.method, call.path, **self._request_kwargs(call))
            except httpx.TransportError as exc:
                error: JudgeServiceError = self._transport_error(exc)
            else:
                outcome: tuple[T, JudgeServiceError | None] = self._outcome(call, response)
                result, failed = outcome
                if failed is None:
                    return result
                error = failed
            delay = self.retry.delay(retries, error)
            if delay is None:
                raise error
            retries += 1
            await asyncio.sleep(delay)

    # --- catalog -----------------------------------------------------------------------------

    async def health(self) -> dict[str, Any]:
        return await self._send(_api.health())

    async def judges(self) -> list[m.JudgeInfo]:
        return await self._send(_api.judges())

    async def rubrics(self) -> list[m.RubricSummary]:
        return await self._send(_api.rubrics())

    async def rubric(self, name: str) -> list[m.RubricVersion]:
        return await self._send(_api.rubric(name))

    async def add_rubric(self, rubric: Mapping[str, Any]) -> m.RubricVersion:
        return await self._send(_api.add_rubric(rubric))

    async def pilot_rubric(self, name: str, items: Iterable[Mapping[str, Any]] | str | Path, *, version: int | None = None,
                     variants: Sequence[str] | None = None, judges: Sequence[str] | None = None,
                     samples: int | None = None, temperature: float | None = None, seed: int | None = None,
                     alpha: float | None = None) -> m.RubricPilot:
        """Pilot rubric ``name`` on a small sample (dicts or a JSONL path): every variant x judge x sample,
        both orders for pairs; returns the report (``wording_sensitive``, per-variant figures), stored."""
        return await self._send(_api.pilot_rubric(name, items, version=version, variants=variants, judges=judges,
                                            samples=samples, temperature=temperature, seed=seed, alpha=alpha))

    async def rubric_pilot(self, pilot_id: str) -> m.RubricPilot:
        """A stored rubric pilot."""
        return await self._send(_api.rubric_pilot(pilot_id))

    # --- judging -----------------------------------------------------------------------------

    async def judge(self, *, rubric: str, response: str, prompt: str | None = None,
                    messages: MessagesArg | None = None, reference: str | None = None,
                    judges: Sequence[str] | None = None, samples: int | None = None,
                    temperature: float | None = None, seed: int | None = None,
                    calibration: str | None = None,
              rubric_variants: Sequence[str] | None = None, history: Sequence[str] | None = None) -> m.Judgment:
        return await self._send(_api.judge(rubric=rubric, response=response, prompt=prompt, messages=messages,
                                           reference=reference, judges=judges, samples=samples,
                                           temperature=temperature, seed=seed, calibration=calibration,
                                           rubric_variants=rubric_variants, history=history))

    async def compare(self, *, rubric: str, response_a: str, response_b: str, prompt: str | None = None,
                      messages: MessagesArg | None = None, reference: str | None = None,
                      judges: Sequence[str] | None = None, samples: int | None = None,
                      temperature: float | None = None, seed: int | None = None,
                rubric_variants: Sequence[str] | None = None, history_a: Sequence[str] | None = None,
                history_b: Sequence[str] | None = None) -> m.Comparison:
        return await self._send(_api.compare(rubric=rubric, response_a=response_a, response_b=response_b,
                                             prompt=prompt, messages=messages, reference=reference, judges=judges,
                                             samples=samples, temperature=temperature, seed=seed,
                                             rubric_variants=rubric_variants, history_a=history_a, history_b=history_b))

    async def get_judgment(self, judgment_id: str) -> m.Judgment:
        return await self._send(_api.get_judgment(judgment_id))

    async def get_comparison(self, comparison_id: str) -> m.Comparison:
        return await self._send(_api.get_comparison(comparison_id))

    # --- runs --------------------------------------------------------------------------------

    async def create_run(self, items: Iterable[Mapping[str, Any]] | RecordsFrame, *, baseline: str, candidate: str,
                         rubric: str, judges: Sequence[str] | None = None, mode: str = "pairwise",
                         samples: int | None = None, temperature: float | None = None, seed: int | None = None,
                         options: Mapping[str, Any] | None = None,
                   rubric_variants: Sequence[str] | None = None, execution: str | Mapping[str, str] | None = None,
                   batch_min_calls: int | None = None, eval_set: Mapping[str, Any] | None = None,
                   length_probes: Mapping[str, Any] | None = None) -> m.RunCreated:
        spec = _api.run_spec(rubric=rubric, baseline=baseline, candidate=candidate, judges=judges, mode=mode,
                             samples=samples, temperature=temperature, seed=seed, options=options,
                             rubric_variants=rubric_variants, execution=execution,
                             batch_min_calls=batch_min_calls, eval_set=eval_set,
                             length_probes=length_probes)
        return await self._send(_api.create_run(items, spec))

    async def upload_run(self, path: str | Path, *, baseline: str, candidate: str, rubric: str,
                         judges: Sequence[str] | None = None, mode: str = "pairwise", samples: int | None = None,
                         temperature: float | None = None, seed: int | None = None,
                         options: Mapping[str, Any] | None = None,
                   rubric_variants: Sequence[str] | None = None, execution: str | Mapping[str, str] | None = None,
                   batch_min_calls: int | None = None, eval_set: Mapping[str, Any] | None = None,
                   length_probes: Mapping[str, Any] | None = None) -> m.RunCreated:
        spec = _api.run_spec(rubric=rubric, baseline=baseline, candidate=candidate, judges=judges, mode=mode,
                             samples=samples, temperature=temperature, seed=seed, options=options,
                             rubric_variants=rubric_variants, execution=execution,
                             batch_min_calls=batch_min_calls, eval_set=eval_set,
                             length_probes=length_probes)
        return await self._send(_api.upload_run(path, spec))

    async def cancel_run(self, run_id: str) -> m.RunCreated:
        """Stop a queued or running run and cancel its provider batches; judged items are kept."""
        return await self._send(_api.cancel_run(run_id))

    async def run_status(self, run_id: str) -> m.RunStatus:
        return await self._send(_api.run_status(run_id))

    async def run_items(self, run_id: str) -> list[m.RunItemResult]:
        return await self._send(_api.run_items(run_id))

    async def run_report(self, run_id: str) -> m.RunReport:
        return await self._send(_api.run_report(run_id))

    async def compare_runs(self, run_id: str, other_id: str) -> m.RunComparison:
        """Two runs' headlines side by side; ``warnings`` and ``rubric_diff`` name any rubric change."""
        return await self._send(_api.compare_runs(run_id, other_id))

    async def wait_for_run(self, run_id: str, *, poll_interval: float = 1.0, timeout: float | None = None,
                           progress: ProgressArg = False) -> m.RunStatus:
        deadline = None if timeout is None else time.monotonic() + timeout
        bar = reporter(progress)
        try:
            while True:
                status = await self.run_status(run_id)
                bar.update(status)
                if status.finished:
                    return status
                if deadline is not None and time.monotonic() >= deadline:
                    raise WaitTimeout(f"run {run_id} still '{status.status}' after {timeout}s "
                                      f"({status.progress.done}/{status.progress.total} done); it continues in the "
                                      "service: wait again or read its report later", resource_id=run_id)
                await asyncio.sleep(poll_interval if deadline is None
                                    else max(0.0, min(poll_interval, deadline - time.monotonic())))
        finally:
            bar.close()

    async def evaluate(self, items: ItemsSource, *, baseline: str, candidate: str, rubric: str,
                       judges: Sequence[str] | None = None, mode: str = "pairwise", samples: int | None = None,
                       temperature: float | None = None, seed: int | None = None,
                       options: Mapping[str, Any] | None = None, poll_interval: float = 1.0,
                       timeout: float | None = None, progress: ProgressArg = True,
                       rubric_variants: Sequence[str] | None = None,
                       execution: str | Mapping[str, str] | None = None) -> m.RunReport:
        kwargs = dict(baseline=baseline, candidate=candidate, rubric=rubric, judges=judges, mode=mode,
                      samples=samples, temperature=temperature, seed=seed, options=options,
                      rubric_variants=rubric_variants, execution=execution)
        path = as_path(items)
        created = (await self.upload_run(path, **kwargs) if path  # type: ignore[arg-type]
                   else await self.create_run(items, **kwargs))  # type: ignore[arg-type]
        status = await self.wait_for_run(created.id, poll_interval=poll_interval, timeout=timeout, progress=progress)
        if status.status == "failed":
            raise RunFailed(f"run {created.id} failed: {status.error or 'no reason given'}", run_id=created.id)
        return await self.run_report(created.id)

    # --- statistics --------------------------------------------------------------------------

    async def agreement(self, *, kind: str, a: Sequence[float | str | None] | None = None,
                        b: Sequence[float | str | None] | None = None,
                        a_swapped: Sequence[str | int | None] | None = None,
                        ratings: Sequence[Sequence[float | str | None]] | None = None,
                        groups: Sequence[str | int] | None = None, systems: Sequence[str | int] | None = None,
                        labels: Sequence[float | str] | None = None, kendall_variant: str | None = None,
                        confidence: float | None = None, n_resamples: int | None = None,
                        seed: str | None = None, vote_map: Mapping[str, str] | None = None) -> m.Agreement:
        return await self._send(_api.agreement(kind=kind, a=a, b=b, a_swapped=a_swapped, ratings=ratings,
                                               groups=groups, systems=systems, labels=labels,
                                               kendall_variant=kendall_variant, confidence=confidence,
                                               n_resamples=n_resamples, seed=seed, vote_map=vote_map))

    async def joint_length_control(self, models: Mapping[str, Mapping[str, Sequence[Any]]], *,
                             probes: Mapping[str, Sequence[Any]] | None = None, n_resamples: int | None = None,
                             confidence: float | None = None, seed: str | None = None) -> m.JointLengthControl:
        """Length-controlled win rates of several checkpoints against one baseline, fitted jointly with a
        difficulty per item shared across them. ``models``: name -> {"items": [...], "preference":
        [P(checkpoint preferred), ...], "delta_len": [checkpoint − baseline length, ...]}. ``probes``:
        {"groups", "preference", "delta_len"} of length-probe rows (rewrites of the baseline's answers vs the
        originals), which pin the length slopes. Each LC comes with a cluster-bootstrap interval
        (``length_controlled_ci``; ``n_resamples=0`` for point estimates only)."""
        return await self._send(_api.joint_length_control(models=models, probes=probes, n_resamples=n_resamples,
                                                            confidence=confidence, seed=seed))

    async def overlap(self, predictions: Sequence[str], references: Sequence[str | Sequence[str]], *,
                      predictions_b: Sequence[str] | None = None, metrics: Sequence[str] | None = None,
                      tokenize: str | None = None, use_stemmer: bool | None = None,
                      labels: Sequence[str] | None = None, n_resamples: int | None = None,
                      confidence: float | None = None, seed: int | None = None,
                      per_item: bool | None = None) -> m.Overlap:
        return await self._send(_api.overlap(predictions=predictions, references=references,
                                             predictions_b=predictions_b, metrics=metrics, tokenize=tokenize,
                                             use_stemmer=use_stemmer, labels=labels, n_resamples=n_resamples,
                                             confidence=confidence, seed=seed, per_item=per_item))

    async def perplexity(self, texts: Sequence[str], *, model: str | None = None, base_model: str | None = None,
                         tuned_model: str | None = None, base_url: str | None = None,
                         remote_api_key: str | None = None, max_length: int | None = None,
                         stride: int | None = None, batch_size: int | None = None,
                         confidence: float | None = None, n_resamples: int | None = None,
                         seed: int | None = None) -> m.Perplexity:
        return await self._send(_api.perplexity(texts=texts, model=model, base_model=base_model,
                                                tuned_model=tuned_model, base_url=base_url,
                                                remote_api_key=remote_api_key, max_length=max_length, stride=stride,
                                                batch_size=batch_size, confidence=confidence,
                                                n_resamples=n_resamples, seed=seed))

    # --- human ratings and calibration -------------------------------------------------------

    async def create_rating_set(self, ratings: ItemsSource, *, name: str, kind: str = "ordinal",
                                rubric: str | None = None) -> m.RatingSet:
        return await self._send(_api.create_rating_set(ratings, name=name, kind=kind, rubric=rubric))

    async def get_rating_set(self, rating_set_id: str) -> m.RatingSet:
        return await self._send(_api.get_rating_set(rating_set_id))

    async def create_calibration(self, *, rating_set: str, rubric: str | None = None,
                                 judges: Sequence[str] | None = None, samples: int | None = None,
                                 folds: int | None = None) -> m.CalibrationCreated:
        return await self._send(_api.create_calibration(rating_set=rating_set, rubric=rubric, judges=judges,
                                                        samples=samples, folds=folds))

    async def get_calibration(self, calibration_id: str) -> m.Calibration:
        return await self._send(_api.get_calibration(calibration_id))

    async def wait_for_calibration(self, calibration_id: str, *, poll_interval: float = 1.0,
                                   timeout: float | None = None) -> m.Calibration:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            cal = await self.get_calibration(calibration_id)
            if cal.finished:
                return cal
            if deadline is not None and time.monotonic() >= deadline:
                raise WaitTimeout(f"calibration {calibration_id} still '{cal.status}' after {timeout}s; it continues "
                                  "in the service", resource_id=calibration_id)
            await asyncio.sleep(poll_interval if deadline is None
                                else max(0.0, min(poll_interval, deadline - time.monotonic())))

    # --- blind human rating tasks (the web UI's rater pages) ---------------------------------

    async def create_rating_task(self, run_id: str, raters: Sequence[str], *, name: str | None = None,
                           n_items: int | None = None, mode: str | None = None) -> _rt.RatingTaskCreated:
        """A blind rating task over a run's first ``n_items`` items: one link per rater, shown once.
        ``mode``: "pairwise" (default: which answer is better) or "absolute" (each answer on the rubric's scale)."""
        return await self._send(_rt.create_rating_task_call(run_id, raters, name=name, n_items=n_items, mode=mode))

    async def get_rating_task(self, task_id: str) -> _rt.RatingTask:
        """Each rater's progress and the inter-rater agreement so far."""
        return await self._send(_rt.get_rating_task_call(task_id))

    async def rating_tasks(self, run_id: str | None = None) -> list[_rt.RatingTask]:
        return await self._send(_rt.list_rating_tasks_call(run_id))

    async def rating_task_rating_set(self, task_id: str) -> m.RatingSet:
        """The votes so far as a pairwise rating set (A = the run's baseline), ready for ``create_calibration``."""
        return await self._send(_rt.rating_task_rating_set_call(task_id))

    # --- importers (AlpacaEval, MT-Bench) ----------------------------------------------------

    async def import_alpaca_eval(self, baseline_outputs: RecordsArg, candidate_outputs: RecordsArg, *,
                           baseline_annotations: RecordsArg | None = None,
                           candidate_annotations: RecordsArg | None = None, baseline_name: str | None = None,
                           candidate_name: str | None = None) -> mi.AlpacaEvalImport:
        """AlpacaEval ``model_outputs.json`` of two arms (paths, .xz allowed, or lists) → run items
        joined on the instruction, plus each arm's leaderboard row recomputed from ``annotations.json``."""
        return await self._send(_imports.alpaca_eval(
            baseline_outputs=baseline_outputs, candidate_outputs=candidate_outputs,
            baseline_annotations=baseline_annotations, candidate_annotations=candidate_annotations,
            baseline_name=baseline_name, candidate_name=candidate_name))

    async def import_mt_bench(self, questions: RecordsArg, baseline_answers: RecordsArg, candidate_answers: RecordsArg, *,
                        baseline_name: str | None = None, candidate_name: str | None = None,
                        turns: Sequence[int] | None = None, single_judgments: RecordsArg | None = None,
                        pair_judgments: RecordsArg | None = None,
                        pair_baseline: str | None = None) -> mi.MTBenchImport:
        """FastChat MT-Bench ``question.jsonl`` + two ``model_answer`` files → run items over
        (question, turn), plus ``show_result.py``'s figures from the judgment files you pass."""
        return await self._send(_imports.mt_bench(
            questions=questions, baseline_answers=baseline_answers, candidate_answers=candidate_answers,
            baseline_name=baseline_name, candidate_name=candidate_name, turns=turns,
            single_judgments=single_judgments, pair_judgments=pair_judgments, pair_baseline=pair_baseline))

    async def import_records(self, source: RecordsArg, *, baseline_field: str, candidate_field: str,
                       prompt_field: str = "prompt", id_field: str | None = None,
                       reference_field: str | None = None, split: str | None = None,
                       baseline_name: str | None = None, candidate_name: str | None = None) -> mi.RecordsImport:
        """Rows of a JSONL/CSV file, a parquet/arrow file or a folder saved by Hugging Face ``datasets``
        (``split`` picks one of a DatasetDict; read here, with pyarrow) → run items, by naming the columns."""
        return await self._send(_imports.records(
            source=source, split=split, prompt_field=prompt_field, baseline_field=baseline_field,
            candidate_field=candidate_field, id_field=id_field, reference_field=reference_field,
            baseline_name=baseline_name, candidate_name=candidate_name))

    async def export_fastchat(self, run_id: str, *, kind: str = "pair", judge: str | None = None,
                        path: str | Path | None = None) -> str:
        """A run's verdicts as FastChat ``model_judgment`` JSONL (``kind`` "pair" or "single"), for
        ``show_result.py``; written to ``path`` when given. Returns the JSONL text."""
        text = await self._send(_imports.export_fastchat(run_id, kind=kind, judge=judge))
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    async def export_alpaca_eval(self, run_id: str, *, path: str | Path | None = None) -> list[dict[str, Any]]:
        """A run's verdicts as AlpacaEval ``annotations.json`` rows (baseline = output_1, preference in
        [1, 2]); written to ``path`` as a JSON list when given."""
        rows = await self._send(_imports.export_alpaca_eval(run_id))
        if path is not None:
            import json

            Path(path).write_text(json.dumps(rows, ensure_ascii=False, indent=2), encoding="utf-8")
        return rows

    # --- versioned eval sets -----------------------------------------------------------------

    async def save_eval_set(self, name: str, items: RecordsArg, *, note: str | None = None,
                      overlap_index_id: str | None = None) -> me.EvalSetVersion:
        """Store an eval set's items (a JSON/JSONL path or dicts with ``id`` and ``prompt``/``messages``/
        ``text``, optional ``reference``): changed content gets the next version, the same content
        returns the version that holds it (``created`` False)."""
        # overlap_index_id: the items are checked against that training-data index on upload
        # (``contamination`` in the answer names the items found in it).
        return await self._send(_imports.save_eval_set(name=name, items=items, note=note,
                                                    overlap_index_id=overlap_index_id))

    async def list_eval_sets(self) -> list[me.EvalSetSummary]:
        return await self._send(_imports.list_eval_sets())

    async def eval_set_history(self, name: str) -> me.EvalSetHistory:
        return await self._send(_imports.eval_set_history(name))

    async def get_eval_set(self, name: str, version: int) -> me.EvalSetVersionWithItems:
        return await self._send(_imports.get_eval_set(name, version))

    async def diff_eval_set(self, name: str, from_version: int, to_version: int | None = None) -> me.EvalSetDiff:
        """Item ids added, removed and changed between two versions (``to_version``: latest by default)."""
        return await self._send(_imports.diff_eval_set(name, from_version, to_version))

    # --- evaluations: every layer, one verdict --------------------------------------------------

    async def evaluate_finetune(self, *, baseline: str, candidate: str, name: str | None = None,
                          run_id: str | None = None, training_analysis_id: str | None = None,
                          benchmark_comparison_id: str | None = None,
                          perplexity: Mapping[str, Any] | Any | None = None,
                          task_metrics: Mapping[str, Any] | Any | None = None, primary_metric: str | None = None,
                          eval_set: tuple[str, int] | None = None) -> mev.Evaluation:
        """Combine the layers you have into one evaluation: a judge run (``run_id``), a training-log
        analysis, and the answers of ``perplexity(...)`` (base vs tuned) and ``overlap(...)`` (with
        ``predictions_b`` = tuned). Each layer keeps its own verdict; the summary never hides a failing one."""
        def plain(x: Any) -> Any:
            return x.model_dump(mode="json") if hasattr(x, "model_dump") else x

        return await self._send(_evaluations.create_evaluation(
            baseline=baseline, candidate=candidate, name=name, run_id=run_id,
            training_analysis_id=training_analysis_id, benchmark_comparison_id=benchmark_comparison_id,
            perplexity=plain(perplexity), task_metrics=plain(task_metrics),
            primary_metric=primary_metric, eval_set=eval_set))

    async def create_evaluation(self, *, baseline: str, candidate: str, layers: Mapping[str, Any],
                          name: str | None = None, eval_set: tuple[str, int] | None = None) -> mev.Evaluation:
        """``POST /v1/evaluations`` with the layers as the API takes them: by id (``{"judge": {"run_id": …}}``)
        or as requests the service runs itself (``{"judge": {"run": {rubric, items, …}}}``,
        ``{"training": {"analysis": {logs: […]}}}``, ``{"perplexity": {"request": {…}}}``,
        ``{"task_metrics": {"request": {…}, "primary": …}}``)."""
        return await self._send(_evaluations.create_evaluation_raw(baseline=baseline, candidate=candidate, name=name,
                                                                 layers=layers, eval_set=eval_set))

    async def get_evaluation(self, evaluation_id: str) -> mev.Evaluation:
        return await self._send(_evaluations.get_evaluation(evaluation_id))

    async def compare_evaluations(self, a: str, b: str) -> mev.EvaluationComparison:
        """Whether two evaluations saw the same eval-set version; if not, the items added, removed, changed."""
        return await self._send(_evaluations.compare_evaluations(a, b))

    async def rerun_evaluation(self, evaluation_id: str, *, eval_set_version: int | None = None,
                         outputs: Sequence[Mapping[str, Any]] | None = None,
                         name: str | None = None) -> mev.EvaluationRerun:
        """The evaluation's judge layer again on a newer eval-set version (default: the latest), one call:
        unchanged items reuse the old run's outputs; ``outputs`` ({id, outputs: {system: text}}) covers
        the items added or changed."""
        return await self._send(_evaluations.rerun_evaluation(evaluation_id, eval_set_version=eval_set_version,
                                                            outputs=outputs, name=name))
    async def analyze_training_logs(self, paths: str | Path | Sequence[str | Path], *, metric: str | None = None,
                              eval_set: str | None = None, greater_is_better: bool | None = None,
                              checkpoints: Mapping[str, Mapping[str, Any]] | None = None,
                              per_example: Mapping[str, Sequence[float]] | None = None,
                              runs: Mapping[str, str] | None = None, name: str | None = None) -> Any:
        """Analyse training logs (trainer_state.json, an output_dir, trainer_log.jsonl, TensorBoard
        events, a W&B CSV, MLflow metrics or a zip of them): verdict, best checkpoint and its band of
        equivalents, overfitting onset, HF early-stopping replay, epoch advice. checkpoints:
        judge/benchmark figures per checkpoint ({"checkpoint-500": {"win_rate": {"estimate": …,
        "ci_low": …, "ci_high": …, "n": …}}}) shown beside the loss. Returns TrainingAnalysis."""
        listed = [paths] if isinstance(paths, (str, Path)) else list(paths)
        options = {k: v for k, v in {"metric": metric, "eval_set": eval_set, "greater_is_better": greater_is_better,
                                     "checkpoints": checkpoints, "per_example": per_example, "runs": runs,
                                     "name": name}.items()
                   if v is not None}
        return await self._send(_api.analyze_training_logs(listed, options))

    async def get_training_analysis(self, analysis_id: str) -> Any:
        return await self._send(_api.get_training_analysis(analysis_id))

    async def sweep_checkpoints(self, analysis_id: str, items: Sequence[Mapping[str, Any]] | str | Path, *, baseline: str,
                          rubric: str, judges: Sequence[str] | None = None, checkpoint_name: str = "checkpoint-{step}",
                          seed: int | None = None) -> Any:
        """Judge the checkpoints an analysis names (best by loss, earliest equivalent, last) against
        ``baseline`` on the same prompts: one run each. ``items`` (a list or a JSONL path) carry
        ``outputs`` for the baseline and for each checkpoint, keyed by ``checkpoint_name``. Returns
        CheckpointSweep; poll ``get_checkpoint_sweep`` until ``agreement`` is no longer ``pending``."""
        rows = read_jsonl(items) if isinstance(items, (str, Path)) else [dict(i) for i in items]
        body: dict[str, Any] = {"items": rows, "baseline": baseline, "rubric": rubric, "checkpoint_name": checkpoint_name}
        if judges is not None:
            body["judges"] = list(judges)
        if seed is not None:
            body["seed"] = seed
        return await self._send(_api.sweep_checkpoints(analysis_id, body))

    async def get_checkpoint_sweep(self, analysis_id: str) -> Any:
        return await self._send(_api.get_checkpoint_sweep(analysis_id))

    async def training_chart(self, analysis_id: str) -> str:
        """The analysis's chart as SVG text (the curves, the band of equivalent checkpoints, the onset)."""
        return await self._send(_api.training_chart(analysis_id))
    # --- benchmarks (lm-eval / lighteval results, base vs tuned) -----------------------------

    async def compare_benchmarks(self, base: str | Path, tuned: str | Path, *checkpoints: str | Path,
                                 tasks: Sequence[str] | None = None, margin: float | None = None,
                                 alpha: float | None = None, n_resamples: int | None = None, seed: str | None = None,
                                 strict: bool | None = None, run_id: str | None = None,
                                 labels: Mapping[str, str] | None = None) -> BenchmarkComparison:
        """As ``JudgeClient.compare_benchmarks``."""
        return await self._send(compare_benchmarks_call(base, tuned, checkpoints, tasks=tasks, margin=margin,
                                                        alpha=alpha, n_resamples=n_resamples, seed=seed,
                                                        strict=strict, run_id=run_id, labels=labels))

    async def get_benchmark_comparison(self, comparison_id: str) -> BenchmarkComparison:
        return await self._send(get_benchmark_comparison_call(comparison_id))

    async def run_benchmark_comparisons(self, run_id: str) -> list[BenchmarkComparison]:
        return await self._send(run_benchmark_comparisons_call(run_id))

    async def attach_benchmark_comparison(self, comparison_id: str, run_id: str) -> BenchmarkComparison:
        return await self._send(attach_benchmark_comparison_call(comparison_id, run_id))
    # --- memorization: training data against outputs and eval sets --------------------------

    async def create_overlap_index(self, records: Sequence[Mapping[str, Any]] | None = None, *, path: str | Path | None = None,
                               **options: Any) -> mm.OverlapIndex:
        """Index a training set (``records`` or a JSONL/CSV ``path``); options: text_fields, id_field,
        n, unit, boilerplate_share, boilerplate_min_docs, minhash, name. Same data and options → reused."""
        return await self._send(mm.create_overlap_index(records, path, **options))

    async def get_overlap_index(self, index_id: str) -> mm.OverlapIndex:
        return await self._send(mm.get_overlap_index(index_id))

    async def regurgitation(self, index_id: str, outputs: Sequence[Mapping[str, Any]] | None = None, *,
                        run_id: str | None = None, **options: Any) -> mm.Regurgitation:
        """Copied spans of each output ({output, prompt?, reference?, base_output?}) or of a run's outputs;
        options: thresholds, exclude_echo, max_matches, confidence."""
        return await self._send(mm.regurgitation(index_id, outputs, run_id, **options))

    async def get_regurgitation(self, report_id: str) -> mm.Regurgitation:
        return await self._send(mm.get_regurgitation(report_id))

    async def contamination(self, index_id: str, items: Sequence[Mapping[str, Any]] | None = None, *,
                        run_id: str | None = None, **options: Any) -> mm.Contamination:
        """Per-item contamination ({id, text | prompt | turns, outcome?}) or a run's items, and the impact
        on outcomes; options: rule, palm_threshold, minhash_threshold, confidence, n_resamples, seed."""
        return await self._send(mm.contamination(index_id, items, run_id, **options))

    async def get_contamination(self, report_id: str) -> mm.Contamination:
        return await self._send(mm.get_contamination(report_id))
