"""Rubric variants: rewordings grouped under a version, each hashed and immutable on its own, and
panels over judges × variants for judgments and comparisons."""

from __future__ import annotations

import os
import shutil

import pytest
import yaml

from judge_service.rubrics.model import canonical_hash
from judge_service.settings import REPO_RUBRICS

# helpfulness v1's hash before it named any variant (pinned: adding variants must not change it).
HELPFULNESS_V1 = "5ead2e252debc1972eeee93ebd76da4e01c365f6047475e877487bab589734c6"
WORDING_JUDGES = {"judges": [
    {"name": "ws", "provider": "scripted", "model": "scripted-ws", "family": "x", "options": {"policy": "wording_sensitive"}},
    {"name": "flat", "provider": "scripted", "model": "scripted-flat", "family": "y", "options": {"policy": "score_by_length"}},
], "default_panel": ["ws"]}


def test_variants_are_listed_each_with_its_own_hash_and_the_base_hash_is_unchanged(client):
    v1 = client.get("/v1/rubrics/helpfulness").json()[0]
    assert v1["hash"] == HELPFULNESS_V1
    variants = {v["variant"]: v for v in v1["variants"]}
    assert list(variants) == ["default", "accurate", "errors"]
    assert variants["default"]["hash"] == HELPFULNESS_V1 and variants["errors"]["ref"] == "helpfulness@1:errors"
    assert len({v["hash"] for v in variants.values()}) == 3
    # A variant's hash is of its own full content: the base with its rewording and its name.
    content = dict(v1["content"]) | {"variant": "errors"}
    content["instructions"] = yaml.safe_load((REPO_RUBRICS / "helpfulness" / "v1.yaml").read_text())[
        "variants"]["errors"]["instructions"]
    content["criteria"] = [dict(content["criteria"][0], description=yaml.safe_load(
        (REPO_RUBRICS / "helpfulness" / "v1.yaml").read_text())["variants"]["errors"]["criteria"][0]["description"])]
    assert canonical_hash(content) == variants["errors"]["hash"]
    # Rubrics without variants list only their base wording.
    assert [v["variant"] for v in client.get("/v1/rubrics/correctness").json()[0]["variants"]] == ["default"]


def test_a_judgment_names_a_variant_in_its_rubric_ref(make_client):
    client = make_client(WORDING_JUDGES)
    base = client.post("/v1/judgments", json={"rubric": "helpfulness", "prompt": "p", "response": "x" * 120}).json()
    errors = client.post("/v1/judgments", json={"rubric": "helpfulness@1:errors", "prompt": "p",
                                                "response": "x" * 120}).json()
    assert base["rubric"]["variant"] == "default" and errors["rubric"]["variant"] == "errors"
    assert errors["rubric"]["hash"] != base["rubric"]["hash"]
    assert errors["score"] == pytest.approx(base["score"] - 2, abs=1e-6)
    bad = client.post("/v1/judgments", json={"rubric": "helpfulness@1:nope", "prompt": "p", "response": "r"})
    assert bad.status_code == 404 and "accurate" in bad.json()["error"]["message"]


def test_a_judgment_over_judges_x_variants_pools_both_and_keeps_each_variant(make_client):
    client = make_client(WORDING_JUDGES)
    body = {"rubric": "helpfulness", "prompt": "p", "response": "x" * 120, "judges": ["ws", "flat"],
            "rubric_variants": ["default", "errors"]}
    got = client.post("/v1/judgments", json=body)
    assert got.status_code == 200, got.text
    out = got.json()
    assert {(j["judge"], j["variant"]) for j in out["judges"]} == {
        ("ws", "default"), ("flat", "default"), ("ws", "errors"), ("flat", "errors")}
    per = {v["rubric"]["variant"]: v for v in out["variants"]}
    assert per["errors"]["score"] == pytest.approx(per["default"]["score"] - 1)  # only 'ws' shifts, by 2
    assert out["score"] == pytest.approx((per["default"]["score"] + per["errors"]["score"]) / 2)
    assert out["panel"]["method"] == "mean over judges x variants"
    assert per["errors"]["rubric"]["hash"] != per["default"]["rubric"]["hash"]
    refused = client.post("/v1/judgments", json=body | {"rubric": "helpfulness@1:errors"})
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "rubric"
    refused = client.post("/v1/judgments", json=body | {"calibration": "cal_x"})
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "rubric_variants"


def test_a_comparison_over_variants_runs_both_orders_per_judge_and_wording(make_client):
    client = make_client(WORDING_JUDGES)
    got = client.post("/v1/comparisons", json={"rubric": "helpfulness", "prompt": "p", "response_a": "short",
                                               "response_b": "a longer one", "judges": ["flat"],
                                               "rubric_variants": ["all"]}).json()
    assert len(got["orders"]) == 2 * 3 and {o["variant"] for o in got["orders"]} == {"default", "accurate", "errors"}
    assert [v["rubric"]["variant"] for v in got["variants"]] == ["default", "accurate", "errors"]
    assert sum(got["panel"]["votes"].values()) == 3


