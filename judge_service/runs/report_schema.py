"""The run report's response model (GET /v1/runs/{id}/report).

Minimal and permissive for now: the fields every report has are typed, the sections the report
assembly adds are allowed through as they are. The report's full model is written with the report's
split (issue 14), which owns this module from then on.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class RunReportOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    run_id: str
    status: str
    complete: bool
