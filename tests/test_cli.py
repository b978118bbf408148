"""The ``judge`` CLI through typer's CliRunner: ``--local`` (the service in-process, configured by
JUDGE_CONFIG and JUDGE_DATA_DIR like a user would) and ``--url`` against a real loopback server."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from conftest import SCRIPTED_JUDGES, write_config
from judge_service.app import create_app
from judge_service.cli import app
from test_client import serve

runner = CliRunner()
SYSTEMS = ["--baseline", "base", "--candidate", "tuned"]


@pytest.fixture
def local_env(tmp_path, monkeypatch) -> Path:
    """What a user of `--local` sets: a judges config (scripted judges) and a data dir."""
    monkeypatch.setenv("JUDGE_CONFIG", str(write_config(tmp_path / "judges.yaml", SCRIPTED_JUDGES)))
    monkeypatch.setenv("JUDGE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("JUDGE_URL", raising=False)
    monkeypatch.delenv("JUDGE_API_KEY", raising=False)
    return tmp_path


def judge(*args: str):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def write_items(path: Path, n: int = 12, *, drop_tuned_of: int | None = None) -> Path:
    lines = []
    for i in range(n):
        outputs = {"base": f"Answer {i}.", "tuned": f"A fuller answer number {i}, with some detail."}
        if i == drop_tuned_of:
            outputs.pop("tuned")
        lines.append(json.dumps({"id": f"q{i}", "prompt": f"Question {i}?", "outputs": outputs}))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_run_create_local_shows_progress_and_prints_the_verdict(local_env):
    items = write_items(local_env / "items.jsonl")
    result = judge("run", "create", items, *SYSTEMS, "--rubric", "helpfulness", "--local", "--poll-interval", "0.05")
    assert result.exit_code == 0, result.output
    assert "12/12" in result.stderr and "run_" in result.stderr  # the progress bar, on stderr
    lines = result.stdout.strip().splitlines()
    assert lines[-2].startswith("candidate beats baseline") and "n = 12" in lines[-2]
    assert "length-controlled win rate" in result.stdout and "12/12 items judged" in result.stdout
    # Two orders per item, all answered by the in-process judge, which costs nothing.
    assert lines[-1].startswith("cost: $0.0000; 24 judge calls") and "0 cached, 0 failed" in lines[-1]

    run_id = next(w for w in result.stderr.split() if w.startswith("run_"))
    status = judge("run", "status", run_id, "--local")
    assert status.exit_code == 0 and f"{run_id} done: 12/12 done, 0 failed" in status.stdout
    assert "cost: $0.0000; 24 judge calls" in status.stdout
    report = json.loads(judge("run", "report", run_id, "--local", "--json").stdout)
    assert report["run_id"] == run_id and report["pairwise"]["wins"] == 12
    listed = judge("run", "items", run_id, "--local")
    assert listed.exit_code == 0 and "q7" in listed.stdout and "candidate" in listed.stdout


def test_run_create_from_csv_without_waiting(local_env):
    csv_path = local_env / "items.csv"
    csv_path.write_text("id,prompt,base,tuned\nq1,Why?,Because.,Because of a longer reason.\n")
    result = judge("run", "create", csv_path, *SYSTEMS, "-r", "helpfulness", "--no-wait", "--local", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["id"].startswith("run_")


def test_catalog_commands(local_env):
    listed = judge("rubrics", "list", "--local")
    assert listed.exit_code == 0 and "helpfulness" in listed.stdout and "correctness" in listed.stdout
    shown = judge("rubrics", "show", "helpfulness@1", "--local")
    assert shown.exit_code == 0 and shown.stdout.startswith("helpfulness v1") and "hash" in shown.stdout

    content = json.loads(judge("rubrics", "show", "helpfulness", "--local", "--json").stdout)["content"]
    rubric_file = local_env / "mine.yaml"
    rubric_file.write_text(yaml.safe_dump(content | {"name": "cli_rubric", "version": 1}))
    added = judge("rubrics", "add", rubric_file, "--local")
    assert added.exit_code == 0 and added.stdout.startswith("rubric cli_rubric v1 saved")
    assert "cli_rubric" in judge("rubrics", "list", "--local").stdout

    judges = judge("judges", "--local")
    assert judges.exit_code == 0 and "longer" in judges.stdout and "scripted" in judges.stdout
    as_json = json.loads(judge("judges", "--local", "--json").stdout)
    assert [j["name"] for j in as_json if j["in_default_panel"]] == ["longer"]


def test_grade_and_compare(local_env):
    graded = judge("grade", "--rubric", "helpfulness", "--prompt", "Capital of France?", "--response", "Paris.",
                   "--judge", "lengthy-scorer", "--local")
    assert graded.exit_code == 0, graded.output
    assert graded.stdout.startswith("score ") and "lengthy-scorer" in graded.stdout

    answer = local_env / "answer.txt"
    answer.write_text("The capital of France is Paris, also its largest city.")
    compared = judge("compare", "-r", "helpfulness", "-p", "Capital of France?", "-a", "Paris.", "-b", f"@{answer}",
                     "-j", "longer", "--local")
    assert compared.exit_code == 0, compared.output
    assert compared.stdout.startswith("winner B") and "orders agree: yes" in compared.stdout
    data = json.loads(judge("compare", "-r", "helpfulness", "-p", "Q?", "-a", "x", "-b", "a longer y", "--local",
                            "--json").stdout)
    assert data["winner"] == "B" and {o["order"] for o in data["orders"]} == {"AB", "BA"}


def test_bad_input_exits_non_zero_with_the_service_message(local_env):
    result = judge("grade", "--rubric", "nope", "--prompt", "x", "--response", "y", "--local")
    assert result.exit_code == 1
    assert "unknown rubric 'nope'" in result.stderr and "(field: rubric)" in result.stderr

    items = write_items(local_env / "bad.jsonl", 3, drop_tuned_of=1)
    result = judge("run", "create", items, *SYSTEMS, "--rubric", "helpfulness", "--local")
    assert result.exit_code == 1 and "missing the output of ['tuned']" in result.stderr
    assert "items.1.outputs" in result.stderr

    result = judge("grade", "--rubric", "helpfulness", "--response", "y", "--local")
    assert result.exit_code == 2 and "exactly one of --prompt or --messages" in result.stderr
    result = judge("run", "status", "run_missing", "--local")
    assert result.exit_code == 1 and "no run with id 'run_missing'" in result.stderr


def test_against_a_running_service_by_url_and_env(make_settings, monkeypatch):
    with serve(create_app(make_settings())) as url:
        result = judge("judges", "--url", url, "--json")
        assert result.exit_code == 0 and "longer" in result.stdout
        monkeypatch.setenv("JUDGE_URL", url)
        result = judge("grade", "-r", "helpfulness", "-p", "Q?", "--response", "A.", "--json")
        assert result.exit_code == 0 and json.loads(result.stdout)["rubric"]["name"] == "helpfulness"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = runner.invoke(app, ["judges", "--url", f"http://127.0.0.1:{port}"],
                           env={"JUDGE_URL": None}, catch_exceptions=False)
    assert result.exit_code == 1 and "could not reach judge-service" in result.stderr


def test_agreement_from_a_csv(local_env):
    rows = local_env / "labels.csv"
    rows.write_text("id,judge,human\n" + "\n".join(f"i{i},{(i % 5) + 1},{((i + (i % 3 == 0)) % 5) + 1}"
                                                    for i in range(20)))
    result = judge("agreement", rows, "--kind", "ordinal", "--a", "judge", "--b", "human", "--labels", "1,2,3,4,5",
                   "--local")
    assert result.exit_code == 0, result.output
    assert "scores.spearman" in result.stdout and "scores.quadratic_kappa" in result.stdout
    missing = judge("agreement", rows, "--kind", "ordinal", "--a", "judge", "--b", "human", "--local")
    assert missing.exit_code == 1 and "(field: labels)" in missing.stderr


def test_serve_is_still_a_command():
    result = judge("serve", "--help")
    assert result.exit_code == 0 and "--port" in result.stdout


def test_calibrate_uploads_ratings_and_fits_the_judge(local_env):
    ratings = local_env / "ratings.csv"
    ratings.write_text("id,prompt,response,ann,bob\n" + "\n".join(
        f"i{i},Question {i}?,{'word ' * (i + 1)},{1 + i // 2},{min(10, 2 + i // 2)}" for i in range(12)))
    result = judge("calibrate", ratings, "--rubric", "helpfulness", "--judge", "lengthy-scorer", "--folds", "3",
                   "--poll-interval", "0.05", "--local")
    assert result.exit_code == 0, result.output
    assert "rating set rs_" in result.stderr and "12 items, raters ann, bob" in result.stderr
    assert "judge_vs_human.spearman" in result.stdout and "raw" in result.stdout and "calibrated" in result.stdout
    cal_id = result.stdout.strip().splitlines()[-1].split()[1]
    assert cal_id.startswith("cal_")
    graded = judge("grade", "-r", "helpfulness", "-p", "Q?", "--response", "word word", "-j", "lengthy-scorer",
                   "--calibration", cal_id, "--local", "--json")
    assert graded.exit_code == 0 and json.loads(graded.stdout)["calibrated_score"] is not None

    too_few = judge("calibrate", ratings, "--rubric", "helpfulness", "--folds", "10", "--local")
    assert too_few.exit_code == 1 and "(field: folds)" in too_few.stderr


def test_command_groups_from_other_modules_are_mounted():
    for group, sub in (("metrics", "overlap"), ("keys", "create"), ("curves", "analyze"), ("bench", "compare"),
                       ("overlap", "index"), ("import", "mt-bench"), ("eval-set", "diff"), ("rate", "rating-set")):
        result = judge(group, "--help")
        assert result.exit_code == 0 and sub in result.stdout


def test_freeze_startup_heap_exempts_live_objects_from_collection():
    import gc

    from judge_service.heap import freeze_startup_heap

    from judge_service.heap import GEN0_THRESHOLD, OLDER_THRESHOLDS

    survivor = [object() for _ in range(10)]
    before, thresholds = gc.get_freeze_count(), gc.get_threshold()
    try:
        freeze_startup_heap()
        assert gc.get_freeze_count() > before + len(survivor)
        assert gc.get_threshold() == (GEN0_THRESHOLD, *OLDER_THRESHOLDS)
    finally:
        gc.unfreeze()  # the rest of the suite keeps a normal collector
        gc.set_threshold(*thresholds)
