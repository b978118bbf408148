"""Shared fixtures: a real app over a temp data dir, judged by in-process scripted judges."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from judge_service.app import create_app
from judge_service.settings import REPO_RUBRICS, Settings

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

SCRIPTED_JUDGES = {
    "judges": [
        {"name": "longer", "provider": "scripted", "model": "scripted-longer", "family": "fake-a",
         "options": {"policy": "prefer_longer"}},
        {"name": "first", "provider": "scripted", "model": "scripted-first", "family": "fake-b",
         "options": {"policy": "prefer_position_a"}},
        {"name": "lengthy-scorer", "provider": "scripted", "model": "scripted-len", "family": "fake-c",
         "options": {"policy": "score_by_length"}},
        {"name": "garbage", "provider": "scripted", "model": "scripted-garbage", "family": "fake-d",
         "options": {"garbage": True}},
        {"name": "logprob-scorer", "provider": "scripted", "model": "scripted-lp", "family": "fake-e",
         "options": {"policy": "score_by_length", "evidence": "logprobs"}},
        {"name": "text-longer", "provider": "scripted", "model": "scripted-text", "family": "fake-f",
         "options": {"policy": "prefer_longer", "evidence": "text"}},
    ],
    "default_panel": ["longer"],
}


def write_config(path: Path, config: dict) -> Path:
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    def _make(config: dict | None = None, **overrides) -> Settings:
        cfg_path = write_config(tmp_path / "judges.yaml", config or SCRIPTED_JUDGES)
        values = {"data_dir": tmp_path / "data", "config": cfg_path, "rubrics_dirs": [REPO_RUBRICS]} | overrides
        return Settings(**values)

    return _make


@pytest.fixture
def make_client(make_settings) -> Iterator[Callable[..., TestClient]]:
    clients: list[TestClient] = []

    def _make(config: dict | None = None, **overrides) -> TestClient:
        client = TestClient(create_app(make_settings(config, **overrides)), raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield _make
    for c in clients:
        c.__exit__(None, None, None)


@pytest.fixture
def client(make_client) -> TestClient:
    return make_client()


def provider_of(client: TestClient, judge: str):
    """The scripted provider behind a judge (under the limits wrapper, if any), to read its call log."""
    provider = client.app.state.ctx.judges.get(judge).provider
    return getattr(provider, "inner", provider)


def wait_done(client, run_id: str, timeout: float = 60.0) -> dict:
    """Poll a run until it is done or failed; its final status."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.get(f"/v1/runs/{run_id}").json()
        if status["status"] in ("done", "failed"):
            return status
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not finish: {status}")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path: Path) -> Iterator[str]:
    """A database URL on each backend. PostgreSQL is real: ``JUDGE_TEST_POSTGRES_URL`` (set by ``make test``
    through .ci/pg-start). Missing, the PostgreSQL case fails loudly instead of skipping."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    import os

    url = os.environ.get("JUDGE_TEST_POSTGRES_URL")
    if not url:
        pytest.fail("JUDGE_TEST_POSTGRES_URL is not set: run `make test` (it starts PostgreSQL via .ci/pg-start), "
                    "or apt-get install postgresql and eval \"$(.ci/pg-start)\"")
    from sqlalchemy import create_engine, text

    def empty_schema() -> None:  # every table, the migrations' alembic_version included
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()

    empty_schema()  # each test starts on an empty database
    yield url
    empty_schema()


def embedded_model_cache(config: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The one GGUF conversion cache of the suite, kept between runs in .pytest_cache: the embedded
    model is converted once per checkout (~30 s), not once per test file that loads it."""
    cache = getattr(config, "cache", None)
    return Path(cache.mkdir("judge-model-cache")) if cache is not None else tmp_path_factory.getbasetemp() / "model-cache"
