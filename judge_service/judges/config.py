"""Judge configuration: which judges exist, read from a YAML file.

API keys are never in this file: a judge names the environment variable that holds its key.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from judge_service.errors import InvalidInput


class Price(BaseModel):
    """USD per million tokens. Both are required and unknown keys are refused: a typo
    (``input: 2.5``) or a half-filled price would otherwise make calls silently free."""

    model_config = ConfigDict(extra="forbid")

    input_per_mtok: float = Field(ge=0)
    output_per_mtok: float = Field(ge=0)
    # Batch APIs (OpenAI Batch, Anthropic Message Batches) bill the same tokens at a discount:
    # explicit batch prices, else the direct price times batch_factor (both providers: half).
    batch_input_per_mtok: float | None = Field(default=None, ge=0)
    batch_output_per_mtok: float | None = Field(default=None, ge=0)
    batch_factor: float = Field(default=0.5, gt=0, le=1)


class JudgeSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    name: str = Field(pattern=r"^[A-Za-z0-9_.\-]+$")
    provider: str
    model: str
    family: str = "unknown"
    base_url: str | None = None
    api_key_env: str | None = None
    max_concurrency: int = Field(default=8, ge=1)
    requests_per_minute: float | None = Field(default=None, gt=0)
    tokens_per_minute: float | None = Field(default=None, gt=0)
    timeout_s: float = Field(default=60.0, gt=0)
    max_attempts: int = Field(default=5, ge=1)
    max_retry_time_s: float = Field(default=120.0, gt=0)
    price: Price | None = None
    structured_output: bool = True
    logprobs: bool = True
    # Provider-specific knobs read from YAML; each provider reads (and checks) its own keys.
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("api_key_env")
    @classmethod
    def _looks_like_env_name(cls, v: str | None) -> str | None:
        # A common mistake is pasting the key itself here; refuse it so it is never stored or
        # echoed. Keys are long and mixed-case (sk-..., gsk_..., hf_...); variable names are
        # short identifiers, by convention upper-case. The message never repeats the value.
        if v is None:
            return v
        if not _ENV_NAME.fullmatch(v) or (not v.isupper() and (len(v) >= 20 or v.lower().startswith(_KEY_PREFIXES))):
            raise ValueError("api_key_env must be the NAME of an environment variable holding the key, e.g. "
                             "OPENAI_API_KEY, not the key itself; this value looks like a key: remove it from the file")
        return v


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_KEY_PREFIXES = ("sk_", "gsk_", "hf_", "xai_", "pk_", "rk_", "r8_", "aiza")


class JudgesConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    judges: list[JudgeSpec]
    default_panel: list[str] | None = None
    # Price table by model name, for every judge of that model without a price of its own.
    prices: dict[str, Price] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _price_from_table(self) -> JudgesConfig:
        for judge in self.judges:
            if judge.price is None and judge.model in self.prices:
                judge.price = self.prices[judge.model]
        return self

    def panel(self) -> list[str]:
        return self.default_panel or [self.judges[0].name]


DEFAULT_CONFIG = JudgesConfig(
    judges=[
        JudgeSpec(
            name="smollm2",
            provider="local",
            model="smollm2-135m-instruct",
            family="smollm",
            max_concurrency=1,
        )
    ]
)


def load_judges_config(path: Path | None) -> JudgesConfig:
    if path is None:
        return DEFAULT_CONFIG
    try:
        raw = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError:
        raise InvalidInput(f"judges config file {path} does not exist; set JUDGE_CONFIG or --config to a YAML file", field="config") from None
    except yaml.YAMLError as e:
        # Not str(e): PyYAML quotes the offending line, which may hold a pasted key.
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise InvalidInput(f"judges config {path} is not valid YAML{where}: {getattr(e, 'problem', None) or type(e).__name__}",
                           field="config") from None
    try:
        cfg = JudgesConfig.model_validate(raw)
    except ValidationError as e:
        raise InvalidInput(f"judges config {path} is invalid: {validation_summary(e)}", field="config") from None
    names = [j.name for j in cfg.judges]
    if len(set(names)) != len(names):
        raise InvalidInput(f"judges config {path}: judge names must be unique, got {names}", field="judges")
    for n in cfg.default_panel or []:
        if n not in names:
            raise InvalidInput(f"judges config {path}: default_panel names unknown judge '{n}'", field="default_panel")
    return cfg


def validation_summary(e: ValidationError) -> str:
    """The problems in a config, by location, WITHOUT the offending values: pydantic's own text
    repeats each input, which for a key pasted into the wrong field would print the key."""
    parts = []
    for err in e.errors(include_input=False, include_url=False):
        loc = ".".join(str(x) for x in err["loc"])
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)
