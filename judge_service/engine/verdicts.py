"""The one home of a verdict: prepare → judge or compare → calibrate → record.

Every surface that asks judges for a verdict (a judgment, a comparison, a run, a calibration)
prepares it here, once: text and sample limits, the rubric (resolved and checked against its
recorded hash), the reference a reference-guided rubric needs, the judges, and the rubric marked
as used. Judgments and comparisons are then judged, calibrated and recorded here too: the
response model is built and stored in one place, so a new field of a verdict is one edit.

Database work runs through ``Database.run`` (a thread pool), never on the event loop.

When every judge of a verdict failed at its provider (a bad key, an outage after retries) there
is no verdict to give: that is a 502 naming the judges, with the providers' (already redacted)
messages. When only some failed, the verdict stands and the failed judges are listed as unscored.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal

from sqlalchemy.orm import Session

from judge_service.engine.call import CallOwner, JudgeCaller
from judge_service.engine.compare import ComparisonResult, compare
from judge_service.engine.flags import detect_flags
from judge_service.engine.grade import Conversation, GradeResult, Sampling, grade
from judge_service.engine.wordings import pooled_comparison, pooled_grade
from judge_service.errors import Conflict, InvalidInput, JudgeAuthError, JudgeError, NotFound, PayloadTooLarge
from judge_service.judges.registry import Judge, JudgePool
from judge_service.rubrics.model import Rubric
from judge_service.rubrics.registry import RubricRegistry
from judge_service.schemas import (ComparisonRequest, ComparisonResponse, JudgmentRequest, JudgmentResponse,
                                   RubricRef, VariantVerdict)
from judge_service.settings import Settings
from judge_service.stats.calibrate import apply_mapping
from judge_service.store.db import Database
from judge_service.store.models import CalibrationRow, JudgmentRow, utcnow

Mode = Literal["absolute", "pairwise"]
JUDGMENTS_TABLE = JudgmentRow.metadata.tables[JudgmentRow.__tablename__]


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:20]}"


def rubric_ref(rubric: Rubric) -> dict[str, Any]:
    return RubricRef(name=rubric.name, version=rubric.version, hash=rubric.hash, variant=rubric.variant).model_dump()


def recorded_ref(recorded: Mapping[str, Any]) -> str:
    """The ref that resolves to exactly the rubric version (and wording) ``rubric_ref`` recorded."""
    wording = recorded.get("variant", "default")
    return f"{recorded['name']}@{recorded['version']}" + ("" if wording == "default" else f":{wording}")


@dataclass(frozen=True)
class Prepared:
    """A request that passed every check: the rubric version to judge by and the judges to ask."""

    rubric: Rubric
    judges: list[Judge]

    @property
    def judge_names(self) -> list[str]:
        return [j.name for j in self.judges]


class Verdicts:
    """Built once per app (``AppContext.verdicts``) from its settings, database, rubrics and judges."""

    def __init__(self, settings: Settings, db: Database, rubrics: RubricRegistry, judges: JudgePool,
                 caller: JudgeCaller) -> None:
        self.settings = settings
        self.db = db
        self.rubrics = rubrics
        self.judges = judges
        self.caller = caller

    # -- prepare ---------------------------------------------------------------------------------
    def check_texts(self, texts: Mapping[str, str | None]) -> None:
        limit = self.settings.max_text_chars
        for name, text in texts.items():
            if text is not None and len(text) > limit:
                raise PayloadTooLarge(
                    f"'{name}' is {len(text)} characters; the limit is {limit} (JUDGE_MAX_TEXT_CHARS)", field=name)

    def check_samples(self, samples: int) -> None:
        if samples > self.settings.max_samples:
            raise InvalidInput(f"samples={samples} exceeds the limit of {self.settings.max_samples} (JUDGE_MAX_SAMPLES)",
                               field="samples")

    async def resolve_judges(self, names: Sequence[str] | None) -> list[Judge]:
        names = list(names or self.judges.default_panel())
        if len(set(names)) != len(names):
            raise InvalidInput(f"'judges' lists a judge twice: {names}", field="judges")
        if len(names) > self.settings.max_judges_per_request:
            raise InvalidInput(
                f"{len(names)} judges requested; the limit is {self.settings.max_judges_per_request} "
                "(JUDGE_MAX_JUDGES_PER_REQUEST)", field="judges")
        for n in names:
            self.judges.spec(n)  # an unknown name is the caller's error, named before anything is built
        return await self.judges.get_many(names)

    async def rubric(self, ref: str, *, mode: str | None = None) -> Rubric:
        """Resolve ``name[@version]``: on the loop when no database read is needed (a version already
        recorded as used: every request after the first), else off it (the registry reads the database)."""
        known = self.rubrics.resolve_if_known(ref, mode=mode)
        if known is not None:
            return known
        return await self.db.run(lambda _s: self.rubrics.resolve(ref, mode=mode))

    async def prepare(self, rubric: str, *, mode: Mode, judges: Sequence[str] | None, samples: int = 1,
                      texts: Mapping[str, str | None] | None = None, also_modes: Sequence[str] = (),
                      missing_reference: Sequence[str] = (), reference_field: str = "reference",
                      check: Callable[[Prepared], Awaitable[None]] | None = None) -> Prepared:
        """Every check a verdict needs before a judge is asked, in the order a user fixes them.

        ``missing_reference`` names what lacks a reference (items of a run; ``["reference"]`` for a
        single request without one): refused when the rubric is reference-guided. ``check`` runs
        last, before the rubric version is marked used (nothing is marked for a refused request).
        """
        self.check_texts(texts or {})
        self.check_samples(samples)
        resolved = await self.rubric(rubric, mode=mode)
        for extra in also_modes:
            if extra not in resolved.modes:
                raise InvalidInput(f"rubric {resolved.ref} does not support {extra} mode", field="rubric")
        if resolved.requires_reference and missing_reference:
            if reference_field == "reference":
                raise InvalidInput(f"rubric {resolved.ref} is reference-guided: send 'reference'", field="reference")
            raise InvalidInput(f"rubric {resolved.ref} is reference-guided; items without a reference: "
                               f"{list(missing_reference)[:5]}", field=reference_field)
        prepared = Prepared(resolved, await self.resolve_judges(judges))
        if check is not None:
            await check(prepared)
        if not self.rubrics.marked_used(resolved):  # after the first request, no thread hop for a no-op
            await self.db.run(lambda _s: self.rubrics.mark_used(resolved))
        return prepared

    async def _prepare_request(self, body: JudgmentRequest | ComparisonRequest, mode: Mode,
                               texts: dict[str, str | None]) -> Prepared:
        body.check_conversation()
        if isinstance(body, JudgmentRequest):
            body.check_history(body.history, "history")
        else:
            if (body.history_a is None) != (body.history_b is None):
                raise InvalidInput("give both history_a and history_b (each response's own earlier answers) or neither",
                                   field="history_b" if body.history_b is None else "history_a")
            body.check_history(body.history_a, "history_a")
            body.check_history(body.history_b, "history_b")
        texts = {"prompt": body.prompt, "reference": body.reference, **texts}
        texts.update({f"messages.{i}.content": m.content for i, m in enumerate(body.messages or [])})
        histories = {"history": body.history} if isinstance(body, JudgmentRequest) else {
            "history_a": body.history_a, "history_b": body.history_b}
        texts.update({f"{name}.{i}": t for name, h in histories.items() for i, t in enumerate(h or [])})
        return await self.prepare(body.rubric, mode=mode, judges=body.judges, samples=body.samples, texts=texts,
                                  missing_reference=() if body.reference else ("reference",))

    async def wordings(self, prepared: Prepared, ref: str, variants: Sequence[str] | None) -> list[Rubric]:
        """The rubric wordings a verdict uses: the prepared rubric alone, or the named variants (marked used)."""
        if variants is None:
            return [prepared.rubric]

        def work(_s: Session) -> list[Rubric]:
            found = self.rubrics.resolve_variants(ref, list(variants))
            for w in found:
                self.rubrics.mark_used(w)
            return found

        return await self.db.run(work)

    # -- judge / compare -------------------------------------------------------------------------
    async def judge(self, body: JudgmentRequest) -> JudgmentResponse:
        """POST /v1/judgments: grade one response, calibrate it if asked, record it."""
        if body.rubric_variants is not None and body.calibration is not None:
            raise InvalidInput("a calibration is fitted on one rubric wording; drop 'calibration' or "
                               "'rubric_variants'", field="rubric_variants")
        prepared = await self._prepare_request(body, "absolute", {"response": body.response})
        id_ = new_id("jdg")
        wordings = await self.wordings(prepared, body.rubric, body.rubric_variants)
        per_variant = list(zip(wordings, await asyncio.gather(*(
            grade(self.caller, w, prepared.judges, Conversation(body.conversation(), body.reference), body.response,
                  sampling=Sampling(body.samples, body.temperature, body.seed), owner=CallOwner("judgment", id_),
                  history=body.history)
            for w in wordings))))
        result = per_variant[0][1] if body.rubric_variants is None else pooled_grade(prepared.rubric, per_variant)
        _refuse_if_every_judge_failed([(g.judge, g.error_code, g.error) for g in result.judges])
        out = judgment_out(id_, prepared.rubric, result, detect_flags(body.response))
        if body.rubric_variants is not None:
            out = out.model_copy(update={"variants": [VariantVerdict.model_validate({
                "rubric": rubric_ref(w), "score": r.score, "criteria": r.criteria, "spread": r.panel_spread.to_dict()})
                for w, r in per_variant], "panel": out.panel.model_copy(update={"method": "mean over judges x variants"})})
        if body.calibration is not None:
            out = await self.calibrate(out, body.calibration, prepared.rubric)
        await self.record("judgment", prepared.rubric, body.model_dump(mode="json"), out)
        return out

    async def compare(self, body: ComparisonRequest) -> ComparisonResponse:
        """POST /v1/comparisons: both orders per judge, reconciled, recorded."""
        prepared = await self._prepare_request(body, "pairwise",
                                               {"response_a": body.response_a, "response_b": body.response_b})
        id_ = new_id("cmp")
        wordings = await self.wordings(prepared, body.rubric, body.rubric_variants)
        per_variant = list(zip(wordings, await asyncio.gather(*(
            compare(self.caller, w, prepared.judges, Conversation(body.conversation(), body.reference),
                    body.response_a, body.response_b, sampling=Sampling(body.samples, body.temperature, body.seed),
                    owner=CallOwner("comparison", id_),
                    histories=None if body.history_a is None or body.history_b is None else (body.history_a, body.history_b))
            for w in wordings))))
        result = per_variant[0][1] if body.rubric_variants is None else pooled_comparison(per_variant)
        _refuse_if_every_judge_failed([(j.judge, j.error_code, j.error) for j in result.judges])
        out = comparison_out(id_, prepared.rubric, result, detect_flags(body.response_a, body.response_b))
        if body.rubric_variants is not None:
            out = out.model_copy(update={"variants": [VariantVerdict.model_validate({
                "rubric": rubric_ref(w), "winner": r.winner, "prob_a": r.prob_a, "spread": r.panel_spread.to_dict()})
                for w, r in per_variant], "panel": out.panel.model_copy(update={"method": "majority over judges x variants"})})
        await self.record("comparison", prepared.rubric, body.model_dump(mode="json"), out)
        return out

    # -- calibrate -------------------------------------------------------------------------------
    async def usable_calibration(self, cal_id: str, rubric: Rubric, judges: Sequence[str], *,
                                 field: str = "calibration", scores_only: bool = True) -> dict[str, Any]:
        """The stored score mapping of a finished calibration that fits this rubric version and panel.

        ``scores_only=False`` also accepts a pairwise (tie-threshold) calibration: a run's
        ``human_check`` reads only its judge-vs-human figures."""
        row = await self.db.run(lambda s: s.get(CalibrationRow, cal_id))
        if row is None:
            raise NotFound(f"unknown calibration '{cal_id}'", field=field)
        if row.status != "done" or row.mapping is None:
            raise Conflict(f"calibration '{cal_id}' is {row.status}; wait until it is done", field=field)
        if scores_only and row.mapping.get("kind") != "isotonic":
            raise InvalidInput(f"calibration '{cal_id}' is for pairwise votes; it cannot calibrate a score", field=field)
        fitted = row.spec["rubric"]
        if fitted["hash"] != rubric.hash:
            raise Conflict(f"calibration '{cal_id}' was fitted on rubric {fitted['name']}@{fitted['version']} "
                           f"(hash {fitted['hash'][:8]}…), not {rubric.ref}", field=field)
        if sorted(judges) != sorted(row.spec["judges"]):
            raise Conflict(f"calibration '{cal_id}' was fitted for judges {sorted(row.spec['judges'])}; "
                           f"this uses {sorted(judges)}", field=field)
        mapping: dict[str, Any] = row.mapping
        return mapping

    async def calibrate(self, out: JudgmentResponse, cal_id: str, rubric: Rubric) -> JudgmentResponse:
        """``calibrated_score``: the panel score on the human scale of a calibration that fits it."""
        mapping = await self.usable_calibration(cal_id, rubric, [j.judge for j in out.judges])
        calibrated = None if out.score is None else float(apply_mapping(mapping, [out.score])[0])
        return out.model_copy(update={"calibrated_score": calibrated, "calibration_id": cal_id})

    # -- record ----------------------------------------------------------------------------------
    async def record(self, kind: Literal["judgment", "comparison"], rubric: Rubric, request: dict[str, Any],
                     out: JudgmentResponse | ComparisonResponse) -> None:
        values = {"id": out.id, "kind": kind, "rubric_name": rubric.name, "rubric_version": rubric.version,
                  "rubric_hash": rubric.hash, "request": request, "result": out.model_dump(mode="json"),
                  "created_at": utcnow()}
        # Grouped with the call records' commits: the response still waits for its verdict's row.
        await self.db.insert_grouped(JUDGMENTS_TABLE, values)

    async def stored_judgment(self, id_: str) -> JudgmentResponse:
        return JudgmentResponse.model_validate(await self._stored(id_, "judgment"))

    async def stored_comparison(self, id_: str) -> ComparisonResponse:
        return ComparisonResponse.model_validate(await self._stored(id_, "comparison"))

    async def _stored(self, id_: str, kind: str) -> dict[str, Any]:
        def read(s: Session) -> dict[str, Any] | None:
            row = s.get(JudgmentRow, id_)
            return None if row is None or row.kind != kind else dict(row.result)

        found = await self.db.run(read)
        if found is None:
            raise NotFound(f"no {kind} with id '{id_}'", field="id")
        return found


def _refuse_if_every_judge_failed(judges: list[tuple[str, str | None, str | None]]) -> None:
    """A 502 when every judge failed at its provider; one scored (or merely unparseable) judge is a verdict."""
    if not judges or any(code is None for _, code, _ in judges):
        return
    message = "every judge failed: " + "; ".join(f"judge '{name}': {error}" for name, _, error in judges)
    if all(code == JudgeAuthError.code for _, code, _ in judges):
        raise JudgeAuthError(message, field="judges")
    raise JudgeError(message, field="judges")


def _sum_cost(costs: list[float | None]) -> float | None:
    total = 0.0
    for c in costs:
        if c is None:
            return None
        total += c
    return total


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def judgment_out(id_: str, rubric: Rubric, result: GradeResult, flags: list[str]) -> JudgmentResponse:
    return JudgmentResponse.model_validate({
        "id": id_,
        "kind": "judgment",
        "rubric": rubric_ref(rubric),
        "score": result.score,
        "criteria": result.criteria,
        "length_adjusted_score": None,
        "calibrated_score": None,
        "calibration_id": None,
        "judges": [
            {
                "judge": g.judge, "model": g.model, "score": g.score, "criteria": g.criteria,
                "rationale": g.rationale, "method": g.method, "cached": g.cached, "latency_ms": g.latency_ms,
                "usage": g.usage, "cost_usd": g.cost_usd, "samples": g.sample_scores,
                "sample_spread": g.sample_spread.to_dict(), "error": g.error, "variant": g.variant,
            }
            for g in result.judges
        ],
        "panel": {"method": "mean", "spread": result.panel_spread.to_dict(), "unscored": result.unscored},
        "cost_usd": _sum_cost([g.cost_usd for g in result.judges]),
        "created_at": _now(),
        "flags": flags,
    })


def comparison_out(id_: str, rubric: Rubric, result: ComparisonResult, flags: list[str]) -> ComparisonResponse:
    return ComparisonResponse.model_validate({
        "id": id_,
        "kind": "comparison",
        "rubric": rubric_ref(rubric),
        "winner": result.winner,
        "prob_a": result.prob_a,
        "consistent": result.consistent,
        "orders": [
            {
                "order": o.order, "judge": o.judge, "winner": o.winner, "prob_a": o.prob_a,
                "rationale": o.rationale, "method": o.method, "samples": o.sample_winners,
                "sample_spread": o.sample_spread.to_dict(), "cached": o.cached, "error": o.error,
                "variant": j.variant,
            }
            for j in result.judges for o in j.orders
        ],
        "judges": [
            {
                "judge": j.judge, "model": j.model, "winner": j.winner, "prob_a": j.prob_a,
                "consistent": j.consistent, "cached": j.cached, "latency_ms": j.latency_ms, "usage": j.usage,
                "cost_usd": j.cost_usd, "error": j.error, "variant": j.variant,
            }
            for j in result.judges
        ],
        "panel": {"method": "majority", "spread": result.panel_spread.to_dict(), "unscored": result.unscored,
                  "votes": result.votes},
        "cost_usd": _sum_cost([j.cost_usd for j in result.judges]),
        "created_at": _now(),
        "flags": flags,
    })
