"""POST /v1/length-control/joint: the joint length-controlled fit over several checkpoints.

Stateless, like /v1/agreement: the caller sends each checkpoint's soft preferences over one shared
baseline and the length differences; the fit lives in ``judge_service.bias.joint``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from judge_service.bias.joint import ModelInput, joint_length_control
from judge_service.errors import InvalidInput
from judge_service.schemas import ErrorBody

router = APIRouter(prefix="/v1", tags=["length control"])
ERRORS: dict[int | str, dict[str, Any]] = {422: {"model": ErrorBody}}
MAX_ITEMS = 20_000
MAX_MODELS = 50


class CheckpointIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[str] = Field(max_length=MAX_ITEMS, description="item ids (instructions), shared across checkpoints")
    preference: list[float] = Field(max_length=MAX_ITEMS,
                                    description="P(checkpoint preferred over the baseline) per item, in [0, 1]")
    delta_len: list[float] = Field(max_length=MAX_ITEMS, description="checkpoint − baseline answer length per item")


class JointRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    models: dict[str, CheckpointIn] = Field(max_length=MAX_MODELS,
                                            description="checkpoint name -> its judged items, all vs one baseline")


class CheckpointOut(BaseModel):
    n: int
    win_rate: float = Field(description="mean soft preference, uncontrolled")
    length_controlled: float = Field(description="mean predicted preference at equal length")
    intercept: float
    length_slope: float
    sensitivity: float = Field(description="the checkpoint's weight on the shared instruction difficulty")


class JointResponse(BaseModel):
    n_items: int = Field(description="distinct items over all checkpoints")
    models: dict[str, CheckpointOut]
    difficulty: dict[str, float] = Field(description="the shared per-item difficulty (mean 0)")


@router.post("/length-control/joint", response_model=JointResponse, responses=ERRORS)
def joint(body: JointRequest) -> dict[str, Any]:
    # a plain def: the fit takes a moment on large inputs, FastAPI runs it in the thread pool
    for name, m in body.models.items():
        if not (len(m.items) == len(m.preference) == len(m.delta_len)):
            raise InvalidInput(f"model '{name}': items ({len(m.items)}), preference ({len(m.preference)}) and "
                               f"delta_len ({len(m.delta_len)}) must have one entry per item",
                               field=f"models.{name}")
        if len(set(m.items)) != len(m.items):
            raise InvalidInput(f"model '{name}' lists an item twice; give each item once", field=f"models.{name}.items")
    fit = joint_length_control({name: ModelInput(m.items, m.preference, m.delta_len)
                                for name, m in body.models.items()})
    return {"n_items": len(fit.items), "difficulty": fit.difficulty, "models": {
        name: {"n": len(body.models[name].items), "win_rate": fit.win_rate[name],
               "length_controlled": fit.length_controlled[name], "intercept": fit.intercept[name],
               "length_slope": fit.length_slope[name], "sensitivity": fit.sensitivity[name]}
        for name in fit.models}}
