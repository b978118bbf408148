"""The service's settings: environment variables (prefix ``JUDGE_``) and a judges config file."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_RUBRICS = Path(__file__).resolve().parent.parent / "rubrics"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="JUDGE_", extra="ignore")

    data_dir: Path = Field(default=Path.home() / ".judge-service")
    database_url: str | None = None  # default: sqlite file under data_dir
    config: Path | None = None  # judges YAML; None = the embedded local judge
    rubrics_dirs: list[Path] = Field(default_factory=lambda: [REPO_RUBRICS])
    model_cache_dir: Path | None = None  # default: data_dir / "models"

    max_text_chars: int = 100_000
    max_body_bytes: int = 20_000_000
    max_run_items: int = 5_000
    max_judges_per_request: int = 8
    max_samples: int = 16
    parse_retries: int = 2
    run_item_concurrency: int = 16
    run_lease_seconds: float = 30.0  # a dead process's run items pass to another process after this long
    # Every live process on the database takes 1/N of each judge's limits (judges/replicas.py);
    # a process not seen for 3 beats is no longer counted.
    replica_beat_seconds: float = Field(default=2.0, gt=0)
    # Provider batch APIs (engine/batch.py; a run's "execution": "batch" | "auto").
    batch_collect_seconds: float = 5.0  # a batch is sent once no new call arrived for this long
    batch_poll_seconds: float = 30.0  # how often pending batches are polled at the provider
    batch_auto_min_calls: int = 1000  # "auto": batch a judge with more than this many calls in the run
    batch_direct_below: int = 20  # retries of fewer failed requests than this go direct, not as a batch
    run_batch_item_limit: int = 20000  # run items of batch runs held at once (waiting costs no judge slot)

    auth_enabled: bool = False  # API keys on /v1 (security/auth.py); create keys with `judge keys create`
    metrics_require_auth: bool = False  # /metrics is open by default (scrapers rarely carry keys)
    rate_limit_per_minute: float | None = None  # per API key (per client IP when auth is off); None = no limit
    rate_limit_burst: float | None = None  # requests allowed at once; default ten seconds' worth
    log_json: bool = True  # JSON log lines with request ids on stderr (observability.py)
    # URL prefixes remote perplexity may call (an OpenAI-compatible server such as vLLM); loopback by default
    remote_metrics_base_urls: list[str] = Field(default_factory=lambda: ["http://127.0.0.1", "http://localhost"])
    warm_judges: bool = False  # load local judges of the default panel at start-up, in the background

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'judge.db'}"

    def resolved_model_cache(self) -> Path:
        return self.model_cache_dir or (self.data_dir / "models")
