"""Rubric pilots as users run them: over HTTP against the fake judge server (OpenAI wire format),
from the Python client and from the ``judge`` CLI; stored, and linked from runs made later."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import wait_done, write_config
from judge_client import JudgeClient, NotFound
from judge_service.app import create_app
from judge_service.cli import app as cli_app
from judge_service.testing.fake_server import FakeJudgeServer
from test_client import serve

KEY = "sk-test-pilot"
ENV = "PILOT_TEST_KEY"


def absolute_items(n: int = 30, *, human: bool = False) -> list[dict]:
    """Responses of varied length: the fake judges score by length (len / 20 on 1..10)."""
    out = []
    for i in range(n):
        length = 40 + (i * 37) % 150
        item = {"id": f"q{i}", "prompt": f"Question {i}?", "response": "x" * length}
        if human:
            item["human_score"] = round(length / 20)
        out.append(item)
    return out


def pair_items(n: int = 12) -> list[dict]:
    return [{"id": f"p{i}", "prompt": f"Question {i}?", "response_a": "x" * (30 + 9 * i), "response_b": "y" * 80,
             "human_preference": "A" if 30 + 9 * i > 80 else "B"} for i in range(n)]


def remote_client(make_client, monkeypatch, server: FakeJudgeServer):
    monkeypatch.setenv(ENV, KEY)
    judge = {"name": "remote", "provider": "openai", "model": "gpt-judge", "family": "openai",
             "base_url": server.openai_base_url, "api_key_env": ENV, "timeout_s": 10, "structured_output": True,
             "price": {"input_per_mtok": 1.0, "output_per_mtok": 4.0}}
    return make_client({"judges": [judge], "default_panel": ["remote"]})


@pytest.fixture(scope="module")
def sensitive_server():
    with FakeJudgeServer("wording_sensitive", api_key=KEY) as s:
        yield s


@pytest.fixture(scope="module")
def flat_server():
    with FakeJudgeServer("score_by_length", api_key=KEY) as s:
        yield s


def test_pilot_reports_a_two_point_wording_shift_and_flags_the_rubric(make_client, monkeypatch, sensitive_server):
    client = remote_client(make_client, monkeypatch, sensitive_server)
    got = client.post("/v1/rubrics/helpfulness/pilot", json={"items": absolute_items(human=True), "samples": 2})
    assert got.status_code == 201, got.text
    report = got.json()
    assert [v["variant"] for v in report["variants"]] == ["default", "accurate", "errors"]
    assert len({v["hash"] for v in report["variants"]}) == 3
    diffs = {d["variant"]: d for d in report["absolute"]["differences"]}
    shift = diffs["errors"]["difference"]
    # The judge lowers its scores by two points under the wording that asks about factual errors
    # (less at the floor, where there is no room): the paired CI excludes 0 and sits near -2.
    assert diffs["errors"]["excludes_zero"] and shift["ci_high"] < -1.5 and shift["estimate"] == pytest.approx(-2, abs=0.3)
    assert not diffs["accurate"]["excludes_zero"] and diffs["accurate"]["difference"]["estimate"] == pytest.approx(0)
    assert report["wording_sensitive"] is True and report["verdict"].startswith("wording-sensitive")
    assert report["absolute"]["wording_test"]["sensitive"] is True
    per = report["absolute"]["per_variant"]
    dist = per["errors"]["distribution"]
    assert set(dist) >= {"mean", "sd", "histogram", "floor_share", "ceiling_share", "unused_points"}
    assert dist["mean"] == pytest.approx(per["default"]["distribution"]["mean"] - 2, abs=0.3)
    assert sum(dist["histogram"].values()) == dist["n"] == 30 * 2
    # Human labels are the length rule itself: each wording ranks the items as they do.
    assert per["default"]["human_agreement"]["spearman"] > 0.9
    # Cost: 30 items x 2 samples per variant, priced.
    assert report["cost"]["usd"] > 0 and set(report["cost"]["by_variant"]) == {"default", "accurate", "errors"}
    assert report["absolute"]["agreement_between_variants"]["krippendorff_alpha"] is not None

    stored = client.get(f"/v1/rubric-pilots/{report['id']}")
    assert stored.status_code == 200 and stored.json() == report


def test_a_wording_insensitive_judge_is_not_flagged(make_client, monkeypatch, flat_server):
    client = remote_client(make_client, monkeypatch, flat_server)
    report = client.post("/v1/rubrics/helpfulness/pilot", json={"items": absolute_items(), "variants": ["default", "errors"],
                                                                "samples": 2}).json()
    assert report["wording_sensitive"] is False
    assert report["absolute"]["differences"][0]["difference"]["estimate"] == pytest.approx(0)
    assert report["absolute"]["agreement_between_variants"]["krippendorff_alpha"] == pytest.approx(1.0)


def test_pairs_run_both_orders_and_report_position_consistency(make_client, monkeypatch, flat_server):
    client = remote_client(make_client, monkeypatch, flat_server)
    flat_server.reset()
    items = pair_items()
    report = client.post("/v1/rubrics/helpfulness/pilot", json={"items": items, "variants": ["default", "errors"],
                                                                "samples": 1, "temperature": 0}).json()
    # Every pair, both wordings, both orders: one call each.
    assert flat_server.calls == len(items) * 2 * 2
    per = report["pairwise"]["per_variant"]["default"]
    assert per["position_consistency"]["n"] == len(items)
    assert "samples=1" in report["warnings"][0]


def test_pilot_refusals_name_the_field(make_client, monkeypatch, flat_server):
    client = remote_client(make_client, monkeypatch, flat_server)
    cases = [
        ({"items": []}, 422, "items"),
        ({"items": absolute_items(3), "variants": ["default", "nope"]}, 404, "variants"),
        ({"items": absolute_items(3), "variants": ["default", "default"]}, 422, "variants"),
        ({"items": [{"id": "a", "prompt": "p", "response": "r", "response_a": "x"}]}, 422, "items.0.response"),
        ({"items": [{"id": "a", "prompt": "p", "response_a": "x"}]}, 422, "items.0.response_b"),
        ({"items": [{"id": "a", "prompt": "p", "response": "r", "human_preference": "A"}]}, 422,
         "items.0.human_preference"),
        ({"items": absolute_items(201)}, 413, "items"),
        ({"items": absolute_items(3), "judges": ["ghost"]}, 404, "judges"),
    ]
    for body, status, field in cases:
        got = client.post("/v1/rubrics/helpfulness/pilot", json=body)
        assert got.status_code == status, (body, got.text)
        assert got.json()["error"]["field"] == field, got.json()
    assert client.post("/v1/rubrics/nope/pilot", json={"items": absolute_items(3)}).status_code == 404
    assert client.get("/v1/rubric-pilots/plt_missing").status_code == 404


def test_runs_link_the_latest_pilot_of_their_rubric_version(make_client, monkeypatch, flat_server):
    client = remote_client(make_client, monkeypatch, flat_server)
    pilot = client.post("/v1/rubrics/helpfulness/pilot", json={"items": absolute_items(5), "samples": 1}).json()
    run = client.post("/v1/runs", json={
        "rubric": "helpfulness", "mode": "absolute", "baseline": "base", "candidate": "tuned",
        "items": [{"id": f"q{i}", "prompt": "p", "outputs": {"base": "x" * 50, "tuned": "x" * 90}} for i in range(4)],
    }).json()
    status = wait_done(client, run["id"])
    assert status["pilot"]["id"] == pilot["id"] and status["pilot"]["wording_sensitive"] is False
    assert client.get(f"/v1/runs/{run['id']}/report").json()["pilot"]["id"] == pilot["id"]


WORDING_JUDGES = {"judges": [{"name": "ws", "provider": "scripted", "model": "scripted-ws", "family": "x",
                              "options": {"policy": "wording_sensitive"}}], "default_panel": ["ws"]}


def test_python_client_pilots_a_rubric(make_settings):
    with serve(create_app(make_settings(WORDING_JUDGES))) as url, JudgeClient(url, max_retries=0) as client:
        report = client.pilot_rubric("helpfulness", absolute_items(20), variants=["default", "errors"], samples=2)
        assert report.wording_sensitive and report.most_stable_variant in {"default", "errors"}
        assert report.absolute is not None and report.absolute["differences"][0]["excludes_zero"]
        assert client.rubric_pilot(report.id).id == report.id
        with pytest.raises(NotFound) as e:
            client.pilot_rubric("helpfulness", absolute_items(3), variants=["nope"])
        assert e.value.field == "variants"


def test_cli_pilots_a_rubric_from_a_jsonl_sample(tmp_path, monkeypatch):
    monkeypatch.setenv("JUDGE_CONFIG", str(write_config(tmp_path / "judges.yaml", WORDING_JUDGES)))
    monkeypatch.setenv("JUDGE_DATA_DIR", str(tmp_path / "data"))
    sample = tmp_path / "sample.jsonl"
    sample.write_text("\n".join(json.dumps(i) for i in absolute_items(20)) + "\n")
    runner = CliRunner()
    args = ["rubrics", "pilot", "helpfulness@1", "--items", str(sample), "--variants", "default,errors", "--local"]
    result = runner.invoke(cli_app, [*args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["wording_sensitive"] is True and report["rubric"]["version"] == 1
    table = runner.invoke(cli_app, args, catch_exceptions=False)
    assert table.exit_code == 0 and "wording-sensitive" in table.stdout and "errors" in table.stdout
    missing = runner.invoke(cli_app, ["rubrics", "pilot", "helpfulness", "--items", str(Path(tmp_path / "none.jsonl")),
                                      "--local"])
    assert missing.exit_code == 2


def test_pilots_and_variant_hashes_are_stored_on_each_database(make_client, db_url):
    client = make_client(WORDING_JUDGES, database_url=db_url)
    report = client.post("/v1/rubrics/helpfulness/pilot", json={"items": absolute_items(6), "variants": ["default", "errors"],
                                                                "samples": 2}).json()
    assert client.get(f"/v1/rubric-pilots/{report['id']}").json()["wording_sensitive"] == report["wording_sensitive"]
    from judge_service.store.db import Database
    from judge_service.store.models import RubricPilotRow, RubricVariantRow

    db = Database(db_url)
    with db.session() as s:
        variant = s.get(RubricVariantRow, ("helpfulness", 1, "errors"))
        assert variant is not None and variant.hash == report["variants"][1]["hash"]
        row = s.get(RubricPilotRow, report["id"])
        assert row is not None and row.variants == {v["variant"]: v["hash"] for v in report["variants"]}
    db.engine.dispose()


def test_a_pilot_whose_every_call_is_unscored_is_a_502_and_not_stored(make_client):
    client = make_client({"judges": [{"name": "garbage", "provider": "scripted", "model": "g", "family": "g",
                                      "options": {"garbage": True}}], "default_panel": ["garbage"]})
    got = client.post("/v1/rubrics/helpfulness/pilot", json={"items": absolute_items(3), "samples": 1})
    assert got.status_code == 502 and got.json()["error"]["field"] == "judges"
    run = client.post("/v1/runs", json={"rubric": "helpfulness", "mode": "absolute", "baseline": "base",
                                        "candidate": "tuned", "items": [{"id": "a", "prompt": "p",
                                                                         "outputs": {"base": "x", "tuned": "y"}}]})
    assert client.get(f"/v1/runs/{run.json()['id']}").json()["pilot"] is None
