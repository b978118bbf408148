"""Readers, parity and the comparison on the real lm-eval files in ../shared/data/lm_eval."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from scipy import stats

from benchmarks_fixtures import AUTOCFD, NL2FOAM, QWEN, RESULTS, SAMPLES, nl2foam_arm, sample_lines, write_arm
from judge_service.benchmarks.compare import compare
from judge_service.benchmarks.readers import read_arm
from judge_service.errors import InvalidInput


def _read(label: str, folder: Path):
    return read_arm(label, {p.name: p.read_bytes() for p in folder.iterdir()}, field=label)


def test_reader_discovers_metrics_stderr_na_groups_and_settings():
    run = read_arm("qwen", {RESULTS.name: RESULTS.read_bytes(), SAMPLES.name: SAMPLES.read_bytes()}, field="base")
    assert run.results[("negotiationtom_belief", "none")]["acc"].value == 0.45
    assert run.results[("negotiationtom_belief", "none")]["acc"].stderr == pytest.approx(0.11413288653790232)
    f1 = run.results[("negotiationtom_intention", "none")]["macro_f1"]
    assert f1.stderr is None and not f1.stderr_reported  # "N/A"
    assert run.groups["negotiationtom"] == ["negotiationtom_belief", "negotiationtom_desire", "negotiationtom_intention"]
    assert run.settings["limit"] == 20.0 and run.settings["fewshot_seed"] == 1234
    rows = run.samples[("negotiationtom_belief", "none")]
    assert len(rows) == 20
    accs = [r.metrics["acc"] for r in rows.values()]
    assert sum(accs) / 20 == pytest.approx(0.45)
    assert stats.sem(accs) == pytest.approx(0.114133, abs=1e-6)  # the results file's own stderr
    # lm-eval's group acc is the size-weighted mean of its subtasks (aggregate_subtask_metrics)
    assert run.results[("negotiationtom", "none")]["acc"].value == pytest.approx((0.45 * 20 + 0.6 * 20) / 40)


def test_old_samples_schema_without_filter_and_metrics_is_read(tmp_path):
    folder = write_arm(tmp_path / "old", old_schema=True)
    run = _read("old", folder)
    assert len(run.samples[("negotiationtom_belief", "none")]) == 20


def test_nl2foam_reader_merges_results_files_and_reads_published_values():
    run = read_arm("sft", {n: (NL2FOAM / n).read_bytes() for n in ("results_2025-12-17T20-24-58.608862.json",
                                                                    "results_2025-12-17T20-28-43.535870.json")},
                   field="tuned")
    assert run.results[("nl2foam_gen_original", "none")]["bleu"].value == pytest.approx(0.5771, abs=1e-4)
    assert run.results[("nl2foam_perplexity_original", "none")]["bits_per_byte"].value == pytest.approx(0.1663, abs=1e-4)
    assert run.tasks["nl2foam_perplexity_original"].higher_is_better["bits_per_byte"] is False


def test_a_a_comparison_finds_nothing_and_parity_is_ok(tmp_path):
    a, b = _read("run1", write_arm(tmp_path / "a")), _read("run2", write_arm(tmp_path / "b"))
    result = compare(a, b)
    assert result.parity.ok and result.parity.valid
    assert all(r.status != "improved" and r.status != "regressed" for r in result.rows)
    assert not result.gate_failed
    belief = next(r for r in result.rows if r.task == "negotiationtom_belief")
    assert belief.method == "paired: McNemar exact" and (belief.base_only, belief.tuned_only) == (0, 0)
    assert belief.p_value == 1.0
    codes = {w.code for w in result.warnings}
    assert "limit_set" in codes and "stderr_unavailable" in codes  # named, and the F1 rows are still listed
    assert {r.metric for r in result.rows if r.task == "negotiationtom_intention"} == {"exact_match", "macro_f1",
                                                                                          "micro_f1"}


def test_perturbed_docs_give_exact_discordant_counts_and_p(tmp_path):
    lines = sample_lines()
    right = [int(r["doc_id"]) for r in lines if float(r["acc"]) == 1.0]
    wrong = [int(r["doc_id"]) for r in lines if float(r["acc"]) == 0.0]
    flip = set(right[:6]) | set(wrong[:1])  # 6 lost, 1 gained
    base, tuned = _read("base", write_arm(tmp_path / "a")), _read("tuned", write_arm(tmp_path / "b", flip=flip))
    row = next(r for r in compare(base, tuned).rows if r.task == "negotiationtom_belief")
    assert (row.base_only, row.tuned_only) == (6, 1)
    assert row.p_value == pytest.approx(2 * sum(stats.binom.pmf(k, 7, 0.5) for k in range(2)))  # 0.125
    assert row.difference.estimate == pytest.approx(-5 / 20)
    assert row.tuned == pytest.approx(0.45 - 0.25)


def test_a_large_regression_fails_the_holm_gate(tmp_path):
    right = {int(r["doc_id"]) for r in sample_lines() if float(r["acc"]) == 1.0}
    base, tuned = _read("base", write_arm(tmp_path / "a")), _read("tuned", write_arm(tmp_path / "b", flip=right))
    result = compare(base, tuned)
    row = next(r for r in result.rows if r.task == "negotiationtom_belief")
    assert (row.base_only, row.tuned_only) == (9, 0) and row.status == "regressed"
    tested = [r for r in result.rows if r.p_value is not None]
    assert row.p_holm == pytest.approx(min(1.0, len(tested) * 2 * 0.5 ** 9))
    assert result.gate_failed


def test_different_documents_are_an_error_and_prompt_changes_a_warning(tmp_path):
    def new_doc(rec):
        if rec["doc_id"] == 3:
            rec["doc_hash"] = "0" * 64

    def new_prompt(rec):
        if rec["doc_id"] in (1, 2):
            rec["prompt_hash"] = "f" * 64

    base = _read("base", write_arm(tmp_path / "a"))
    bad = compare(base, _read("t", write_arm(tmp_path / "b", edit=new_doc))).parity
    assert not bad.valid and [f.field for f in bad.findings if f.severity == "error"] == ["doc_hash"]
    warn = compare(base, _read("t", write_arm(tmp_path / "c", edit=new_prompt))).parity
    assert warn.valid and warn.ok
    assert any(f.field == "prompt_hash" and "2 of 20" in f.message for f in warn.findings)


def test_settings_mismatch_is_listed_field_by_field(tmp_path):
    folder = write_arm(tmp_path / "b")
    doc = json.loads((folder / RESULTS.name).read_text())
    doc["config"]["fewshot_seed"] = 42
    doc["n-shot"]["negotiationtom_desire"] = 5
    (folder / RESULTS.name).write_text(json.dumps(doc))
    par = compare(_read("a", write_arm(tmp_path / "a")), _read("b", folder)).parity
    assert not par.ok and par.valid
    assert {(f.field, f.task) for f in par.findings} >= {("fewshot_seed", None), ("n_shot", "negotiationtom_desire")}


def test_real_unpaired_comparison_flips_perplexity_and_labels_z_conservative(tmp_path):
    base = _read("qwen", nl2foam_arm(tmp_path / "q", *QWEN))
    tuned = _read("autocfd", nl2foam_arm(tmp_path / "c", *AUTOCFD))
    result = compare(base, tuned)
    bleu = next(r for r in result.rows if r.metric == "bleu")
    assert bleu.method == "unpaired: z (conservative)" and bleu.status == "improved"
    assert bleu.difference.estimate == pytest.approx(0.6104 - 0.2703, abs=1e-4)
    judge = next(r for r in result.rows if r.metric == "llm_judge")
    assert judge.margin == pytest.approx(1.0) and "0-100" in judge.margin_basis
    bpb = next(r for r in result.rows if r.metric == "bits_per_byte")
    assert not bpb.higher_is_better and bpb.improvement > 0  # lower bits per byte is better
    assert bpb.status == "inconclusive" and bpb.p_value is None  # stderr "N/A", never a silent drop


def test_bad_input_is_refused_naming_the_field(tmp_path):
    with pytest.raises(InvalidInput) as e:
        read_arm("x", {"notes.json": b'{"hello": 1}'}, field="base")
    assert e.value.field == "base" and "not an lm-eval results file" in e.value.message
    with pytest.raises(InvalidInput):
        read_arm("x", {"results.json": b"not json"}, field="tuned")
    base = _read("a", write_arm(tmp_path / "a"))
    with pytest.raises(InvalidInput) as e:
        compare(base, base, tasks=["mmlu"])
    assert e.value.field == "tasks"


def test_a_task_in_one_arm_only_is_a_named_warning(tmp_path):
    base = _read("qwen", nl2foam_arm(tmp_path / "q", *QWEN))
    tuned = _read("autocfd", nl2foam_arm(tmp_path / "c", AUTOCFD[0]))  # no perplexity file
    result = compare(base, tuned)
    missing = [w for w in result.warnings if w.code == "task_missing_in_arm"]
    assert [w.task for w in missing] == ["nl2foam_perplexity_original"]


def _with_desire_samples(folder: Path, flip: set[int] = frozenset()) -> Path:
    """Give the desire subtask samples too (the belief lines re-labelled, ``flip`` docs inverted), so
    the negotiationtom group has per-doc data in every acc subtask."""
    lines = sample_lines()
    for rec in lines:
        if int(rec["doc_id"]) in flip:
            rec["acc"] = 1.0 - float(rec["acc"])
    name = SAMPLES.name.replace("negotiationtom_belief", "negotiationtom_desire")
    (folder / name).write_text("\n".join(json.dumps(r) for r in lines) + "\n")
    return folder


def test_group_is_a_stratified_bootstrap_weighted_like_lm_eval(tmp_path):
    right = sorted(int(r["doc_id"]) for r in sample_lines() if float(r["acc"]) == 1.0)
    base = _read("base", _with_desire_samples(write_arm(tmp_path / "a")))
    tuned = _read("tuned", _with_desire_samples(write_arm(tmp_path / "b", flip=set(right[:2])), flip=set(right[:4])))
    row = next(r for r in compare(base, tuned).rows if r.task == "negotiationtom" and r.metric == "acc")
    assert row.method.startswith("paired: stratified bootstrap")
    # belief lost 2 of 20 docs, desire 4 of 20; equal sizes, so the group lost (2 + 4) / 40
    assert row.difference.estimate == pytest.approx(-6 / 40)
    assert row.difference.n == 40 and row.difference.ci_high < 0


def test_lighteval_results_are_read_without_the_all_average():
    doc = {"config_general": {"model_name": "m", "max_samples": None, "num_fewshot_seeds": 1},
           "results": {"leaderboard|arc:challenge|25": {"acc": 0.61, "acc_stderr": 0.014, "acc_norm": 0.64,
                                                        "acc_norm_stderr": 0.014},
                       "all": {"acc": 0.61, "acc_stderr": 0.014}},
           "versions": {"leaderboard|arc:challenge|25": 0},
           "summary_tasks": {"leaderboard|arc:challenge|25": {"hashes": {"hash_examples": "abc"},
                                                              "truncated": 0, "non_truncated": 1172}}}
    run = read_arm("m", {"results_2024-01-01T00-00-00.json": json.dumps(doc).encode()}, field="base")
    assert run.source == "lighteval" and list(run.tasks) == ["leaderboard|arc:challenge|25"]
    assert run.tasks["leaderboard|arc:challenge|25"].n_effective == 1172
    assert run.results[("leaderboard|arc:challenge|25", "none")]["acc_norm"].value == 0.64
    tuned = json.loads(json.dumps(doc))
    tuned["results"]["leaderboard|arc:challenge|25"]["acc"] = 0.55
    result = compare(run, read_arm("t", {"r.json": json.dumps(tuned).encode()}, field="tuned"))
    acc = next(r for r in result.rows if r.metric == "acc")
    assert acc.status == "regressed" and acc.method == "unpaired: z (conservative)"


def test_lighteval_details_parquet_pairs_the_docs():
    import pyarrow as pa  # the lighteval extra; make test installs it (a missing extra fails, never skips)
    import io

    import pyarrow.parquet as pq

    def arm(values: list[float]) -> dict[str, bytes]:
        doc = {"config_general": {"model_name": "m", "max_samples": None},
               "results": {"lighteval|gsm8k|0": {"em": sum(values) / len(values), "em_stderr": 0.05}},
               "summary_tasks": {"lighteval|gsm8k|0": {"truncated": 0, "non_truncated": len(values)}}}
        buf = io.BytesIO()
        pq.write_table(pa.table({"metrics": [{"em": v} for v in values]}), buf)
        return {"results_2024-01-01T00-00-00.json": json.dumps(doc).encode(),
                "details_lighteval|gsm8k|0_2024-01-01T00-00-00.parquet": buf.getvalue()}

    base_vals = [1.0] * 30 + [0.0] * 30
    tuned_vals = [0.0] * 8 + [1.0] * 22 + [1.0] * 2 + [0.0] * 28  # 8 lost, 2 gained
    result = compare(read_arm("b", arm(base_vals), field="base"), read_arm("t", arm(tuned_vals), field="tuned"))
    row = result.rows[0]
    assert row.method == "paired: McNemar exact" and (row.base_only, row.tuned_only) == (8, 2)
    assert row.p_value == pytest.approx(2 * stats.binom.cdf(2, 10, 0.5))
