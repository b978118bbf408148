"""Runs over several rubric variants: intervals that include the variance across wordings, the share
of their width it adds, per-variant figures, and comparisons of runs made with different rubrics."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import wait_done
from judge_service.runs.report import ItemInfo, PairwiseRecord, ReportOptions, build_report
from judge_service.runs.report.inputs import VARIANT_STRIDE

WORDING_JUDGES = {"judges": [
    {"name": "rev", "provider": "scripted", "model": "scripted-rev", "family": "x", "options": {"policy": "wording_reverses"}},
    {"name": "flat", "provider": "scripted", "model": "scripted-flat", "family": "y", "options": {"policy": "score_by_length"}},
], "default_panel": ["flat"]}


# --- simulation over seeds: the report alone, records drawn from a known model ----------------

def _records(seed: int, shifts: list[float], n_items: int = 40, noise: float = 0.3):
    """One judge, both orders; the v-th wording moves every item's logit preference by shifts[v]."""
    rng = np.random.default_rng(seed)
    quality = rng.normal(0.3, 1.5, n_items)
    records, infos = [], []
    for i in range(n_items):
        infos.append(ItemInfo(f"q{i}", "c" * int(rng.integers(50, 300)), "b" * int(rng.integers(50, 300)), {}, {}))
        for v, shift in enumerate(shifts):
            for order in ("AB", "BA"):
                p = float(1 / (1 + np.exp(-(quality[i] + shift + rng.normal(0, noise)))))
                winner = "candidate" if p > 0.55 else "baseline" if p < 0.45 else "tie"
                records.append(PairwiseRecord(f"q{i}", "judge", order, v * VARIANT_STRIDE, winner, p,
                                              "default" if v == 0 else f"v{v}"))
    return records, infos


def _width(records, infos, seed: int) -> tuple[float, float | None]:
    report = build_report(records, [], infos, ReportOptions(n_resamples=300, seed=f"sim/{seed}"))
    h = report.headline
    assert h is not None and h.ci_low is not None and h.ci_high is not None
    share = None
    if report.wording is not None:
        share = report.to_dict()["wording"]["figures"][0]["share_of_width_from_wording"]
    return h.ci_high - h.ci_low, share


SEEDS = range(12)


def test_two_disagreeing_wordings_give_wider_intervals_than_one():
    ratios, shares = [], []
    for seed in SEEDS:
        records, infos = _records(seed, [0.0, 1.2])
        one, _ = _width([r for r in records if r.variant == "default"], infos, seed)
        two, share = _width(records, infos, seed)
        ratios.append(two / one)
        shares.append(share)
    assert min(ratios) > 1.0 and np.mean(ratios) > 1.3, ratios
    assert np.mean(shares) > 0.2


def test_two_agreeing_wordings_give_the_same_intervals_as_one_within_simulation_error():
    ratios, shares = [], []
    for seed in SEEDS:
        records, infos = _records(seed, [0.0, 0.0])
        one, _ = _width([r for r in records if r.variant == "default"], infos, seed)
        two, share = _width(records, infos, seed)
        ratios.append(two / one)
        shares.append(share)
    # Averaging two wordings' independent call noise can only narrow an item's value a little;
    # the wording variance is truncated at 0 and mostly is 0.
    assert 0.9 < np.mean(ratios) < 1.1, ratios
    assert np.mean(shares) < 0.1, shares


# --- through the service -------------------------------------------------------------------

def _items(n: int = 24) -> list[dict]:
    return [{"id": f"q{i}", "prompt": f"Q{i}?", "outputs": {"base": "b" * (60 + (i * 23) % 90),
                                                          "tuned": "t" * (70 + (i * 41) % 110)}} for i in range(n)]


