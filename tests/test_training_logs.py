"""Training-log analysis on real public logs (shared/data/training_logs) and on hand-made files.

Expected values were derived by hand from each file (see shared/data/README.md):
- Whisper_small_hi: eval_loss 0.3075 (step 1000, best) then rising every eval to 0.4679 while the
  train loss falls to 0.0002 -> overfitting, best 1000, onset bracketed (0, 2000); 5 evals every
  1000 of 5000 steps -> too_few_eval_points and coarse_eval_resolution; best_metric is eval_wer.
- mT5 azerbaijani: still falling at the end (best 2.0532 at 6900 of 7000) -> no_overfitting;
  first train loss 25.5 -> start_up_spike; 7000 of max_steps 9411 -> run_incomplete; eval set of
  20 examples (eval_runtime x eval_samples_per_second) -> small_eval_set.
- whisperv2-flemish: best 0.2088 at 12000 but its eval loss jumps by ~0.04 between neighbouring
  evals (noise sd ~0.019 from second differences), so 3000..15000 are all within the band ->
  plateau; the eval-set size only jitters (51573..51669, <0.2 %) -> no eval_set_size_changed.
- LLaMA-Factory grpo: no eval_loss at all -> cannot_judge with no_eval_series; 202 of 5100 steps.
"""

from __future__ import annotations

import io
import json
import math
import struct
import zipfile

import numpy as np
import pytest
from scipy import stats

from judge_service.errors import InvalidInput
from judge_service.training.bundle import read_bundle
from judge_service.training.curve import noise_sd
from judge_service.training.early_stopping import counterfactual_grid, replay_hf
from judge_service.training.paired import compare_checkpoints
from judge_service.training.readers import read_file
from judge_service.training.report import analyse
from judge_service.training.series import RawRecord, normalise
from judge_service.training.tfevents import read_events
from conftest import SHARED_DATA

LOGS = SHARED_DATA / "training_logs"


def run(folder: str, **kw):
    files = [(p.name, p.read_bytes()) for p in (LOGS / folder).iterdir() if p.suffix in (".json", ".jsonl")]
    return analyse(read_bundle(files), **kw)


def codes(result) -> set[str]:
    return {f["code"] for f in result["flags"]}


def test_whisper_small_hi_is_overfitting_from_the_first_eval():
    r = run("Merlinmy__Whisper_small_hi")
    assert r["verdict"] == "overfitting"
    p = r["primary"]
    assert p["best_step"] == 1000 and p["best_value"] == pytest.approx(0.3075, abs=1e-4)
    assert p["band_steps"] == [1000]
    assert p["onset"]["step"] == 1000 and p["onset"]["interval"] == [0, 2000]
    assert {"too_few_eval_points", "coarse_eval_resolution", "best_metric_is_other_metric"} <= codes(r)
    assert "loss_scale_mismatch" not in codes(r)
    # the WER prefers checkpoint-4000: a metric that disagrees with the loss is said
    assert any("eval_wer is best at step 4000" in d for d in r["disagreements"])
    # HF patience 1 stops after the step-2000 eval and restores checkpoint-1000 (the best)
    p1 = next(o for o in r["early_stopping"] if o["patience"] == 1 and o["threshold"] == 0.0)
    assert (p1["stopped_at_step"], p1["restored_step"], p1["missed_best"]) == (2000, 1000, False)


def test_mt5_is_still_improving():
    r = run("NijatZeynalov__mT5-based-azerbaijani-news-summarize")
    assert r["verdict"] == "no_overfitting"
    assert r["primary"]["best_step"] == 6900
    assert r["primary"]["best_value"] == pytest.approx(2.0532, abs=1e-4)
    assert {"start_up_spike", "run_incomplete", "small_eval_set"} <= codes(r)
    assert not codes(r) & {"too_few_eval_points", "coarse_eval_resolution", "duplicated_lines", "restarts"}
    # patience 1 stops on the first wobble (900: 2.5545 > 2.5427) and misses the best by 6,000 steps
    p1 = next(o for o in r["early_stopping"] if o["patience"] == 1 and o["threshold"] == 0.0)
    assert (p1["stopped_at_step"], p1["restored_step"], p1["missed_best"]) == (900, 800, True)


