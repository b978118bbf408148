"""The combination rule: a failing layer is never hidden, "better" needs the judges, concerns qualify."""

from __future__ import annotations

import itertools

import pytest

from judge_service.evaluation.summary import LayerVerdict, combine

JUDGE_BETTER = LayerVerdict("judge", "better", "LC win rate 0.61 [0.55, 0.67], n = 200")
BENCH_WORSE = LayerVerdict("benchmarks", "worse", "MMLU −5.0 points [−6.1, −3.9] (Holm p < 0.001)")
PPL_OK = LayerVerdict("perplexity", "equivalent", "held-out +0.4% [−1%, 2%], n = 500")
OVERFIT = LayerVerdict("training", "concern", "best checkpoint-4500", reason="eval loss rose after epoch 2")


def test_regression_beside_a_judge_win_is_mixed_and_named():
    out = combine([JUDGE_BETTER, BENCH_WORSE, PPL_OK])
    assert out.verdict == "mixed"
    assert out.line.startswith("mixed: better on judge; worse on benchmarks")
    assert "MMLU −5.0 points" in out.line and "a regression" in out.line


def test_better_needs_the_judge_layer():
    out = combine([LayerVerdict("benchmarks", "better", "MMLU +2.0"), PPL_OK])
    assert out.verdict == "undetermined" and out.missing == ["judge"]
    assert "no judge layer" in out.line
    out = combine([LayerVerdict("judge", "cannot_judge", "-", reason="the judge chose the first position in 18 of 18 calls"),
                   LayerVerdict("benchmarks", "better", "MMLU +2.0")])
    assert out.verdict == "undetermined" and "18 of 18" in out.line


def test_concerns_qualify_but_do_not_flip():
    out = combine([JUDGE_BETTER, PPL_OK, OVERFIT])
    assert out.verdict == "better"
    assert out.line.startswith("candidate is better, with concerns.")
    assert out.concerns == ["training: best checkpoint-4500 — eval loss rose after epoch 2"]


@pytest.mark.parametrize("judge_status, expected", [
    ("better", "better"), ("equivalent", "no_difference"), ("worse", "worse"),
    ("inconclusive", "undetermined"), ("cannot_judge", "undetermined")])
def test_judge_alone(judge_status, expected):
    assert combine([LayerVerdict("judge", judge_status, "x")]).verdict == expected  # type: ignore[arg-type]


def test_a_worse_layer_is_never_reported_as_better_or_no_difference():
    """Exhaustively over the statuses of three layers: whenever one is worse, the verdict says so."""
    statuses = ["better", "worse", "equivalent", "inconclusive", "cannot_judge"]
    for j, b, p in itertools.product(statuses, repeat=3):
        layers = [LayerVerdict("judge", j, "x"), LayerVerdict("benchmarks", b, "y"),  # type: ignore[arg-type]
                  LayerVerdict("perplexity", p, "z")]  # type: ignore[arg-type]
        out = combine(layers)
        if "worse" in (j, b, p):
            assert out.verdict in ("regression", "mixed", "worse"), (j, b, p, out.verdict)
        else:
            assert out.verdict in ("better", "no_difference", "undetermined")
            assert (out.verdict == "better") == (j == "better")
        for v in layers:  # every layer appears in the line
            assert f"{v.layer}:" in out.line


def test_one_verdict_per_layer():
    with pytest.raises(ValueError):
        combine([JUDGE_BETTER, JUDGE_BETTER])
