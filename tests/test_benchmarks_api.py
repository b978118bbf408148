"""Benchmark comparisons through HTTP (JSON and multipart), the Python clients and the CLI."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from benchmarks_fixtures import AUTOCFD, NL2FOAM, QWEN, RESULTS, SFT, nl2foam_arm, sample_lines, write_arm
from judge_client import AsyncJudgeClient, BenchmarkComparison, JudgeClient
from judge_service.cli import app as cli_app
from judge_service.cli.local import LocalTransport
from judge_service.store.models import RunRow


def _json_arm(label: str, *names: str) -> dict:
    return {"label": label, "files": {n: json.loads((NL2FOAM / n).read_text()) for n in names}}


def test_json_post_is_stored_listed_and_attached_to_a_run(client):
    r = client.post("/v1/benchmark-comparisons", json={"base": _json_arm("qwen", *QWEN),
                                                       "tuned": _json_arm("sft", *SFT), "margin": 0.01})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["arms"] == ["qwen", "sft"]
    rows = body["comparisons"][0]["rows"]
    assert {row["metric"] for row in rows} >= {"bleu", "llm_judge", "bits_per_byte"}
    assert client.get(f"/v1/benchmark-comparisons/{body['id']}").json() == body
    assert [c["id"] for c in client.get("/v1/benchmark-comparisons").json()] == [body["id"]]
    with client.app.state.ctx.db.session() as s:
        s.add(RunRow(id="run_x", status="done", spec={}, total=0))
    attached = client.post(f"/v1/benchmark-comparisons/{body['id']}/attach", json={"run_id": "run_x"})
    assert attached.status_code == 200 and attached.json()["run_id"] == "run_x"
    by_run = client.get("/v1/runs/run_x/benchmark-comparisons").json()
    assert [c["id"] for c in by_run] == [body["id"]]
    assert client.get("/v1/runs/nope/benchmark-comparisons").status_code == 404


def test_multipart_with_samples_pairs_the_docs(client, tmp_path):
    right = {int(r["doc_id"]) for r in sample_lines() if float(r["acc"]) == 1.0}
    a, b = write_arm(tmp_path / "a"), write_arm(tmp_path / "b", flip=set(sorted(right)[:3]))
    files = [("base", (p.name, p.read_bytes())) for p in a.iterdir()] + \
            [("tuned", (p.name, p.read_bytes())) for p in b.iterdir()]
    r = client.post("/v1/benchmark-comparisons", files=files, data={"options": json.dumps({"margin": 0.02})})
    assert r.status_code == 201, r.text
    row = next(x for x in r.json()["comparisons"][0]["rows"] if x["task"] == "negotiationtom_belief")
    assert (row["base_only"], row["tuned_only"]) == (3, 0) and row["method"] == "paired: McNemar exact"
    assert r.json()["options"]["margin"] == 0.02


@pytest.mark.parametrize("payload,field,status", [
    ({"base": {"files": {"x.json": {"hello": 1}}}, "tuned": _json_arm("t", *SFT)}, "base", 422),
    ({"base": _json_arm("q", *QWEN), "tuned": _json_arm("t", *SFT), "tasks": ["mmlu"]}, "tasks", 422),
    ({"base": _json_arm("q", *QWEN), "tuned": _json_arm("t", *SFT), "run_id": "missing"}, "run_id", 404),
    ({"base": _json_arm("q", *QWEN), "tuned": _json_arm("t", *SFT), "margin": -1}, "margin", 422),
    ({"base": _json_arm("q", *QWEN)}, "tuned", 422),
    ({"base": {"files": {"r.json": "not json"}}, "tuned": _json_arm("t", *SFT)}, "base", 422),
])
def test_bad_input_is_a_4xx_naming_the_field(client, payload, field, status):
    r = client.post("/v1/benchmark-comparisons", json=payload)
    assert r.status_code == status, r.text
    assert r.json()["error"]["field"] == field


def test_different_documents_are_refused_with_422(client, tmp_path):
    def new_doc(rec):
        if rec["doc_id"] == 0:
            rec["target_hash"] = "1" * 64

    a, b = write_arm(tmp_path / "a"), write_arm(tmp_path / "b", edit=new_doc)
    files = [("base", (p.name, p.read_bytes())) for p in a.iterdir()] + \
            [("tuned", (p.name, p.read_bytes())) for p in b.iterdir()]
    r = client.post("/v1/benchmark-comparisons", files=files)
    assert r.status_code == 422 and r.json()["error"]["field"] == "tuned"
    assert "target_hash" in r.json()["error"]["message"]
    assert client.post("/v1/benchmark-comparisons", files=files[:2]).json()["error"]["field"] == "tuned"


def test_sync_and_async_clients_send_folders_and_checkpoints(client, tmp_path):
    q, c, s = (nl2foam_arm(tmp_path / n, *f) for n, f in (("qwen", QWEN), ("autocfd", AUTOCFD), ("sft", SFT)))
    async def run_async() -> BenchmarkComparison:
        async with AsyncJudgeClient("http://test", transport=httpx.ASGITransport(client.app)) as ac:
            return await ac.compare_benchmarks(q / QWEN[0], c / AUTOCFD[0], margin=0.02)

    got = asyncio.run(run_async())
    assert got.comparisons[0].margin == 0.02 and got.comparisons[0].counts["improved"] == 6
    # last: the in-process transport closes the app's context when it closes
    with JudgeClient("http://test", transport=LocalTransport(client.app)) as jc:
        result = jc.compare_benchmarks(q, c, s, tasks=["nl2foam_gen_original"])
        assert isinstance(result, BenchmarkComparison)
        assert result.arms == ["qwen", "autocfd", "sft"] and [p.tuned for p in result.comparisons] == ["autocfd", "sft"]
        assert {r.task for p in result.comparisons for r in p.rows} == {"nl2foam_gen_original"}
        assert jc.get_benchmark_comparison(result.id).id == result.id


@pytest.fixture
def local_env(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("JUDGE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("COLUMNS", "250")
    return tmp_path


def test_cli_series_prints_one_table_with_a_column_per_checkpoint(local_env):
    q, c, s = (nl2foam_arm(local_env / n, *f) for n, f in (("qwen", QWEN), ("autocfd", AUTOCFD), ("sft", SFT)))
    result = CliRunner().invoke(cli_app, ["bench", "compare", str(q), str(c), str(s), "--local"])
    assert result.exit_code == 0, result.output
    header = next(line for line in result.output.splitlines() if "autocfd (Δ vs base)" in line)
    assert "sft (Δ vs base)" in header and "qwen" in header
    assert result.output.count("┏") == 1  # one table
    assert "qwen -> autocfd: 6 improved" in result.output and "qwen -> sft: 6 improved" in result.output
    assert "stderr_unavailable" in result.output


def test_cli_gate_exits_non_zero_only_with_fail_on_regression(local_env):
    right = {int(r["doc_id"]) for r in sample_lines() if float(r["acc"]) == 1.0}
    a, b = write_arm(local_env / "a"), write_arm(local_env / "b", flip=right)
    runner = CliRunner()
    plain = runner.invoke(cli_app, ["bench", "compare", str(a), str(b), "--local"])
    assert plain.exit_code == 0 and "REGRESSED" in plain.output
    gated = runner.invoke(cli_app, ["bench", "compare", str(a), str(b), "--local", "--fail-on-regression"])
    assert gated.exit_code == 3
    same = runner.invoke(cli_app, ["bench", "compare", str(a), str(write_arm(local_env / "c")), "--local",
                                   "--fail-on-regression", "--json"])
    assert same.exit_code == 0
    data = json.loads(same.stdout)
    assert data["comparisons"][0]["parity"]["ok"] and not data["gate_failed"]
    missing = runner.invoke(cli_app, ["bench", "compare", str(a), str(local_env / "nope"), "--local"])
    assert missing.exit_code == 2


@pytest.mark.parametrize("files,data,field", [
    ([("base", ("results_a.json", b'{"results": {"t": 1}, "configs": {}}')), ("tuned", ("r.json", b"{}"))], {}, "base"),
    ([("base", ("results_a.json", json.dumps({"results": {"t": {"acc,none": 0.5}}, "versions": [],
                                               "n-samples": 3}).encode())), ("tuned", ("r.json", b"{}"))], {}, "base"),
    ([("base", ("a.zip", b"PK not a zip")), ("tuned", ("r.json", b"{}"))], {}, "base"),
    ([("base", ("samples_t_2024-01-01T00-00-00.jsonl", b'{"doc_id": 1}')), ("tuned", ("r.json", b"{}"))], {}, "base"),
    ([("base", (RESULTS.name, RESULTS.read_bytes())), ("tuned", (RESULTS.name, RESULTS.read_bytes()))],
     {"options": "[1, 2]"}, "options"),
    ([("base", (RESULTS.name, RESULTS.read_bytes())), ("tuned", (RESULTS.name, RESULTS.read_bytes()))],
     {"options": '{"alpha": 2}'}, "options.alpha"),
])
def test_malformed_uploads_are_422_never_500(client, files, data, field):
    r = client.post("/v1/benchmark-comparisons", files=files, data=data)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == field


def _mutated(tmp_path: Path, name: str, mutate) -> list:
    a, b = write_arm(tmp_path / f"{name}-a"), write_arm(tmp_path / f"{name}-b")
    doc = json.loads((b / RESULTS.name).read_text())
    mutate(doc)
    (b / RESULTS.name).write_text(json.dumps(doc))
    return [("base", (p.name, p.read_bytes())) for p in a.iterdir()] + \
           [("tuned", (p.name, p.read_bytes())) for p in b.iterdir()]


def test_mismatched_sample_counts_are_refused_and_strict_refuses_any_mismatch(client, tmp_path):
    def fewer_docs(doc):
        doc["n-samples"]["negotiationtom_desire"]["effective"] = 15

    r = client.post("/v1/benchmark-comparisons", files=_mutated(tmp_path, "n", fewer_docs))
    assert r.status_code == 422 and "n_samples.effective" in r.json()["error"]["message"]

    def other_template(doc):
        doc["chat_template_sha"] = "0" * 64

    files = _mutated(tmp_path, "t", other_template)
    lenient = client.post("/v1/benchmark-comparisons", files=files)
    assert lenient.status_code == 201
    parity = lenient.json()["comparisons"][0]["parity"]
    assert not parity["ok"] and [f["field"] for f in parity["findings"]] == ["chat_template_sha"]
    strict = client.post("/v1/benchmark-comparisons", files=files, data={"options": '{"strict": true}'})
    assert strict.status_code == 422 and "chat_template_sha" in strict.json()["error"]["message"]