def test_flemish_is_a_plateau_within_its_own_noise():
    r = run("anthonyrathe__fixed-whisperv2-flemish")
    assert r["verdict"] == "plateau"
    p = r["primary"]
    assert p["best_step"] == 12000 and p["earliest_equivalent_step"] == 3000
    values = [e["eval_loss"] for e in json.loads((LOGS / "anthonyrathe__fixed-whisperv2-flemish/trainer_state.json")
                                                  .read_text())["log_history"] if "eval_loss" in e]
    d2 = np.diff(values, n=2)
    assert p["noise_sd"] == pytest.approx(1.4826 * np.median(np.abs(d2)) / math.sqrt(6), rel=1e-9)
    assert "eval_set_size_changed" not in codes(r) and "best_metric_is_other_metric" in codes(r)


def test_llamafactory_log_without_eval_cannot_be_judged():
    r = run("hykun1989__360-LLaMA-Factory-grpo")
    assert r["verdict"] == "cannot_judge"
    assert {"no_eval_series", "run_incomplete"} <= codes(r)
    assert "eval_steps" in next(f["message"] for f in r["flags"] if f["code"] == "no_eval_series")
    bundle = read_bundle([("trainer_log.jsonl", (LOGS / "hykun1989__360-LLaMA-Factory-grpo/trainer_log.jsonl").read_bytes())])
    assert bundle.formats == ["llamafactory_jsonl"] and len(bundle.log.series["loss"].points) == 202


# --- HF early stopping, replayed -------------------------------------------------------------

def test_replay_strict_improvement_counts_a_tie_as_no_improvement():
    assert replay_hf([1.0, 1.0], patience=1) == (1, 0)
    assert replay_hf([1.0, 0.9, 0.9, 0.9], patience=2) == (3, 1)


def test_replay_absolute_threshold_and_moving_best_metric():
    # 1.0 → 0.995 improves by less than 0.01: counter 1, yet best_metric moves to 0.995 (Trainer rule)
    assert replay_hf([1.0, 0.995, 0.99], patience=2, threshold=0.01) == (2, 2)
    # 0.9855 is 0.0145 below 1.0 but only 0.0095 below the moved best 0.995: not > threshold, stops
    assert replay_hf([1.0, 0.995, 0.9855], patience=2, threshold=0.01) == (2, 2)
    assert replay_hf([1.0, 0.995, 0.98], patience=2, threshold=0.01) == (None, 2)


def test_replay_counter_resets_on_a_real_improvement():
    values = [1.0, 1.1, 0.8, 0.85, 0.9, 0.95]
    assert replay_hf(values, patience=2) == (4, 2)  # counter 1, reset at 0.8, then 1, 2 -> stop
    assert replay_hf([0.5, 0.6, 0.7], patience=1, greater_is_better=True) == (None, 2)
    assert replay_hf([0.7, 0.6], patience=1, greater_is_better=True) == (1, 0)
    with pytest.raises(ValueError):
        replay_hf(values, patience=0)


def test_grid_reports_regret_against_the_run_best():
    grid = counterfactual_grid([1, 2, 3, 4], [1.0, 1.1, 0.5, 0.6], greater_is_better=False, band=0.01,
                               patiences=(1, 2), thresholds=(0.0,))
    p1, p2 = grid
    assert (p1.stopped_at_step, p1.restored_step, p1.regret, p1.steps_saved) == (2, 1, 0.5, 2)
    assert (p2.stopped_at_step, p2.restored_step, p2.regret) == (None, 3, 0.0)


# --- readers and normalisation ---------------------------------------------------------------

def test_normalise_dedupes_splits_restarts_and_reports_nan():
    recs = [RawRecord("loss", s, v) for s, v in [(1, 3.0), (2, 2.0), (2, 2.0), (3, 1.5), (2, 2.5), (3, 1.2),
                                                 (4, float("nan"))]]
    log = normalise(recs)
    assert log.duplicates == 1 and log.restarts == [2] and log.superseded_points == 2
    assert log.series["loss"].values == [3.0, 2.5, 1.2] and log.non_finite == {"loss": [4]}