def _run(client, judge: str, variants: list[str] | None, mode: str = "absolute") -> tuple[dict, dict]:
    body = {"rubric": "helpfulness", "mode": mode, "baseline": "base", "candidate": "tuned", "judges": [judge],
            "items": _items()}
    if variants is not None:
        body["rubric_variants"] = variants
    created = client.post("/v1/runs", json=body)
    assert created.status_code == 202, created.text
    status = wait_done(client, created.json()["id"])
    assert status["status"] == "done", status
    return status, client.get(f"/v1/runs/{created.json()['id']}/report").json()


def _span(e: dict) -> float:
    return e["ci_high"] - e["ci_low"]


def test_a_run_over_disagreeing_variants_widens_its_interval_and_says_how_much(make_client):
    client = make_client(WORDING_JUDGES)
    _, one = _run(client, "rev", None)
    status, two = _run(client, "rev", ["default", "errors"])
    assert [v["variant"] for v in status["rubric_variants"]] == ["default", "errors"]
    assert [v["variant"] for v in two["rubric_variants"]] == ["default", "errors"]
    figure = two["wording"]["figures"][0]
    per = figure["per_variant"]
    # The reworded judge scores against length: the two wordings disagree on who is better.
    assert np.sign(per["default"]["estimate"]) == -np.sign(per["errors"]["estimate"])
    assert _span(two["absolute"]["score_difference"]) > 1.5 * _span(one["absolute"]["score_difference"])
    assert figure["share_of_width_from_wording"] > 0.3
    pooled = two["absolute"]["score_difference"]
    assert {k: pooled[k] for k in ("estimate", "ci_low", "ci_high", "n")} == {
        k: figure["with_wording"][k] for k in ("estimate", "ci_low", "ci_high", "n")}
    assert any(w.startswith("rubric wording:") and "score_difference" in w for w in two["warnings"])
    items = client.get(f"/v1/runs/{two['run_id']}/items").json()
    stored = items[0]["result"]["variants"]
    assert [v["variant"] for v in stored] == ["default", "errors"] and stored[0]["rubric_hash"] != stored[1]["rubric_hash"]


def test_a_run_over_agreeing_variants_adds_no_wording_width(make_client):
    client = make_client(WORDING_JUDGES)
    _, one = _run(client, "flat", None, mode="pairwise")
    _, two = _run(client, "flat", ["default", "errors"], mode="pairwise")
    figure = two["wording"]["figures"][0]
    assert figure["wording_variance"] == 0 and figure["share_of_width_from_wording"] == 0
    assert figure["with_wording"] == figure["items_only"]
    # Same verdicts under both wordings: the same interval up to the bootstrap's own seed (run id).
    assert _span(two["pairwise"]["win_rate"]) == pytest.approx(_span(one["pairwise"]["win_rate"]), rel=0.15)
    assert two["pairwise"]["win_rate"]["estimate"] == pytest.approx(one["pairwise"]["win_rate"]["estimate"])


TINY = {"name": "tiny", "description": "d", "modes": ["absolute", "pairwise"], "instructions": "Judge how good it is.",
        "criteria": [{"name": "quality", "description": "q", "anchors": {i: f"level {i}" for i in range(1, 6)}}]}


def test_comparing_runs_with_different_rubric_versions_warns_and_diffs_the_rubric_texts(make_client):
    client = make_client(WORDING_JUDGES)
    assert client.post("/v1/rubrics", json=TINY | {"version": 1}).status_code == 201
    v2 = TINY | {"version": 2, "instructions": "Judge how good and how accurate it is."}
    assert client.post("/v1/rubrics", json=v2).status_code == 201
    ids = []
    for ref in ("tiny@1", "tiny@2", "tiny@1"):
        created = client.post("/v1/runs", json={"rubric": ref, "mode": "absolute", "baseline": "base",
                                                "candidate": "tuned", "judges": ["flat"], "items": _items(6)}).json()
        wait_done(client, created["id"])
        ids.append(created["id"])
    diff = client.get(f"/v1/runs/{ids[0]}/compare/{ids[1]}").json()
    assert diff["same_rubric"] is False
    assert "different rubric versions: tiny@1" in diff["warnings"][0] and "tiny@2" in diff["warnings"][0]
    assert "-Judge how good it is." in diff["rubric_diff"] and "+Judge how good and how accurate it is." in diff["rubric_diff"]
    assert [r["id"] for r in diff["runs"]] == ids[:2] and all(r["headline"] for r in diff["runs"])
    same = client.get(f"/v1/runs/{ids[0]}/compare/{ids[2]}").json()
    assert same["same_rubric"] is True and same["warnings"] == [] and same["rubric_diff"] is None
    assert client.get(f"/v1/runs/{ids[0]}/compare/run_missing").status_code == 404


