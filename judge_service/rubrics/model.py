"""What a rubric is: a versioned, hashed set of criteria with anchored scales and templates."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MODES = ("absolute", "pairwise")


class CriterionFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)
    description: str = Field(min_length=1)
    # One anchor text per score: the judge sees what each number means.
    anchors: dict[int, str]
    weight: float = Field(default=1.0, gt=0)

    @field_validator("anchors")
    @classmethod
    def _contiguous(cls, v: dict[int, str]) -> dict[int, str]:
        keys = sorted(v)
        if len(keys) < 2 or keys != list(range(keys[0], keys[-1] + 1)):
            raise ValueError("anchors must give a text for every integer score of a contiguous scale, e.g. 1..5")
        if any(not str(t).strip() for t in v.values()):
            raise ValueError("every anchor needs a non-empty text")
        return v


class RubricFile(BaseModel):
    """The schema of ``rubrics/<name>/v<N>.yaml`` and of ``POST /v1/rubrics``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)
    version: int = Field(ge=1)
    description: str = Field(min_length=1)
    modes: list[str] = Field(min_length=1)
    requires_reference: bool = False
    instructions: str = Field(min_length=1)
    criteria: list[CriterionFile] = Field(min_length=1)
    templates: dict[str, str] = Field(default_factory=dict)

    @field_validator("modes")
    @classmethod
    def _modes(cls, v: list[str]) -> list[str]:
        bad = [m for m in v if m not in MODES]
        if bad:
            raise ValueError(f"unknown mode(s) {bad}; use {list(MODES)}")
        return v

    @model_validator(mode="after")
    def _templates_for_modes(self) -> RubricFile:
        extra = [m for m in self.templates if m not in self.modes]
        if extra:
            raise ValueError(f"templates given for modes the rubric does not support: {extra}")
        names = [c.name for c in self.criteria]
        if len(set(names)) != len(names):
            raise ValueError("criterion names must be unique")
        return self


@dataclass(frozen=True)
class Criterion:
    name: str
    description: str
    anchors: dict[int, str]
    weight: float

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(str(k) for k in sorted(self.anchors))

    @property
    def scale(self) -> tuple[int, int]:
        return min(self.anchors), max(self.anchors)


@dataclass(frozen=True)
class Rubric:
    name: str
    version: int
    description: str
    modes: tuple[str, ...]
    requires_reference: bool
    instructions: str
    criteria: tuple[Criterion, ...]
    templates: dict[str, str]
    content: dict[str, Any]  # canonical parsed content, what the hash is of
    hash: str

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    def scale(self) -> tuple[int, int]:
        """The overall score's scale: the criteria's, when they share one."""
        lows, highs = zip(*(c.scale for c in self.criteria))
        return min(lows), max(highs)


def canonical_hash(content: dict[str, Any]) -> str:
    """sha256 of the parsed content serialised canonically, so whitespace and key order don't matter."""
    blob = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def build_rubric(parsed: RubricFile) -> Rubric:
    content = parsed.model_dump(mode="json")
    return Rubric(
        name=parsed.name,
        version=parsed.version,
        description=parsed.description,
        modes=tuple(parsed.modes),
        requires_reference=parsed.requires_reference,
        instructions=parsed.instructions,
        criteria=tuple(Criterion(c.name, c.description, dict(c.anchors), c.weight) for c in parsed.criteria),
        templates=dict(parsed.templates),
        content=content,
        hash=canonical_hash(content),
    )
