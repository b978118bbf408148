"""POST /v1/length-control/joint: the joint length-controlled fit over several checkpoints.

Stateless, like /v1/agreement: the caller sends each checkpoint's soft preferences over one shared
baseline and the length differences (and, optionally, length-probe rows: rewrites of the baseline's
answers judged against the originals); the fit and its bootstrap intervals live in
``judge_service.bias.joint``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from judge_service.bias.joint import ModelInput, ProbeInput, joint_length_control, joint_length_control_ci
from judge_service.errors import InvalidInput
from judge_service.schemas import ErrorBody, EstimateOut

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


class ProbesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    groups: list[str] = Field(max_length=MAX_ITEMS, description="per probe row, the baseline answer it rewrites "
                                                                "(rows of one answer are resampled together)")
    preference: list[float] = Field(max_length=MAX_ITEMS, description="P(rewrite preferred over the original)")
    delta_len: list[float] = Field(max_length=MAX_ITEMS, description="rewrite − original length")


class JointRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    models: dict[str, CheckpointIn] = Field(max_length=MAX_MODELS,
                                            description="checkpoint name -> its judged items, all vs one baseline")
    probes: ProbesIn | None = Field(default=None, description="length probes: rows where only length differs, "
                                                              "which pin every checkpoint's length slope")
    confidence: float = Field(default=0.95, gt=0.5, lt=1)
    n_resamples: int = Field(default=200, ge=0, le=2000,
                             description="bootstrap resamples for the intervals (0: point estimates only)")
    seed: str = Field(default="joint", max_length=200)


class CheckpointOut(BaseModel):
    n: int
    win_rate: float = Field(description="mean soft preference, uncontrolled")
    length_controlled: float = Field(description="mean predicted preference at equal length")
    length_controlled_ci: EstimateOut | None = Field(
        default=None, description="the LC win rate with a cluster-bootstrap percentile interval over items (and "
                                  "probe groups); null with n_resamples 0")
    intercept: float
    length_slope: float
    sensitivity: float = Field(description="the checkpoint's weight on the shared instruction difficulty")


class JointResponse(BaseModel):
    n_items: int = Field(description="distinct items over all checkpoints")
    models: dict[str, CheckpointOut]
    difficulty: dict[str, float] = Field(description="the shared per-item difficulty (mean 0)")
    probes_used: int = Field(default=0, description="probe rows in each checkpoint's fit (0: none)")


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
    models = {name: ModelInput(m.items, m.preference, m.delta_len) for name, m in body.models.items()}
    probes = None if body.probes is None else ProbeInput(body.probes.groups, body.probes.preference,
                                                         body.probes.delta_len)
    fit = joint_length_control(models, probes)
    interval = None if body.n_resamples == 0 else joint_length_control_ci(
        models, probes, confidence=body.confidence, n_resamples=body.n_resamples, seed=body.seed)
    return {"n_items": len(fit.items), "difficulty": fit.difficulty, "probes_used": fit.probes_used, "models": {
        name: {"n": len(body.models[name].items), "win_rate": fit.win_rate[name],
               "length_controlled": fit.length_controlled[name], "intercept": fit.intercept[name],
               "length_slope": fit.length_slope[name], "sensitivity": fit.sensitivity[name],
               "length_controlled_ci": None if interval is None else EstimateOut(
                   estimate=fit.length_controlled[name], ci_low=interval.low[name], ci_high=interval.high[name],
                   n=len(body.models[name].items), method="percentile (cluster bootstrap over items)")}
        for name in fit.models}}
