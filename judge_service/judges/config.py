"""Judge configuration: which judges exist, read from a YAML file.

API keys are never in this file: a judge names the environment variable that holds its key.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from judge_service.errors import InvalidInput


class Price(BaseModel):
    """USD per million tokens."""

    input_per_mtok: float = 0.0
    output_per_mtok: float = 0.0


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
    options: dict = Field(default_factory=dict)

    @field_validator("api_key_env")
    @classmethod
    def _looks_like_env_name(cls, v: str | None) -> str | None:
        # A common mistake is pasting the key itself here; refuse it so it never gets stored.
        if v is not None and not v.replace("_", "").isalnum():
            raise ValueError("api_key_env must be the NAME of an environment variable, e.g. OPENAI_API_KEY")
        return v


class JudgesConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    judges: list[JudgeSpec]
    default_panel: list[str] | None = None

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
        raise InvalidInput(f"judges config {path} is not valid YAML: {e}", field="config") from None
    try:
        cfg = JudgesConfig.model_validate(raw)
    except ValidationError as e:
        raise InvalidInput(f"judges config {path} is invalid: {e}", field="config") from None
    names = [j.name for j in cfg.judges]
    if len(set(names)) != len(names):
        raise InvalidInput(f"judges config {path}: judge names must be unique, got {names}", field="judges")
    for n in cfg.default_panel or []:
        if n not in names:
            raise InvalidInput(f"judges config {path}: default_panel names unknown judge '{n}'", field="default_panel")
    return cfg
