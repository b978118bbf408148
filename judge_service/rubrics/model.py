"""What a rubric is: a versioned, hashed set of criteria with anchored scales and templates.

A rubric may name **variants**: rewordings of its instructions, criteria descriptions and anchor
texts meant to measure the same thing (same criteria, same scales). Each variant is its own
hashed, immutable version grouped under the rubric's version (``name@1:errors``); the base wording
is the variant ``default``, and its hash is the hash the rubric had before it named any variant,
so adding variants never changes the identity of verdicts already made with the base wording.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MODES = ("absolute", "pairwise")
_VARIANT_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
DEFAULT_VARIANT = "default"


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


class CriterionRewording(BaseModel):
    """A variant's rewording of one criterion: same name and scale, other words."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)
    description: str | None = Field(default=None, min_length=1)
    anchors: dict[int, str] | None = None


class VariantFile(BaseModel):
    """One rewording of a rubric: what it changes; everything it leaves out is the base wording."""

    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, description="what this wording changes, for people")
    instructions: str | None = Field(default=None, min_length=1)
    criteria: list[CriterionRewording] = Field(default_factory=list)


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
    variants: dict[str, VariantFile] = Field(default_factory=dict)

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
        by_name = {c.name: c for c in self.criteria}
        for vname, variant in self.variants.items():
            if vname == DEFAULT_VARIANT or not _VARIANT_NAME.match(vname):
                raise ValueError(f"variant name '{vname}' must match [a-z][a-z0-9_]* and not be '{DEFAULT_VARIANT}' "
                                 "(the base wording's name)")
            for c in variant.criteria:
                if c.name not in by_name:
                    raise ValueError(f"variant '{vname}' rewords unknown criterion '{c.name}'; criteria: {names}")
                if c.anchors is not None and sorted(c.anchors) != sorted(by_name[c.name].anchors):
                    raise ValueError(f"variant '{vname}' must keep criterion '{c.name}''s scale "
                                     f"{sorted(by_name[c.name].anchors)}; reword the anchors, don't change the scores")
            if variant.instructions is None and not variant.criteria:
                raise ValueError(f"variant '{vname}' changes nothing; give instructions or criteria rewordings")
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
    variant: str = DEFAULT_VARIANT
    # The file as written (variants included): what an API-added version is stored and reloaded from.
    source: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    # variant name -> that wording's Rubric; the same mapping on the base and on every variant.
    alternatives: dict[str, Rubric] = field(default_factory=dict, compare=False, repr=False)

    @property
    def ref(self) -> str:
        base = f"{self.name}@{self.version}"
        return base if self.variant == DEFAULT_VARIANT else f"{base}:{self.variant}"

    @property
    def variant_names(self) -> tuple[str, ...]:
        """``default`` first, then the named rewordings in file order."""
        return tuple(self.alternatives) or (DEFAULT_VARIANT,)

    def wording(self, variant: str) -> Rubric:
        if variant not in self.variant_names:
            raise KeyError(variant)
        return self.alternatives.get(variant, self)

    def text(self) -> str:
        """The wording a judge reads, as plain text: what a diff between two versions compares."""
        lines = [f"# {self.ref}", self.instructions.strip(), ""]
        for c in self.criteria:
            lines.append(f"## {c.name}: {c.description}")
            lines.extend(f"  {k}: {t}" for k, t in sorted(c.anchors.items()))
        for mode, template in sorted(self.templates.items()):
            lines.extend([f"## template {mode}", template])
        return "\n".join(lines) + "\n"

    def scale(self) -> tuple[int, int]:
        """The overall score's scale: the criteria's, when they share one."""
        lows, highs = zip(*(c.scale for c in self.criteria))
        return min(lows), max(highs)


def canonical_hash(content: dict[str, Any]) -> str:
    """sha256 of the parsed content serialised canonically, so whitespace and key order don't matter."""
    blob = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def _reworded(parsed: RubricFile, name: str, variant: VariantFile) -> RubricFile:
    data = parsed.model_dump(exclude={"variants"})
    if variant.instructions is not None:
        data["instructions"] = variant.instructions
    by_name = {c["name"]: c for c in data["criteria"]}
    for c in variant.criteria:
        if c.description is not None:
            by_name[c.name]["description"] = c.description
        if c.anchors is not None:
            by_name[c.name]["anchors"] = dict(c.anchors)
    return RubricFile.model_validate(data)


def _one(parsed: RubricFile, variant: str, source: dict[str, Any]) -> Rubric:
    content = parsed.model_dump(mode="json", exclude={"variants"})
    if variant != DEFAULT_VARIANT:
        content["variant"] = variant  # a rewording that happens to equal the base still hashes apart
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
        variant=variant,
        source=source,
    )


def build_rubric(parsed: RubricFile) -> Rubric:
    source = parsed.model_dump(mode="json", exclude_defaults=False)
    if not parsed.variants:
        source.pop("variants", None)
    base = _one(parsed, DEFAULT_VARIANT, source)
    if not parsed.variants:
        return base
    alternatives = {DEFAULT_VARIANT: base}
    for name, variant in parsed.variants.items():
        alternatives[name] = _one(_reworded(parsed, name, variant), name, source)
    for r in alternatives.values():
        r.alternatives.update(alternatives)  # one shared mapping: every wording can reach its siblings
    return base
