"""Blind human rating of a run's pairs: tasks, per-rater tokens, votes, and the rating set they become.

A task picks items of a finished run and is ``pairwise`` (which of two outputs is better) or
``absolute`` (each output alone, scored on the rubric's anchored scale). Each rater gets a random token (shown once, stored as its
SHA-256 like API keys) and sees the pairs in their own random order with the two outputs in a
random left/right position and no system names. Votes are stored in canonical form (A = the
run's baseline, B = its candidate), so turning them into a pairwise rating set is a projection and
the human verdicts line up with the judges' A/B. Order and positions are seeded from strings
(task, rater, item): a rater who comes back sees exactly the same page.
"""

from __future__ import annotations

from typing import Any

import hashlib
import random
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import JSON, DateTime, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from judge_service.errors import InvalidInput, NotFound
from judge_service.stats.agreement import BootstrapConfig, rater_agreement
from judge_service.store.db import Database
from judge_service.store.models import Base, RunItemRow, RunRow, utcnow

TOKEN_PREFIX = "jrt_"
VOTES = ("left", "right", "tie")


class RatingTaskRow(Base):
    __tablename__ = "rating_tasks"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    run_id: Mapped[str] = mapped_column(String(40))
    item_ids: Mapped[list[str]] = mapped_column(JSON)
    rating_set_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RaterRow(Base):
    __tablename__ = "rating_task_raters"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    task_id: Mapped[str] = mapped_column(String(40), index=True)
    name: Mapped[str] = mapped_column(String(80))


class RatingTaskModeRow(Base):
    """An absolute task's mode and scale; a task without a row here is pairwise (tasks made before
    absolute rating existed), so the first table needs no new column."""

    __tablename__ = "rating_task_modes"
    task_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    mode: Mapped[str] = mapped_column(String(16))
    scale: Mapped[list[int]] = mapped_column(JSON)


class HumanVoteRow(Base):
    __tablename__ = "rating_task_votes"
    __table_args__ = (UniqueConstraint("task_id", "rater", "item_id"),)
    pk: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    task_id: Mapped[str] = mapped_column(String(40), index=True)
    rater: Mapped[str] = mapped_column(String(80))
    item_id: Mapped[str] = mapped_column(String(200))  # absolute tasks: "<item id>#A" (baseline) or "#B" (candidate)
    vote: Mapped[str] = mapped_column(String(4))  # pairwise: "A" (baseline), "B" (candidate) or "tie"; absolute: the score
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


@dataclass(frozen=True)
class Rater:
    task_id: str
    name: str


@dataclass(frozen=True)
class Mode:
    mode: str  # "pairwise" | "absolute"
    scale: list[int]  # absolute: the rubric's scores, lowest first; pairwise: []

    def units(self, item_ids: list[str]) -> list[str]:
        """What a rater rates: the items (pairwise), or each item's two outputs (absolute)."""
        return list(item_ids) if self.mode == "pairwise" else [f"{i}#{side}" for i in item_ids for side in "AB"]


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _seeded(*parts: str) -> random.Random:
    return random.Random(int.from_bytes(hashlib.sha256("/".join(parts).encode()).digest()[:8], "big"))


def candidate_left(task_id: str, rater: str, item_id: str) -> bool:
    """Whether this rater sees the candidate on the left for this item (a fair coin per rater and item)."""
    return _seeded(task_id, rater, item_id, "position").random() < 0.5


def rater_order(task_id: str, rater: str, item_ids: list[str]) -> list[str]:
    order = list(item_ids)
    _seeded(task_id, rater, "order").shuffle(order)
    return order


def create_task(db: Database, run_id: str, raters: list[str], *, name: str | None, n_items: int | None,
                mode: Mode = Mode("pairwise", [])) -> tuple[str, dict[str, str]]:
    """A task over the run's first ``n_items`` judged items (all by default); the raters' tokens, shown once."""
    if len(set(raters)) != len(raters):
        raise InvalidInput(f"'raters' lists a name twice: {raters}", field="raters")
    with db.session() as s:
        run = s.get(RunRow, run_id)
        if run is None:
            raise NotFound(f"no run with id '{run_id}'", field="run_id")
        ids = [r.item_id for r in s.query(RunItemRow).filter_by(run_id=run_id).order_by(RunItemRow.position)]
    if not ids:
        raise InvalidInput(f"run '{run_id}' has no items", field="run_id")
    ids = ids[:n_items] if n_items else ids
    if mode.mode == "absolute" and (long := next((i for i in ids if len(i) > 190), None)):
        raise InvalidInput(f"item id '{long[:40]}…' is longer than 190 characters: absolute rating stores it with a "
                           "side suffix; rate pairwise or shorten the ids", field="mode")
    task_id = f"rt_{uuid.uuid4().hex[:20]}"
    tokens = {r: TOKEN_PREFIX + secrets.token_urlsafe(32) for r in raters}
    with db.session() as s:
        s.add(RatingTaskRow(id=task_id, name=name or f"human ratings of {run_id}", run_id=run_id, item_ids=ids))
        for rater, token in tokens.items():
            s.add(RaterRow(token_hash=hash_token(token), task_id=task_id, name=rater))
        if mode.mode == "absolute":
            s.add(RatingTaskModeRow(task_id=task_id, mode=mode.mode, scale=mode.scale))
    return task_id, tokens


