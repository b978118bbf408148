"""The embedded judge (SmolLM2 135M via the ``local`` provider, the default config of ``make run``)
on the README's example file: the verdict is ``undetermined`` with the reason and the fix, not a
winner (issue 14 §1). Slow (the model is loaded and run on CPU): a handful of items."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from conftest import REPO_RUBRICS, embedded_model_cache, wait_done
from judge_service.app import create_app
from judge_service.settings import Settings

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "outputs.jsonl"
N_ITEMS = 5


@pytest.mark.slow
def test_embedded_judge_on_the_example_file_is_undetermined_with_a_fix(request: pytest.FixtureRequest,
                                                                      tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("embedded")
    cache = embedded_model_cache(request.config, tmp_path_factory)  # one conversion for the whole suite
    settings = Settings(data_dir=base / "data", config=None, rubrics_dirs=[REPO_RUBRICS], model_cache_dir=cache)
    items = [json.loads(line) for line in EXAMPLE.read_text().splitlines()[:N_ITEMS]]
    with TestClient(create_app(settings)) as client:
        body = {"rubric": "helpfulness", "mode": "pairwise", "baseline": "base", "candidate": "tuned", "items": items}
        r = client.post("/v1/runs", json=body)
        assert r.status_code == 202, r.text
        status = wait_done(client, r.json()["id"], timeout=600)
        assert status["status"] == "done", status
        rep = client.get(f"/v1/runs/{r.json()['id']}/report").json()
    assert [j["judge"] for j in rep["judges"]] == ["smollm2"] and rep["judges"][0]["informative"] is False
    decision = rep["decision"]
    assert decision["outcome"] == "undetermined", rep["verdict"]
    gate = next(c for c in decision["checks"] if c["name"] == "informative_judge")
    assert gate["passed"] is False  # the gate, not the item count, is what stops it
    assert rep["verdict"].startswith(f"undetermined at n = {N_ITEMS}: judge 'smollm2'")
    assert "configure a stronger judge" in rep["verdict"]
