"""GET /healthz, /v1/judges, /v1/rubrics; POST /v1/rubrics."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Body, Depends, Response
from pydantic import BaseModel, Field

from judge_service.api.deps import get_ctx
from judge_service.context import AppContext
from judge_service.errors import InvalidInput
from judge_service.judges.limits import LimitedProvider
from judge_service.rubrics.model import Rubric
from judge_service.schemas import ErrorBody

router = APIRouter(tags=["catalog"])


class JudgeLimits(BaseModel):
    """The judge's limits as this process applies them: its share when several replicas run on one database."""

    replicas: int = Field(description="live service processes on this database; each takes 1/replicas of the limits")
    max_concurrency: int = Field(description="calls this process may have in flight (configured // replicas, at least 1)")
    requests_per_minute: float | None = Field(description="this process's share of the configured requests_per_minute")
    tokens_per_minute: float | None = Field(description="this process's share of the configured tokens_per_minute")


class JudgeOut(BaseModel):
    name: str
    provider: str
    model: str
    family: str
    health: str
    in_default_panel: bool
    limits: JudgeLimits | None = Field(default=None, description="null for a judge that could not be built")


class RubricVersionOut(BaseModel):
    name: str
    version: int
    hash: str
    description: str
    modes: list[str]
    requires_reference: bool
    criteria: list[dict[str, Any]]
    content: dict[str, Any]
    variants: list[dict[str, Any]] = []


class RubricSummary(BaseModel):
    name: str
    latest_version: int
    versions: list[int]
    description: str
    modes: list[str]
    invalid_versions: dict[str, str]


def rubric_out(r: Rubric) -> dict[str, Any]:
    return {
        "name": r.name, "version": r.version, "hash": r.hash, "description": r.description,
        "modes": list(r.modes), "requires_reference": r.requires_reference,
        "criteria": [{"name": c.name, "description": c.description, "scale": list(c.scale),
                      "anchors": {str(k): v for k, v in sorted(c.anchors.items())}} for c in r.criteria],
        "content": r.content,
        # Every wording of this version, each with its own hash (a reference is "name@version:variant").
        "variants": [{"variant": w.variant, "hash": w.hash, "ref": w.ref,
                      "note": (r.source.get("variants") or {}).get(w.variant, {}).get("note")}
                     for w in (r.wording(v) for v in r.variant_names)],
    }


class Health(BaseModel):
    status: Literal["ok"]


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """Liveness: the process answers. It does not touch the database: a probe queued behind a busy
    connection pool would time out and the load balancer would take a working instance out."""
    return Health(status="ok")


@router.get("/v1/judges", response_model=list[JudgeOut])
async def list_judges(ctx: AppContext = Depends(get_ctx)) -> list[dict[str, Any]]:
    panel = set(ctx.judges.default_panel())
    out = []
    for spec in ctx.judges.specs():
        limits = None
        try:
            provider = ctx.judges.get(spec.name).provider
            limits = provider.limits() if isinstance(provider, LimitedProvider) else None
            health = await provider.health()
        except Exception as e:  # a judge that cannot even be built is reported, not fatal
            health = f"unavailable: {getattr(e, 'message', str(e))}"
        out.append({"name": spec.name, "provider": spec.provider, "model": spec.model, "family": spec.family,
                    "health": health, "in_default_panel": spec.name in panel, "limits": limits})
    return out


@router.get("/v1/rubrics", response_model=list[RubricSummary])
async def list_rubrics(ctx: AppContext = Depends(get_ctx)) -> list[dict[str, Any]]:
    by_name: dict[str, dict[str, Any]] = {}
    for (name, version), r in sorted(ctx.rubrics.all().items()):
        entry = by_name.setdefault(name, {"name": name, "versions": [], "invalid_versions": {}})
        if isinstance(r, Rubric):
            entry["versions"].append(version)
            entry.update(latest_version=version, description=r.description, modes=list(r.modes))
        else:
            entry["invalid_versions"][str(version)] = r.message
    return [e for e in by_name.values() if e["versions"]]


@router.get("/v1/rubrics/{name}", response_model=list[RubricVersionOut], responses={404: {"model": ErrorBody}})
async def get_rubric(name: str, ctx: AppContext = Depends(get_ctx)) -> list[dict[str, Any]]:
    return [rubric_out(r) for r in ctx.rubrics.versions(name)]


@router.post("/v1/rubrics", response_model=RubricVersionOut, status_code=201)
async def add_rubric(response: Response, body: dict[str, Any] = Body(..., description="a rubric, same schema as rubrics/<name>/v<N>.yaml"),
                     ctx: AppContext = Depends(get_ctx)) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object describing a rubric", field="body")
    rubric, created = ctx.rubrics.add(body)
    if not created:
        response.status_code = 200
    return rubric_out(rubric)
