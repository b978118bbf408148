"""Rows of prompts and both systems' outputs become run items, whatever file holds them: JSONL,
CSV, parquet, and folders written the way Hugging Face ``datasets`` writes them (``save_to_disk``:
Arrow IPC *stream* shards named in ``state.json``; a DatasetDict's ``dataset_dict.json`` and one
folder per split). The rows are real AlpacaEval outputs from ../shared. Through HTTP, client, CLI."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from conftest import SHARED_DATA, SCRIPTED_JUDGES, write_config
from judge_client import JudgeClient
from judge_client._imports import read_records
from judge_service.app import create_app
from judge_service.cli import app as cli
from test_client import serve

ALPACA = SHARED_DATA / "alpaca_eval" / "results"


def _rows(n: int = 30) -> list[dict]:
    base = {r["instruction"]: r["output"] for r in read_records(ALPACA / "phi-2" / "model_outputs.json")}
    rows = []
    for r in read_records(ALPACA / "phi-2-sft" / "model_outputs.json.xz"):
        if r["instruction"] in base and base[r["instruction"]].strip() and r["output"].strip():
            rows.append({"uid": f"a{len(rows)}", "instruction": r["instruction"], "phi2": base[r["instruction"]],
                         "sft": r["output"], "dataset": r["dataset"]})
        if len(rows) == n:
            break
    return rows


def save_to_disk(folder: Path, rows: list[dict], shards: int = 2) -> None:
    """What ``Dataset.save_to_disk`` leaves: stream-format shards and a state.json naming them."""
    folder.mkdir(parents=True)
    names = []
    size = -(-len(rows) // shards)
    for k in range(shards):
        name = f"data-{k:05d}-of-{shards:05d}.arrow"
        table = pa.Table.from_pylist(rows[k * size:(k + 1) * size])
        with pa.OSFile(str(folder / name), "wb") as sink, pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        names.append({"filename": name})
    (folder / "state.json").write_text(json.dumps({"_data_files": names, "_fingerprint": "x", "_split": None}))
    (folder / "dataset_info.json").write_text(json.dumps({"features": {}}))


@pytest.fixture
def files(tmp_path) -> dict[str, Path]:
    rows = _rows()
    out = {"jsonl": tmp_path / "rows.jsonl", "csv": tmp_path / "rows.csv", "parquet": tmp_path / "rows.parquet",
           "saved": tmp_path / "saved", "dict": tmp_path / "dict"}
    out["jsonl"].write_text("".join(json.dumps(r) + "\n" for r in rows))
    with out["csv"].open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    pq.write_table(pa.Table.from_pylist(rows), str(out["parquet"]))
    save_to_disk(out["saved"], rows)
    out["dict"].mkdir()
    (out["dict"] / "dataset_dict.json").write_text(json.dumps({"splits": ["train", "test"]}))
    save_to_disk(out["dict"] / "train", rows[:20], shards=1)
    save_to_disk(out["dict"] / "test", rows[20:], shards=1)
    return out


def test_every_file_kind_reads_the_same_rows(files):
    rows = _rows()
    for kind in ("jsonl", "csv", "parquet", "saved"):
        assert read_records(files[kind]) == rows, kind
    assert read_records(files["dict"], split="test") == rows[20:]
    with pytest.raises(ValueError, match=r"splits \['train', 'test'\]; pick one"):
        read_records(files["dict"])
    with pytest.raises(ValueError, match="no split 'dev'"):
        read_records(files["dict"], split="dev")


def test_records_endpoint_maps_columns_and_names_bad_ones(client):
    rows = _rows(5)
    body = {"records": rows, "prompt_field": "instruction", "baseline_field": "phi2", "candidate_field": "sft",
            "id_field": "uid", "baseline_name": "base", "candidate_name": "tuned"}
    r = client.post("/v1/imports/records", json=body)
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [i["id"] for i in items] == [f"a{k}" for k in range(5)]
    assert items[2]["prompt"] == rows[2]["instruction"] and items[2]["outputs"] == {"base": rows[2]["phi2"],
                                                                                    "tuned": rows[2]["sft"]}
    bad = [dict(r) for r in rows]
    del bad[3]["sft"]
    r = client.post("/v1/imports/records", json=body | {"records": bad})
    assert r.status_code == 422 and r.json()["error"]["field"] == "records.3.sft"
    r = client.post("/v1/imports/records", json=body | {"id_field": "dataset"})  # not unique
    assert r.status_code == 422 and r.json()["error"]["field"].endswith(".dataset")
    chat = [{"id": "c1", "chat": [{"role": "user", "content": "Hi?"}, {"role": "assistant", "content": "Hello."}],
             "a": "x", "b": "y"}]
    r = client.post("/v1/imports/records", json={"records": chat, "prompt_field": "chat", "baseline_field": "a",
                                                 "candidate_field": "b", "id_field": "id"})
    assert r.json()["items"][0]["messages"] == [{"role": "user", "content": "Hi?"}]


def test_client_reads_a_saved_dataset_and_the_items_run(make_settings, files):
    with serve(create_app(make_settings())) as url, JudgeClient(url) as c:
        imported = c.import_records(files["dict"], split="train", prompt_field="instruction", baseline_field="phi2",
                                    candidate_field="sft", id_field="uid", baseline_name="base",
                                    candidate_name="tuned")
        assert len(imported.items) == 20
        run = c.create_run([i.model_dump(exclude_none=True) for i in imported.items], baseline="base",
                           candidate="tuned", rubric="helpfulness", judges=["longer"])
        assert c.wait_for_run(run.id, timeout=60).status == "done"


def test_cli_import_records(tmp_path, monkeypatch, files):
    monkeypatch.setenv("JUDGE_CONFIG", str(write_config(tmp_path / "judges.yaml", SCRIPTED_JUDGES)))
    monkeypatch.setenv("JUDGE_DATA_DIR", str(tmp_path / "data"))
    out = tmp_path / "items.jsonl"
    res = CliRunner().invoke(cli, ["import", "records", "--local", str(files["saved"]), "--prompt-field",
                                   "instruction", "--baseline-field", "phi2", "--candidate-field", "sft",
                                   "--id-field", "uid", "--items-out", str(out)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "30 items: baseline (baseline) vs candidate (candidate)" in res.output
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(lines) == 30 and set(lines[0]) == {"id", "prompt", "outputs"}
    res = CliRunner().invoke(cli, ["import", "records", "--local", str(files["dict"]), "--baseline-field", "phi2",
                                   "--candidate-field", "sft"])
    assert res.exit_code == 2 and "pick one with split" in res.output