def test_llamafactory_duplicates_none_fields_and_restart():
    lines = [{"current_steps": 10, "loss": 2.0, "eval_loss": None, "lr": 1e-4, "epoch": 0.1},
             {"current_steps": 10, "loss": 2.0, "lr": 1e-4, "epoch": 0.1},
             {"current_steps": 20, "eval_loss": 2.2, "epoch": 0.2},
             {"current_steps": 20, "loss": 1.8, "lr": 9e-5, "epoch": 0.2},
             {"current_steps": 10, "loss": 1.95, "lr": 1e-4, "epoch": 0.1}]
    text = "\n".join(json.dumps(x) for x in lines) + "\n{\"current_steps\": 30, \"lo"  # cut off mid-write
    bundle = read_bundle([("trainer_log.jsonl", text.encode())])
    assert bundle.formats == ["llamafactory_jsonl"]
    assert bundle.log.duplicates == 2 and bundle.log.restarts == [10]  # loss and lr of the repeated line
    assert bundle.log.series["loss"].values == [1.95]
    assert "learning_rate" in bundle.log.series and any("not JSON" in n for n in bundle.notes)


def _state(steps: list[int], evals: list[float], global_step: int, nan_at: int | None = None) -> bytes:
    history: list[dict] = []
    for s, v in zip(steps, evals):
        history.append({"loss": 3.0 - s / 1000, "learning_rate": 1e-4, "epoch": s / 100, "step": s})
        history.append({"eval_loss": float("nan") if s == nan_at else v, "eval_runtime": 2.0,
                        "eval_samples_per_second": 50.0, "epoch": s / 100, "step": s})
    return json.dumps({"log_history": history, "global_step": global_step, "best_metric": None},
                      allow_nan=True).encode()


def test_output_dir_zip_newest_checkpoint_supersedes_older_and_nan_is_flagged():
    steps = [100, 200, 300, 400, 500, 600]
    evals = [2.0, 1.8, 1.7, 1.65, 1.62, 1.6]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("out/checkpoint-300/trainer_state.json", _state(steps[:3], evals[:3], 300))
        z.writestr("out/checkpoint-600/trainer_state.json", _state(steps, evals, 600, nan_at=500))
        z.writestr("out/config.json", "{}")
        z.writestr("out/all_results.json", json.dumps({"eval_loss": 1.55, "epoch": 6.0}))
    r = analyse(read_bundle([("out.zip", buffer.getvalue())]))
    assert r["sources"] == ["out.zip:out/checkpoint-600/trainer_state.json"]
    assert any("supersedes 1 older" in n for n in r["notes"])
    assert {"non_finite_values", "results_mismatch"} <= codes(r)
    assert r["verdict"] == "diverging"


def _varint(n: int) -> bytes:
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out


def _event(step: int, tag: str, value: float) -> bytes:
    tag_b = tag.encode()
    val = b"\x0a" + _varint(len(tag_b)) + tag_b + b"\x15" + struct.pack("<f", value)
    summary = b"\x0a" + _varint(len(val)) + val
    event = b"\x09" + struct.pack("<d", 1.7e9) + b"\x10" + _varint(step) + b"\x2a" + _varint(len(summary)) + summary
    return struct.pack("<Q", len(event)) + b"\0\0\0\0" + event + b"\0\0\0\0"


def test_tensorboard_events_are_read_without_tensorflow():
    data = b"".join(_event(s, t, v) for s in (10, 20, 30, 40) for t, v in (("train/loss", 3 - s / 100), ("eval/loss", 2 + s / 1000)))
    events = read_events(data + b"\x05\x00")  # a cut-off tail
    assert events.records == 8 and events.truncated
    parsed = read_file("run/events.out.tfevents.123.host", data)
    assert parsed.format == "tensorboard"
    assert {r.name for r in parsed.records} == {"loss", "eval_loss"}
    assert [r.value for r in parsed.records if r.name == "eval_loss"] == pytest.approx([2.01, 2.02, 2.03, 2.04])