def test_a_used_variant_is_immutable(make_client, tmp_path):
    rubrics = tmp_path / "rubrics"
    shutil.copytree(REPO_RUBRICS / "helpfulness", rubrics / "helpfulness")
    client = make_client(WORDING_JUDGES, rubrics_dirs=[rubrics])
    body = {"rubric": "helpfulness@1:errors", "prompt": "p", "response": "x" * 60}
    assert client.post("/v1/judgments", json=body).status_code == 200
    path = rubrics / "helpfulness" / "v1.yaml"
    data = yaml.safe_load(path.read_text())
    data["variants"]["errors"]["instructions"] += " Be strict."
    path.write_text(yaml.safe_dump(data))
    os.utime(path, (path.stat().st_atime + 5, path.stat().st_mtime + 5))
    changed = client.post("/v1/judgments", json=body)
    assert changed.status_code == 409 and "helpfulness@1:errors changed since it was first used" in changed.json()["error"]["message"]
    # The base wording and the other variants are untouched by that edit.
    assert client.post("/v1/judgments", json=body | {"rubric": "helpfulness@1"}).status_code == 200
    # A new wording is a new variant: allowed beside the used ones.
    data["variants"]["errors"]["instructions"] = data["variants"]["errors"]["instructions"].removesuffix(" Be strict.")
    data["variants"]["strict"] = {"instructions": "Judge strictly how helpful the response is."}
    path.write_text(yaml.safe_dump(data))
    os.utime(path, (path.stat().st_atime + 10, path.stat().st_mtime + 10))
    assert client.post("/v1/judgments", json=body).status_code == 200
    assert client.post("/v1/judgments", json=body | {"rubric": "helpfulness@1:strict"}).status_code == 200


@pytest.mark.parametrize("variant, message", [
    ({"default": {"instructions": "x"}}, "not be 'default'"),
    ({"Bad-Name": {"instructions": "x"}}, "must match"),
    ({"v": {}}, "changes nothing"),
    ({"v": {"criteria": [{"name": "ghost", "description": "x"}]}}, "unknown criterion"),
    ({"v": {"criteria": [{"name": "quality", "anchors": {1: "a", 2: "b", 3: "c"}}]}}, "keep criterion"),
])
def test_bad_variants_are_refused_naming_the_problem(client, variant, message):
    body = {"name": "tiny", "version": 1, "description": "d", "modes": ["absolute"], "instructions": "Judge.",
            "criteria": [{"name": "quality", "description": "q", "anchors": {1: "bad", 2: "good"}}], "variants": variant}
    got = client.post("/v1/rubrics", json=body)
    assert got.status_code == 422 and message in got.json()["error"]["message"], got.json()


def test_api_added_rubric_keeps_its_variants_after_a_restart(make_client):
    body = {"name": "tiny", "version": 1, "description": "d", "modes": ["absolute"], "instructions": "Judge.",
            "criteria": [{"name": "quality", "description": "q", "anchors": {1: "bad", 2: "good"}}],
            "variants": {"blunt": {"instructions": "Is it good?", "note": "shorter"}}}
    client = make_client()
    added = client.post("/v1/rubrics", json=body).json()
    assert [v["variant"] for v in added["variants"]] == ["default", "blunt"]
    again = make_client()  # a new app on the same data dir reloads API rubrics from the database
    assert [v["variant"] for v in again.get("/v1/rubrics/tiny").json()[0]["variants"]] == ["default", "blunt"]


def test_variants_can_be_added_to_an_api_version_but_never_changed(client):
    body = {"name": "tiny", "version": 1, "description": "d", "modes": ["absolute"], "instructions": "Judge.",
            "criteria": [{"name": "quality", "description": "q", "anchors": {1: "bad", 2: "good"}}]}
    assert client.post("/v1/rubrics", json=body).status_code == 201
    assert client.post("/v1/rubrics", json=body).status_code == 200  # the same again: a no-op
    more = body | {"variants": {"blunt": {"instructions": "Is it good?"}}}
    added = client.post("/v1/rubrics", json=more)
    assert added.status_code == 201 and [v["variant"] for v in added.json()["variants"]] == ["default", "blunt"]
    assert [v["variant"] for v in client.get("/v1/rubrics/tiny").json()[0]["variants"]] == ["default", "blunt"]
    for changed in (body, body | {"variants": {"blunt": {"instructions": "Is it any good?"}}}):
        got = client.post("/v1/rubrics", json=changed)
        assert got.status_code == 409 and got.json()["error"]["field"] == "variants", got.json()
    helpfulness = yaml.safe_load((REPO_RUBRICS / "helpfulness" / "v1.yaml").read_text())
    helpfulness["variants"]["x"] = {"instructions": "y"}
    got = client.post("/v1/rubrics", json=helpfulness)
    assert got.status_code == 409 and "from a file" in got.json()["error"]["message"]