def task_mode(db: Database, task_id: str) -> Mode:
    with db.session() as s:
        row = s.get(RatingTaskModeRow, task_id)
    return Mode("pairwise", []) if row is None else Mode(row.mode, list(row.scale))


def get_task(db: Database, task_id: str) -> RatingTaskRow:
    with db.session() as s:
        task = s.get(RatingTaskRow, task_id)
    if task is None:
        raise NotFound(f"no rating task with id '{task_id}'", field="id")
    return task


def task_ids(db: Database, run_id: str | None = None) -> list[str]:
    with db.session() as s:
        q = s.query(RatingTaskRow.id)
        if run_id is not None:
            q = q.filter_by(run_id=run_id)
        return [i for (i,) in q.order_by(RatingTaskRow.created_at.desc())]


def rater_for(db: Database, token: str) -> Rater:
    with db.session() as s:
        row = s.get(RaterRow, hash_token(token))
    if row is None:
        raise NotFound("unknown rater token; ask whoever sent the link for a new one", field="token")
    return Rater(row.task_id, row.name)


def votes(db: Database, task_id: str, rater: str | None = None) -> dict[tuple[str, str], str]:
    """(rater, item_id) -> canonical vote; only one rater's when ``rater`` is given."""
    with db.session() as s:
        q = s.query(HumanVoteRow).filter_by(task_id=task_id)
        if rater is not None:
            q = q.filter_by(rater=rater)
        return {(v.rater, v.item_id): v.vote for v in q}


def record_vote(db: Database, rater: Rater, item_id: str, shown: str) -> str:
    """Store a vote given on screen ("left", "right", "tie") in canonical A/B form, or an absolute
    task's score for one output ("<item>#A" or "#B"); a new vote replaces the old."""
    task = get_task(db, rater.task_id)
    mode = task_mode(db, task.id)
    if mode.mode == "absolute":
        if shown not in {str(v) for v in mode.scale}:
            raise InvalidInput(f"score must be one of {mode.scale} (the rubric's scale), got '{shown}'", field="vote")
    elif shown not in VOTES:
        raise InvalidInput(f"vote must be one of {list(VOTES)}, got '{shown}'", field="vote")
    if item_id not in mode.units(task.item_ids):
        raise NotFound(f"item '{item_id}' is not in your rating task", field="item_id")
    if mode.mode == "absolute" or shown == "tie":
        vote = shown  # a score, or a tie: neither depends on the screen's left/right
    else:
        left_is_candidate = candidate_left(task.id, rater.name, item_id)
        vote = "B" if (shown == "left") == left_is_candidate else "A"
    with db.session() as s:
        row = s.query(HumanVoteRow).filter_by(task_id=task.id, rater=rater.name, item_id=item_id).one_or_none()
        if row is None:
            s.add(HumanVoteRow(task_id=task.id, rater=rater.name, item_id=item_id, vote=vote))
        else:
            row.vote = vote
    return vote


def shown_vote(task_id: str, rater: str, item_id: str, vote: str | None) -> str | None:
    """A canonical vote as the rater saw it (left/right), to show their own earlier choice on resume."""
    if vote is None or vote == "tie":
        return vote
    return "left" if (vote == "B") == candidate_left(task_id, rater, item_id) else "right"


def rater_names(db: Database, task_id: str) -> list[str]:
    with db.session() as s:
        return sorted(r.name for r in s.query(RaterRow).filter_by(task_id=task_id))


def agreement(task: RatingTaskRow, names: list[str], cast: dict[tuple[str, str], str],
              mode: Mode = Mode("pairwise", [])) -> dict[str, Any]:
    """Krippendorff's alpha among raters on the votes so far: nominal for pairwise votes (with Cohen's
    kappa for every pair of raters), ordinal on the rubric's scale for absolute scores."""
    rated = [i for i in mode.units(task.item_ids) if sum((r, i) in cast for r in names) >= 2]
    if len(names) < 2 or len(rated) < 2:
        return {"alpha": None, "n_items": len(rated), "reason": "needs two raters on at least two common items", "pairs": []}
    absolute = mode.mode == "absolute"
    matrix: list[list[str | float | None]] = [[(float(v) if absolute else v) if (v := cast.get((r, i))) is not None else None
                                               for i in rated] for r in names]
    try:
        result = rater_agreement(matrix, "ordinal" if absolute else "pairwise", labels=mode.scale if absolute else None,
                                 bootstrap=BootstrapConfig(n_resamples=500, seed=task.id))
    except InvalidInput as e:
        return {"alpha": None, "n_items": len(rated), "reason": e.message, "pairs": []}
    pairs = [{"raters": [names[p.rater_a], names[p.rater_b]], "cohen_kappa": p.cohen_kappa.estimate} for p in result.pairs]
    return {"alpha": result.alpha.estimate, "ci_low": result.alpha.ci_low, "ci_high": result.alpha.ci_high,
            "level": "ordinal" if absolute else "nominal", "n_items": len(rated), "reason": result.alpha.reason,
            "pairs": pairs}