def test_wandb_csv_and_mlflow_metrics():
    csv_text = "_step,train/global_step,train/loss,eval/loss,train/epoch\n0,10,2.5,,0.1\n1,20,2.0,2.2,0.2\n2,30,NaN,,0.3\n"
    parsed = read_file("wandb_export.csv", csv_text.encode())
    assert parsed.format == "wandb_csv"
    assert [(r.name, r.step) for r in parsed.records if r.name == "eval_loss"] == [("eval_loss", 20)]
    assert any(math.isnan(r.value) for r in parsed.records)
    ml = read_file("mlruns/0/abc/metrics/eval_loss", b"1700000000000 2.1 100\n1700000000100 2.0 200\n")
    assert ml.format == "mlflow" and [(r.step, r.value) for r in ml.records] == [(100, 2.1), (200, 2.0)]


def test_unknown_and_empty_files_are_refused_by_name():
    with pytest.raises(InvalidInput) as e:
        read_file("notes.txt", b"hello world")
    assert e.value.field == "notes.txt"
    with pytest.raises(InvalidInput):
        read_file("trainer_state.json", b"   ")


def test_noise_estimate_recovers_white_noise_sd():
    rng = np.random.default_rng(0)
    x = np.linspace(0, 1, 400)
    y = 2 - x + rng.normal(0, 0.05, x.size)
    assert noise_sd(y) == pytest.approx(0.05, rel=0.15)


def test_paired_checkpoint_comparison_matches_scipy():
    rng = np.random.default_rng(1)
    a = rng.gamma(2.0, 1.0, 300)
    b = a - 0.1 + rng.normal(0, 0.3, 300)
    r = compare_checkpoints("checkpoint-500", a, "checkpoint-1000", b)
    assert r.difference.estimate == pytest.approx(float(np.mean(b - a)))
    assert r.difference.p_value == pytest.approx(float(stats.wilcoxon(b, a).pvalue))
    assert r.difference.ci_high < 0 and r.verdict.startswith("checkpoint-1000 is better")


def test_two_eval_sets_scale_mismatch_and_changed_eval_size():
    history = []
    for i, s in enumerate(range(100, 1300, 100)):
        # gradient-accumulation style bug: logged train loss 8x the eval loss; TRL's extra key alongside
        history.append({"loss": 8 * (2.0 - s / 2000), "mean_token_accuracy": 0.5, "learning_rate": 1e-4, "step": s, "epoch": s / 100})
        size = 500 if s < 700 else 800  # the eval set grew mid-run
        history.append({"eval_alpha_loss": 2.0 - s / 2000, "eval_alpha_runtime": size / 100, "eval_alpha_samples_per_second": 100.0,
                        "step": s, "epoch": s / 100})
        history.append({"eval_beta_loss": 1.0 + abs(i - 5) * 0.05, "eval_beta_runtime": 5.0, "eval_beta_samples_per_second": 100.0,
                        "step": s, "epoch": s / 100})
    history.append({"train_loss": 9.9, "train_runtime": 10.0, "step": 1200, "epoch": 12.0})
    data = json.dumps({"log_history": history, "global_step": 1200}).encode()
    alpha = analyse(read_bundle([("trainer_state.json", data)]), eval_set="alpha")
    assert alpha["metric"] == "eval_alpha_loss"
    assert {"loss_scale_mismatch", "eval_set_size_changed"} <= codes(alpha)
    beta = analyse(read_bundle([("trainer_state.json", data)]), eval_set="beta")
    assert "eval_set_size_changed" not in codes(beta) and beta["primary"]["best_step"] == 600
    bundle = read_bundle([("trainer_state.json", data)])
    assert "mean_token_accuracy" in bundle.log.series and bundle.meta.train_summary_loss == 9.9
    assert 1200 in bundle.log.series["loss"].steps and 9.9 not in bundle.log.series["loss"].values  # summary is not a point
    with pytest.raises(InvalidInput) as e:
        analyse(bundle, eval_set="gamma")
    assert e.value.field == "eval_set"
