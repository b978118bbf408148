"""The memorization feature as a user drives it: the Python client (sync and async) and the
`judge overlap` CLI (``--local``: the service in-process, like a user's laptop)."""

from __future__ import annotations

import asyncio
import json
import random

import httpx
from typer.testing import CliRunner

from conftest import SHARED_DATA
from judge_client import AsyncJudgeClient, JudgeClient, OverlapIndex
from judge_service.app import create_app
from judge_service.cli import app as cli
from judge_service.cli.local import LocalTransport
from test_cli import local_env  # noqa: F401  (fixture)
from test_memorization_core import sentence


def test_sync_and_async_clients(make_settings, tmp_path) -> None:
    rng = random.Random(0)
    records = [{"output": " ".join(sentence(rng, 12) for _ in range(5))} for _ in range(30)]
    service = create_app(make_settings())
    transport = LocalTransport(service)
    with JudgeClient("http://svc", transport=transport) as client:
        index = client.create_overlap_index(records, name="sft")
        assert isinstance(index, OverlapIndex) and index.n_docs == 30
        assert client.get_overlap_index(index.id).content_hash == index.content_hash
        report = client.regurgitation(index.id, [{"output": records[2]["output"], "base_output": "short and new"}])
        assert report.items[0].flag == "regurgitation" and report.comparison is not None
        assert client.get_regurgitation(report.id).items[0].matches[0].doc_id == "2"
        con = client.contamination(index.id, [{"text": records[1]["output"], "outcome": 1}, {"text": sentence(rng, 20)}])
        assert [i.contaminated for i in con.items] == [True, False]
        path = tmp_path / "t.jsonl"
        path.write_text("\n".join(json.dumps(r) for r in records))
        assert client.create_overlap_index(path=path).n_docs == 30
    transport.close()

    async def run_async() -> None:
        async with AsyncJudgeClient("http://svc", transport=httpx.ASGITransport(service)) as client:
            again = await client.create_overlap_index(records, name="sft")
            assert again.reused and again.id == index.id
            rep = await client.regurgitation(again.id, [{"output": records[3]["output"]}])
            assert rep.tuned.regurgitation.estimate == 1.0

    asyncio.run(run_async())


def test_cli_index_regurgitation_contamination_local(local_env, tmp_path) -> None:  # noqa: F811
    runner = CliRunner()
    questions = [json.loads(line) for line in (SHARED_DATA / "mt_bench" / "question.jsonl").read_text().splitlines()]
    rng = random.Random(3)
    train = [{"id": f"t{i}", "output": " ".join(sentence(rng, 12) for _ in range(4))} for i in range(50)]
    train += [{"id": f"leak{q['question_id']}", "output": q["turns"][0]} for q in questions[:10]]
    (tmp_path / "train.jsonl").write_text("\n".join(json.dumps(r) for r in train))
    r = runner.invoke(cli, ["overlap", "index", str(tmp_path / "train.jsonl"), "--local", "--json"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    index_id = json.loads(r.stdout)["id"]
    outputs = [{"id": "a", "prompt": "say it", "output": train[4]["output"]}, {"id": "b", "output": sentence(rng, 40)}]
    (tmp_path / "out.jsonl").write_text("\n".join(json.dumps(o) for o in outputs))
    r = runner.invoke(cli, ["overlap", "regurgitation", index_id, str(tmp_path / "out.jsonl"), "--local"],
                      catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "regurgitation" in r.stdout and "t4" in r.stdout
    (tmp_path / "eval.jsonl").write_text("\n".join(json.dumps(q | {"correct": int(i < 20)}) for i, q in enumerate(questions)))
    r = runner.invoke(cli, ["overlap", "contamination", index_id, str(tmp_path / "eval.jsonl"), "--text-field", "turns",
                            "--outcome-field", "correct", "--local", "--json"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    assert report["contaminated"] == 10
    assert {i["id"] for i in report["items"] if i["contaminated"]} == {str(q["question_id"]) for q in questions[:10]}
    assert report["impact"]["headline"]["estimate"] == 10 / 70
    r = runner.invoke(cli, ["overlap", "regurgitation", index_id, "--local"])
    assert r.exit_code == 2
