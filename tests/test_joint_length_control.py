"""The joint length-controlled fit over several checkpoints (issue 14 §3b): on one-sided synthetic
sets drawn from the GLM it fits, it recovers each checkpoint's true LC win rate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import special

from judge_service.bias.joint import ModelInput, joint_length_control
from judge_service.errors import InvalidInput


def one_sided_checkpoints(n: int = 300, seed: int = 0):
    rng = np.random.default_rng(seed)
    items = [f"i{k}" for k in range(n)]
    difficulty = rng.normal(0, 1.2, n)
    base_len = rng.integers(200, 1500, n).astype(float)
    models, truth = {}, {}
    for name, theta, ratio in (("short", -0.6, 0.45), ("mid", 0.1, 1.3), ("long", 0.4, 2.2)):
        cand_len = base_len * ratio * rng.lognormal(0, 0.15, n)
        delta = cand_len - base_len  # one-sided: shorter (or longer) on nearly every item
        p = special.expit(theta + 0.9 * np.tanh(delta / delta.std(ddof=1)) + difficulty)
        models[name] = ModelInput(items, list(p), list(delta))
        truth[name] = float(np.mean(special.expit(theta + difficulty)))
    return models, truth


def test_joint_fit_recovers_the_true_lc_on_one_sided_sets():
    models, truth = one_sided_checkpoints()
    assert all(np.mean(np.sign(m.delta_len) == np.sign(np.median(m.delta_len))) > 0.9 for m in models.values())
    fit = joint_length_control(models)
    errors = [abs(fit.length_controlled[m] - truth[m]) for m in truth]
    assert np.mean(errors) <= 0.01 and max(errors) <= 0.015, errors
    # the raw win rate is far off for the one-sided checkpoints: the control is doing the work
    assert abs(fit.win_rate["short"] - truth["short"]) > 0.05
    assert abs(np.mean(list(fit.difficulty.values()))) < 1e-9  # d is centred
    assert fit.length_slope["long"] == pytest.approx(0.9, abs=0.1)


def test_joint_fit_needs_two_models_and_soft_preferences():
    models, _ = one_sided_checkpoints(20)
    with pytest.raises(InvalidInput) as err:
        joint_length_control({"short": models["short"]})
    assert err.value.field == "models"
    bad = ModelInput(["a", "b"], [0.5, 1.5], [1.0, -1.0])
    with pytest.raises(InvalidInput) as err:
        joint_length_control({"short": models["short"], "bad": bad})
    assert err.value.field == "models.bad.preference"


ALPACA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "alpaca_eval" / "results"


def test_http_client_and_cli_on_real_alpaca_eval_files(client, make_settings, tmp_path, monkeypatch):
    import json
    import lzma

    from typer.testing import CliRunner

    from conftest import SCRIPTED_JUDGES, write_config
    from judge_client import JudgeClient
    from judge_service.app import create_app
    from judge_service.cli import app
    from test_client import serve

    files = [ALPACA / m / "weighted_alpaca_eval_gpt4_turbo" / "annotations.json.xz" for m in ("phi-2", "phi-2-sft")]
    models = {}
    for path in files:
        rows = json.load(lzma.open(path))
        models[rows[0]["generator_2"]] = ModelInput([r["instruction"] for r in rows],
                                                    [float(r["preference"]) - 1 for r in rows],
                                                    [len(r["output_2"]) - len(r["output_1"]) for r in rows])
    expected = joint_length_control(models)
    # the raw win rates are the leaderboard's (100 x mean(preference - 1)): 2.3502 and 3.9776
    assert expected.win_rate["phi-2"] * 100 == pytest.approx(2.350209543026152, abs=1e-9)
    assert expected.win_rate["phi-2-sft"] * 100 == pytest.approx(3.977567775217392, abs=1e-9)
    body = {"models": {name: {"items": list(m.items), "preference": list(m.preference),
                              "delta_len": list(m.delta_len)} for name, m in models.items()}}
    r = client.post("/v1/length-control/joint", json=body)
    assert r.status_code == 200, r.text
    assert r.json()["n_items"] == 805
    assert r.json()["models"]["phi-2"]["length_controlled"] == pytest.approx(expected.length_controlled["phi-2"])
    with serve(create_app(make_settings())) as url, JudgeClient(url) as c:
        out = c.joint_length_control(body["models"])
        assert out.models["phi-2-sft"].length_controlled == pytest.approx(expected.length_controlled["phi-2-sft"])

    monkeypatch.setenv("JUDGE_CONFIG", str(write_config(tmp_path / "judges.yaml", SCRIPTED_JUDGES)))
    monkeypatch.setenv("JUDGE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("JUDGE_URL", raising=False)
    result = CliRunner().invoke(app, ["length-control-joint", *map(str, files), "--local"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "phi-2-sft" in result.stdout and f"{100 * expected.length_controlled['phi-2']:.2f}" in result.stdout


def test_http_refusals_name_the_field(client):
    one = {"items": ["a", "b"], "preference": [0.2, 0.7], "delta_len": [10, -3]}
    r = client.post("/v1/length-control/joint", json={"models": {"m": one}})
    assert r.status_code == 422 and r.json()["error"]["field"] == "models"
    r = client.post("/v1/length-control/joint", json={"models": {"m": one, "n": one | {"preference": [0.2]}}})
    assert r.status_code == 422 and r.json()["error"]["field"] == "models.n"
