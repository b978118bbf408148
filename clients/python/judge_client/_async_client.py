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
from judge_client import _models as m
from judge_client import _models_memorization as mm
from judge_client._api import Call, MessagesArg
from judge_client._base import BaseClient
from judge_client._exceptions import JudgeServiceError, RunFailed, WaitTimeout
from judge_client._items import ItemsSource, RecordsFrame, as_path
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

    async def _send(self, call: Call) -> Any:
        retries = 0
        while True:
            try:
                response = await self._http.request(call.method, call.path, **self._request_kwargs(call))
            except httpx.TransportError as exc:
                error: JudgeServiceError = self._transport_error(exc)
            else:
                result, failed = self._outcome(call, response)
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

    # --- judging -----------------------------------------------------------------------------

    async def judge(self, *, rubric: str, response: str, prompt: str | None = None,
                    messages: MessagesArg | None = None, reference: str | None = None,
                    judges: Sequence[str] | None = None, samples: int | None = None,
                    temperature: float | None = None, seed: int | None = None,
                    calibration: str | None = None) -> m.Judgment:
        return await self._send(_api.judge(rubric=rubric, response=response, prompt=prompt, messages=messages,
                                           reference=reference, judges=judges, samples=samples,
                                           temperature=temperature, seed=seed, calibration=calibration))

    async def compare(self, *, rubric: str, response_a: str, response_b: str, prompt: str | None = None,
                      messages: MessagesArg | None = None, reference: str | None = None,
                      judges: Sequence[str] | None = None, samples: int | None = None,
                      temperature: float | None = None, seed: int | None = None) -> m.Comparison:
        return await self._send(_api.compare(rubric=rubric, response_a=response_a, response_b=response_b,
                                             prompt=prompt, messages=messages, reference=reference, judges=judges,
                                             samples=samples, temperature=temperature, seed=seed))

    async def get_judgment(self, judgment_id: str) -> m.Judgment:
        return await self._send(_api.get_judgment(judgment_id))

    async def get_comparison(self, comparison_id: str) -> m.Comparison:
        return await self._send(_api.get_comparison(comparison_id))

    # --- runs --------------------------------------------------------------------------------

    async def create_run(self, items: Iterable[Mapping[str, Any]] | RecordsFrame, *, baseline: str, candidate: str,
                         rubric: str, judges: Sequence[str] | None = None, mode: str = "pairwise",
                         samples: int | None = None, temperature: float | None = None, seed: int | None = None,
                         options: Mapping[str, Any] | None = None) -> m.RunCreated:
        spec = _api.run_spec(rubric=rubric, baseline=baseline, candidate=candidate, judges=judges, mode=mode,
                             samples=samples, temperature=temperature, seed=seed, options=options)
        return await self._send(_api.create_run(items, spec))

    async def upload_run(self, path: str | Path, *, baseline: str, candidate: str, rubric: str,
                         judges: Sequence[str] | None = None, mode: str = "pairwise", samples: int | None = None,
                         temperature: float | None = None, seed: int | None = None,
                         options: Mapping[str, Any] | None = None) -> m.RunCreated:
        spec = _api.run_spec(rubric=rubric, baseline=baseline, candidate=candidate, judges=judges, mode=mode,
                             samples=samples, temperature=temperature, seed=seed, options=options)
        return await self._send(_api.upload_run(path, spec))

    async def run_status(self, run_id: str) -> m.RunStatus:
        return await self._send(_api.run_status(run_id))

    async def run_items(self, run_id: str) -> list[m.RunItemResult]:
        return await self._send(_api.run_items(run_id))

    async def run_report(self, run_id: str) -> m.RunReport:
        return await self._send(_api.run_report(run_id))

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
                       timeout: float | None = None, progress: ProgressArg = True) -> m.RunReport:
        kwargs = dict(baseline=baseline, candidate=candidate, rubric=rubric, judges=judges, mode=mode,
                      samples=samples, temperature=temperature, seed=seed, options=options)
        path = as_path(items)
        created = (await self.upload_run(path, **kwargs) if path  # type: ignore[arg-type]
                   else await self.create_run(items, **kwargs))  # type: ignore[arg-type]
        status = await self.wait_for_run(created.id, poll_interval=poll_interval, timeout=timeout, progress=progress)
        if status.status == "failed":
            raise RunFailed(f"run {created.id} failed: {status.error or 'no reason given'}", run_id=created.id)
        return await self.run_report(created.id)

    # --- statistics --------------------------------------------------------------------------

    async def agreement(self, *, kind: str, a: Sequence[float | str] | None = None,
                        b: Sequence[float | str] | None = None, a_swapped: Sequence[str] | None = None,
                        ratings: Sequence[Sequence[float | str | None]] | None = None,
                        groups: Sequence[str | int] | None = None, systems: Sequence[str | int] | None = None,
                        labels: Sequence[float | str] | None = None, kendall_variant: str | None = None,
                        confidence: float | None = None, n_resamples: int | None = None,
                        seed: str | None = None) -> m.Agreement:
        return await self._send(_api.agreement(kind=kind, a=a, b=b, a_swapped=a_swapped, ratings=ratings,
                                               groups=groups, systems=systems, labels=labels,
                                               kendall_variant=kendall_variant, confidence=confidence,
                                               n_resamples=n_resamples, seed=seed))

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

    # --- memorization: training data against outputs and eval sets --------------------------

    async def create_overlap_index(self, records: Sequence[Mapping[str, Any]] | None = None, *, path: str | Path | None = None,
                               **options: Any) -> mm.OverlapIndex:
        """Index a training set (``records`` or a JSONL/CSV ``path``); options: text_fields, id_field,
        n, unit, boilerplate_share, boilerplate_min_docs, minhash, name. Same data and options → reused."""
        return await self._send(mm.create_overlap_index(records, path, **options))  # type: ignore[no-any-return]

    async def get_overlap_index(self, index_id: str) -> mm.OverlapIndex:
        return await self._send(mm.get_overlap_index(index_id))  # type: ignore[no-any-return]

    async def regurgitation(self, index_id: str, outputs: Sequence[Mapping[str, Any]] | None = None, *,
                        run_id: str | None = None, **options: Any) -> mm.Regurgitation:
        """Copied spans of each output ({output, prompt?, reference?, base_output?}) or of a run's outputs;
        options: thresholds, exclude_echo, max_matches, confidence."""
        return await self._send(mm.regurgitation(index_id, outputs, run_id, **options))  # type: ignore[no-any-return]

    async def get_regurgitation(self, report_id: str) -> mm.Regurgitation:
        return await self._send(mm.get_regurgitation(report_id))  # type: ignore[no-any-return]

    async def contamination(self, index_id: str, items: Sequence[Mapping[str, Any]] | None = None, *,
                        run_id: str | None = None, **options: Any) -> mm.Contamination:
        """Per-item contamination ({id, text | prompt | turns, outcome?}) or a run's items, and the impact
        on outcomes; options: rule, palm_threshold, minhash_threshold, confidence, n_resamples, seed."""
        return await self._send(mm.contamination(index_id, items, run_id, **options))  # type: ignore[no-any-return]

    async def get_contamination(self, report_id: str) -> mm.Contamination:
        return await self._send(mm.get_contamination(report_id))  # type: ignore[no-any-return]
