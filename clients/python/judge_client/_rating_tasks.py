"""Blind human rating tasks (``/v1/rating-tasks``): their models, and how each request is sent."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import TypeAdapter

from judge_client import _models as m
from judge_client._api import Call, _body, _seg
from judge_client._models import ServiceModel


class RaterLink(ServiceModel):
    rater: str
    token: str  # shown once, only when the task is created
    link: str  # relative to the service: /ui/rate.html#token=...


class RatingTaskCreated(ServiceModel):
    id: str
    run_id: str
    mode: str = "pairwise"
    n_items: int
    raters: list[RaterLink]


class RaterProgress(ServiceModel):
    rater: str
    rated: int


class RatingTask(ServiceModel):
    """Progress per rater and the agreement among raters so far (``agreement["alpha"]``: Krippendorff's
    alpha, nominal, None until two raters share two items)."""

    id: str
    name: str
    run_id: str
    mode: str = "pairwise"
    n_items: int
    n_units: int = 0  # what each rater rates: n_items pairs, or 2 x n_items answers (absolute)
    raters: list[RaterProgress]
    agreement: dict[str, Any]
    rating_set_id: str | None = None
    created_at: str

    @property
    def rated(self) -> int:
        return sum(r.rated for r in self.raters)


def create_rating_task_call(run_id: str, raters: Sequence[str], *, name: str | None,
                            n_items: int | None, mode: str | None) -> Call[RatingTaskCreated]:
    return Call("POST", "/v1/rating-tasks", json=_body(run_id=run_id, raters=list(raters), name=name, n_items=n_items,
                                                       mode=mode),
                cast=RatingTaskCreated.model_validate)


def get_rating_task_call(task_id: str) -> Call[RatingTask]:
    return Call("GET", f"/v1/rating-tasks/{_seg(task_id)}", cast=RatingTask.model_validate)


def list_rating_tasks_call(run_id: str | None) -> Call[list[RatingTask]]:
    return Call("GET", "/v1/rating-tasks", params=_body(run_id=run_id),
                cast=TypeAdapter(list[RatingTask]).validate_python)


def rating_task_rating_set_call(task_id: str) -> Call[m.RatingSet]:
    return Call("POST", f"/v1/rating-tasks/{_seg(task_id)}/rating-set", cast=m.RatingSet.model_validate)
