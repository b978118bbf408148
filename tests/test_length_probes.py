"""Counterfactual length probes (issue 14 §3a): rewrites of the baseline's answers that change only their
length pin the length-controlled win rate's slope, so LC stops extrapolating when the candidate is longer
on nearly every item."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from scipy import special

from conftest import wait_done
from judge_service.bias.length import length_controlled_win_rate
from judge_service.bias.probes import ProbeRow, pool_by_judges, probe_pinned_win_rate
from judge_service.engine.rewrite import rewrite_messages, target_lengths
from judge_service.errors import InvalidInput
from judge_service.testing.fake_server import FakeJudgeServer
from judge_service.testing.rewrites import rewrite_reply


def one_sided(seed: int, n: int = 200, groups: int = 40, theta: float = 0.3, phi: float = 1.2):
    """A verbosity-biased judge (two orders, hard votes) and a candidate ~1.8x longer on nearly every item."""
    rng = np.random.default_rng(seed)
    base = rng.integers(200, 1500, n)
    cand = (base * 1.8 * rng.lognormal(0, 0.15, n)).astype(int)
    sd = float(np.std(cand - base, ddof=1))
    p = special.expit(theta + phi * np.tanh((cand - base) / sd))
    y = (rng.random((n, 2)) < p[:, None]).mean(axis=1)
    probes = []
    for g in range(groups):
        for kind, ratio in (("verbose", 1.8), ("concise", 0.5)):
            length = int(base[g] * ratio * rng.lognormal(0, 0.15))
            q = special.expit(phi * np.tanh((length - base[g]) / sd))
            probes.append(ProbeRow(f"g{g}", kind, float((rng.random(2) < q).mean()), "x" * length, "x" * int(base[g])))
    return y, ["x" * int(c) for c in cand], ["x" * int(b) for b in base], probes, float(special.expit(theta))


def test_probe_pinned_lc_is_unbiased_and_its_ci_covers_on_one_sided_sets():
    seeds = range(40)
    pinned, plain, covered = [], [], 0
    for s in seeds:
        y, cand, base, probes, truth = one_sided(s)
        assert np.mean([len(c) > len(b) for c, b in zip(cand, base)]) > 0.95  # one-sided
        fit, summary = probe_pinned_win_rate(y, cand, base, probes, seed=f"t{s}", n_resamples=400)
        est = fit.controlled
        pinned.append(est.estimate - truth)
        covered += est.ci_low <= truth <= est.ci_high
        plain.append(length_controlled_win_rate(y, cand, base, seed=f"t{s}", n_resamples=100).controlled.estimate - truth)
        assert summary.n_groups == 40 and summary.rows_by_kind == {"concise": 40, "verbose": 40}
    # 40 seeds: the mean error's sd is ~0.006 (per-seed sd ~0.04), so 0.015 is 2.5 sd
    assert abs(np.mean(pinned)) < 0.015, np.mean(pinned)
    # nominal 95%: 38 of 40; 34 is 3 binomial sd below
    assert 34 <= covered <= 40, covered
    # without probes the slope comes from the few minority items and the figure is far off on average
    assert np.mean(np.abs(plain)) > 1.5 * np.mean(np.abs(pinned))


def test_probe_fit_by_hand_on_noise_free_rows():
    # Soft preferences exactly from the model: the fit recovers θ, α and φ to the optimiser's precision.
    y, cand, base, probes, _ = one_sided(0)
    d = np.array([len(c) - len(b) for c, b in zip(cand, base)], dtype=float)
    sd = np.std(d, ddof=1)
    y = special.expit(0.3 + 1.2 * np.tanh(d / sd))
    exact = [ProbeRow(p.group, p.kind, float(special.expit(-0.2 + 1.2 * math.tanh(
        (len(p.rewrite_text) - len(p.original_text)) / sd))), p.rewrite_text, p.original_text) for p in probes]
    fit, summary = probe_pinned_win_rate(y, cand, base, exact, seed="exact", n_resamples=100, l2=0.0)
    assert fit.coefficients["candidate"] == pytest.approx(0.3, abs=1e-4)
    assert fit.coefficients["rewrite"] == pytest.approx(-0.2, abs=1e-4)
    assert summary.length_slope.estimate == pytest.approx(1.2, abs=1e-4)
    assert fit.controlled.estimate == pytest.approx(special.expit(0.3), abs=1e-5)
    # a small α is not flagged; a large one is (the rewrites changed more than length)
    assert summary.rewrite_intercept == pytest.approx(-0.2, abs=1e-4) and summary.warnings == []
    shifted = [ProbeRow(p.group, p.kind, float(special.expit(special.logit(p.preference) - 0.4)), p.rewrite_text,
                        p.original_text) for p in exact]
    _, flagged = probe_pinned_win_rate(y, cand, base, shifted, seed="exact", n_resamples=100, l2=0.0)
    assert any("change more than length" in w for w in flagged.warnings)
    at_zero = [ProbeRow(p.group, p.kind, float(special.expit(special.logit(p.preference) + 0.2)), p.rewrite_text,
                        p.original_text) for p in exact]
    # fixed at 0 (AlpacaEval's gamed rows): exact when the rows' α is 0
    fit, summary = probe_pinned_win_rate(y, cand, base, at_zero, seed="exact", n_resamples=100, l2=0.0,
                                         free_rewrite_intercept=False)
    assert "rewrite" not in fit.coefficients and summary.length_slope.estimate == pytest.approx(1.2, abs=1e-4)
    assert fit.controlled.estimate == pytest.approx(special.expit(0.3), abs=1e-5)


def test_pooling_and_refusals():
    rows = [ProbeRow("a", "verbose", 0.2, "xx", "x", "j1"), ProbeRow("a", "verbose", 0.6, "xx", "x", "j2"),
            ProbeRow("a", "verbose", 1.0, "xx", "x", "gone")]
    assert pool_by_judges(rows, {"j1", "j2"})[0].preference == pytest.approx(0.4)
    y, cand, base, probes, _ = one_sided(1, groups=4)
    with pytest.raises(InvalidInput) as err:
        probe_pinned_win_rate(y, cand, base, probes, seed="x", n_resamples=100)
    assert err.value.field == "length_probes.sample"


def test_rewrite_targets_and_the_fake_rewriter():
    # the candidate 3x the baseline: verbose aims at its length, concise at the mirror ratio
    assert target_lengths(100, 300) == {"verbose": 300, "concise": 33}
    assert target_lengths(300, 100) == {"verbose": 900, "concise": 100}
    assert target_lengths(100, 110) == {"verbose": 200, "concise": 50}  # about equal: a clear change
    assert target_lengths(100, 10_000) == {"verbose": 400, "concise": 25}  # capped at 4x
    original = "First point. Second point with more words in it."
    for kind, target in (("verbose", 120), ("concise", 20)):
        prompt = "\n".join(m.content for m in rewrite_messages(original, kind, target))
        text = rewrite_reply(prompt)
        assert text == rewrite_reply(prompt)
        assert (target <= len(text) < target + 80) if kind == "verbose" else (0 < len(text) <= target)
        assert text.startswith(original if kind == "verbose" else "First")
    assert rewrite_reply("Compare <response_a>\nx\n</response_a>") is None


KEY = "sk-test-probes-0123456789abcdef"
ENV = "JUDGE_TEST_PROBES_KEY"


def quality(text: str) -> int:
    return int(text.split(":", 1)[0].removeprefix("Q")) if text.startswith("Q") else 0


def verbose_judge(view, rng):
    """P(A better) = σ(quality gap + 1.5·tanh(length gap / 150)): a judge that likes length."""
    a, b = view.response_a or "", view.response_b or ""
    p = float(special.expit(0.4 * (quality(a) - quality(b)) + 1.5 * math.tanh((len(a) - len(b)) / 150)))
    return {"winner": {"A": 0.96 * p, "B": 0.96 * (1 - p), "tie": 0.04}}


def probe_items(n: int = 30) -> list[dict]:
    rng = np.random.default_rng(3)
    items = []
    for i in range(n):
        body = " ".join(["word"] * int(rng.integers(15, 60)))
        base = f"Q1: {body}."
        extra = " ".join(["more"] * int(rng.integers(20, 40)))
        items.append({"id": f"q{i}", "prompt": f"Question {i}?",
                      "outputs": {"base": base, "tuned": f"Q1: {body}, {extra}."}})  # same quality, longer
    return items


@pytest.fixture
def probe_service(make_client, monkeypatch):
    monkeypatch.setenv(ENV, KEY)
    with FakeJudgeServer(verbose_judge, api_key=KEY) as server:
        judges = [{"name": name, "provider": "openai", "model": name, "base_url": server.openai_base_url,
                   "api_key_env": ENV, "structured_output": True, "family": "fake"}
                  for name in ("judge", "rewriter")]
        yield make_client({"judges": judges, "default_panel": ["judge"]}), server


def test_a_run_with_length_probes_pins_the_slope_and_the_report_says_so(probe_service):
    client, server = probe_service
    body = {"rubric": "helpfulness", "judges": ["judge"], "baseline": "base", "candidate": "tuned",
            "items": probe_items(), "options": {"n_resamples": 300}}
    plain = client.post("/v1/runs", json=body)
    probed = client.post("/v1/runs", json=body | {"length_probes": {"rewriter": "rewriter", "sample": 12}})
    assert plain.status_code == 202 and probed.status_code == 202, probed.text
    for r in (plain, probed):
        assert wait_done(client, r.json()["id"])["status"] == "done"
    without = client.get(f"/v1/runs/{plain.json()['id']}/report").json()
    report = client.get(f"/v1/runs/{probed.json()['id']}/report").json()
    section = report["pairwise"]["length_control"]["probes"]
    assert without["pairwise"]["length_control"]["probes"] == {"used": False}
    assert section["used"] and section["extrapolation_pinned"] and section["n_groups"] == 12
    assert section["rows_by_kind"] == {"concise": 12, "verbose": 12}
    # the judge prefers the verbose rewrite and the original over the concise one: a positive slope
    assert section["mean_preference_by_kind"]["verbose"] > 0.6 > 0.4 > section["mean_preference_by_kind"]["concise"]
    assert section["length_slope"]["estimate"] > 0.5
    # equal quality: the truth at equal length is 0.5; the raw win rate is far above it
    lc = report["pairwise"]["length_controlled_win_rate"]
    assert report["pairwise"]["win_rate"]["estimate"] > 0.7
    # the fake judge's taste, tanh(Δ / 150 chars), is not the GLM's tanh(Δ / sd) shape, and its preferences
    # are noise-free, so the (narrow) interval need not cover 0.5 here; the simulation test checks coverage
    # where the model holds. The point is within a few points of the truth instead of 24 points off.
    assert abs(lc["estimate"] - 0.5) < 0.05
    assert abs(without["pairwise"]["length_controlled_win_rate"]["estimate"] - 0.5) > abs(lc["estimate"] - 0.5)
    # the extrapolation caution is about length only, and the probes lift it
    check = {c["name"]: c for c in report["decision"]["checks"]}
    assert "is longer on" not in check.get("control_extrapolation", {"detail": ""})["detail"]
    assert not any("extrapolates to equal length" in w for w in report["warnings"])
    assert any("extrapolates to equal length" in w for w in without["warnings"])
    # every rewrite was a call to the rewriter, recorded with the item's calls
    items = client.get(f"/v1/runs/{probed.json()['id']}/items").json()
    probed_items = [i for i in items if (i.get("result") or {}).get("length_probes")]
    assert len(probed_items) == 12
    kinds = {p["kind"]: p for p in probed_items[0]["result"]["length_probes"]}
    original = next(i for i in probe_items() if i["id"] == probed_items[0]["id"])["outputs"]["base"]
    assert len(kinds["verbose"]["rewrite"]) > len(original) > len(kinds["concise"]["rewrite"])


def test_length_probes_are_refused_with_the_field(probe_service):
    client, _ = probe_service
    body = {"rubric": "helpfulness", "judges": ["judge"], "baseline": "base", "candidate": "tuned",
            "items": probe_items(6)}
    r = client.post("/v1/runs", json=body | {"length_probes": {"rewriter": "nobody", "sample": 5}})
    assert r.status_code == 422 and r.json()["error"]["field"] == "length_probes.rewriter", r.text
    assert "rewriter" in r.json()["error"]["message"] or "nobody" in r.json()["error"]["message"]
    r = client.post("/v1/runs", json=body | {"mode": "absolute", "length_probes": {"rewriter": "rewriter"}})
    assert r.status_code == 422 and r.json()["error"]["field"] == "length_probes"
    r = client.post("/v1/runs", json=body | {"length_probes": {"rewriter": "rewriter", "sample": 2}})
    assert r.status_code == 422 and "sample" in r.text


def test_client_sends_length_probes_and_reads_them_back(make_settings):
    from judge_client import JudgeClient
    from judge_service.app import create_app
    from test_client import items, serve

    with serve(create_app(make_settings())) as url, JudgeClient(url) as c:
        created = c.create_run(items(8), baseline="base", candidate="tuned", rubric="helpfulness", judges=["longer"],
                               options={"n_resamples": 200}, length_probes={"rewriter": "longer", "sample": 6})
        c.wait_for_run(created.id, poll_interval=0.05, timeout=60)
        report = c.run_report(created.id)
    probes = report.pairwise.length_probes
    assert probes["used"] and probes["n_groups"] == 6 and probes["rows_by_kind"] == {"concise": 6, "verbose": 6}
    # the prefer-longer judge picks every verbose rewrite and never a concise one; by hand, its policy puts
    # 0.9 on the longer answer's label and 0.05 on tie, so P(rewrite better) = 0.9 + 0.05/2 (verbose) or
    # 0.05 + 0.05/2 (concise), in both orders
    assert probes["mean_preference_by_kind"] == pytest.approx({"concise": 0.075, "verbose": 0.925})


def test_cli_length_probes_option(tmp_path, monkeypatch):
    import json as _json

    from typer.testing import CliRunner

    from conftest import SCRIPTED_JUDGES, write_config
    from judge_service.cli import app

    monkeypatch.setenv("JUDGE_CONFIG", str(write_config(tmp_path / "judges.yaml", SCRIPTED_JUDGES)))
    monkeypatch.setenv("JUDGE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("JUDGE_URL", raising=False)
    path = tmp_path / "items.jsonl"
    path.write_text("".join(_json.dumps(i) + "\n" for i in probe_items(10)))
    runner = CliRunner()
    args = ["run", "create", str(path), "--baseline", "base", "--candidate", "tuned", "-r", "helpfulness",
            "-j", "longer", "--local", "--poll-interval", "0.05"]
    result = runner.invoke(app, [*args, "--length-probes", "longer:7"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "length probes: 14 rewrites of 7 baseline answers pinned the length slope" in result.stdout
    bad = runner.invoke(app, [*args, "--length-probes", "longer:many"], catch_exceptions=False)
    assert bad.exit_code == 2 and "REWRITER:N" in bad.output


def test_extrapolation_covers_style_features_and_probes_lift_only_the_length_caution():
    """§3c: every control feature is checked and feeds the decision; probes pin length, not markdown."""
    from judge_service.runs.report import ItemInfo, PairwiseRecord, ReportOptions, build_report

    rng = np.random.default_rng(5)
    items, records = [], []
    for i in range(40):
        base = "word " * int(rng.integers(20, 60))
        cand = "**Key point.** " + base + "more " * int(rng.integers(20, 40))  # longer and bold, every item
        items.append(ItemInfo(f"q{i}", cand, base, {}, {}))
        wins = rng.random() < 0.8
        for order in ("AB", "BA"):
            records.append(PairwiseRecord(f"q{i}", "j", order, 0, "candidate" if wins else "baseline",
                                          0.9 if wins else 0.1))
    options = ReportOptions(style_control=True, n_resamples=200)
    plain = build_report(records, [], items, options)
    check = {c.name: c for c in plain.decision.checks}["control_extrapolation"]
    assert not check.blocking and "is longer on 40 of 40" in check.detail and "has more bold on 40 of 40" in check.detail
    # a judge with little taste for length on the probes: LC stays high, so the decision gets to its cautions
    probes = [ProbeRow(f"q{i}", kind, q, "x" * n, items[i].baseline_text, "j")
              for i in range(8) for kind, q, n in (("verbose", 0.52, 400), ("concise", 0.48, 40))]
    pinned = build_report(records, [], items, options, probes=probes)
    check = {c.name: c for c in pinned.decision.checks}["control_extrapolation"]
    assert "is longer on" not in check.detail and "has more bold on 40 of 40" in check.detail
    assert pinned.pairwise.length_probes is not None and pinned.pairwise.length_probes.n_groups == 8
    # rewrites the judge dislikes at any length (P ≈ 0.2 both ways): flagged in the report's warnings
    disliked = [dataclasses.replace(p, preference=0.25 if p.kind == "verbose" else 0.15) for p in probes]
    flagged = build_report(records, [], items, options, probes=disliked)
    assert any(w.startswith("length probes: the judge's preference for a rewrite at equal length")
               for w in flagged.warnings)
    # a judge outside the headline (here: none of the rows' judge) contributes no probe rows
    elsewhere = build_report(records, [], items, options, probes=[dataclasses.replace(p, judge="other")
                                                                   for p in probes])
    assert elsewhere.pairwise.length_probes is None