def test_a_run_over_an_unknown_variant_is_refused_naming_the_field(make_client):
    client = make_client(WORDING_JUDGES)
    got = client.post("/v1/runs", json={"rubric": "helpfulness", "baseline": "base", "candidate": "tuned",
                                        "rubric_variants": ["default", "nope"], "items": _items(3)})
    assert got.status_code == 404 and got.json()["error"]["field"] == "rubric_variants"


def test_cli_and_client_run_over_variants_and_compare_runs(tmp_path, monkeypatch, make_settings):
    import json

    from typer.testing import CliRunner

    from conftest import write_config
    from judge_client import JudgeClient
    from judge_service.app import create_app
    from judge_service.cli import app as cli_app
    from test_client import serve

    monkeypatch.setenv("JUDGE_CONFIG", str(write_config(tmp_path / "judges.yaml", WORDING_JUDGES)))
    monkeypatch.setenv("JUDGE_DATA_DIR", str(tmp_path / "data"))
    items = tmp_path / "items.jsonl"
    items.write_text("\n".join(json.dumps(i) for i in _items(8)) + "\n")
    runner = CliRunner()
    base = ["run", "create", str(items), "--baseline", "base", "--candidate", "tuned", "-r", "helpfulness",
            "-j", "rev", "--mode", "absolute", "--local", "--poll-interval", "0.05", "--json"]
    one = json.loads(runner.invoke(cli_app, base, catch_exceptions=False).stdout)
    two = json.loads(runner.invoke(cli_app, [*base, "--variants", "default,errors"], catch_exceptions=False).stdout)
    assert one["wording"] is None and [v["variant"] for v in two["rubric_variants"]] == ["default", "errors"]
    assert two["wording"]["figures"][0]["figure"] == "score_difference"
    compared = runner.invoke(cli_app, ["run", "compare", one["run_id"], two["run_id"], "--local"], catch_exceptions=False)
    assert compared.exit_code == 0 and "different rubric versions" in compared.stderr
    assert "+# helpfulness@1:errors" in compared.stdout  # the diff names the added wording

    with serve(create_app(make_settings(WORDING_JUDGES))) as url, JudgeClient(url, max_retries=0) as client:
        report = client.evaluate(_items(8), baseline="base", candidate="tuned", rubric="helpfulness", judges=["rev"],
                                 mode="absolute", rubric_variants=["default", "errors"], progress=False,
                                 poll_interval=0.05)
        assert report.wording is not None and report.rubric_variants[1]["variant"] == "errors"
        other = client.evaluate(_items(8), baseline="base", candidate="tuned", rubric="helpfulness", judges=["rev"],
                                mode="absolute", progress=False, poll_interval=0.05)
        found = client.compare_runs(report.run_id, other.run_id)
        assert not found.same_rubric and found.rubric_diff and found.warnings
        judged = client.judge(rubric="helpfulness", prompt="p", response="x" * 90, judges=["rev"],
                              rubric_variants=["default", "errors"])
        assert [v.rubric.variant for v in judged.variants] == ["default", "errors"]
        assert {j.variant for j in judged.judges} == {"default", "errors"}
