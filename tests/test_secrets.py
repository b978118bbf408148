"""A provider key from the environment never shows up in logs, responses, stored rows or error messages,
even when the provider rejects it with an error body that echoes it back in full."""

from __future__ import annotations

import logging
import secrets
import time

import pytest
from sqlalchemy import select

from judge_service.store.models import Base
from judge_service.testing.fake_server import FakeJudgeServer

KEY_ENV = "JUDGE_TEST_OPENAI_KEY"
ITEMS = [{"id": f"q{i}", "prompt": f"Q{i}?", "outputs": {"base": "b", "tuned": "a longer answer"}} for i in range(3)]


def fragments(secret: str, size: int = 8) -> set[str]:
    """Every run of ``size`` characters from the key's random part: an echo of any piece of it is a leak."""
    tail = secret.split("SECRET-", 1)[1]
    return {tail[i:i + size] for i in range(len(tail) - size + 1)}


def leaks(text: str, secret: str) -> list[str]:
    return [f for f in fragments(secret) | {secret} if f in text]


@pytest.fixture
def secret(monkeypatch) -> str:
    value = "sk-test-SECRET-" + secrets.token_hex(24)
    monkeypatch.setenv(KEY_ENV, value)
    return value


def config(good_url: str, bad: FakeJudgeServer) -> dict:
    common = {"api_key_env": KEY_ENV, "timeout_s": 5, "max_attempts": 2, "options": {"retry_base_s": 0.01}}
    return {"judges": [
        {"name": "good", "provider": "openai_compatible", "model": "fake-judge", "base_url": good_url} | common,
        {"name": "rejected-openai", "provider": "openai", "model": "fake-judge", "base_url": bad.openai_base_url} | common,
        {"name": "rejected-compat", "provider": "openai_compatible", "model": "fake-judge",
         "base_url": bad.openai_base_url} | common,
        {"name": "rejected-anthropic", "provider": "anthropic", "model": "fake-judge",
         "base_url": bad.anthropic_base_url} | common,
    ], "default_panel": ["good"]}


def test_provider_key_never_leaks(make_client, secret, caplog, capfd):
    caplog.set_level(logging.DEBUG)  # every logger, the SDKs' and httpx's debug output included
    with FakeJudgeServer("prefer_longer") as good, \
            FakeJudgeServer("prefer_longer", api_key="sk-test-the-only-valid-key", echo_key="full") as bad:
        client = make_client(config(good.openai_base_url, bad))
        bodies = []
        for judge in ("good", "rejected-openai", "rejected-compat", "rejected-anthropic"):
            r = client.post("/v1/judgments", json={"rubric": "helpfulness", "prompt": "q", "response": "r", "judges": [judge]})
            assert r.status_code in (200, 502), r.text
            bodies.append(r.text)
            r = client.post("/v1/comparisons", json={"rubric": "helpfulness", "prompt": "q", "response_a": "a",
                                                     "response_b": "b", "judges": [judge]})
            bodies.append(r.text)
        rejected = [b for b in bodies if "401" in b]
        assert rejected, "the provider's rejection should be reported (without the key)"
        assert any("Incorrect API key" in b or "invalid x-api-key" in b for b in rejected)  # the message survives

        run = client.post("/v1/runs", json={"rubric": "helpfulness", "judges": ["good", "rejected-openai"],
                                            "baseline": "base", "candidate": "tuned", "items": ITEMS})
        assert run.status_code == 202
        run_id = run.json()["id"]
        for _ in range(200):  # the run executes in the background; bounded wait
            if client.get(f"/v1/runs/{run_id}").json()["status"] in ("done", "failed"):
                break
            time.sleep(0.05)
        for path in (f"/v1/runs/{run_id}", f"/v1/runs/{run_id}/items", f"/v1/runs/{run_id}/report", "/v1/judges",
                     "/metrics", "/openapi.json"):
            bodies.append(client.get(path).text)
        assert bad.stats.outcomes["unauthorized"] >= 3  # the key really was sent and really was echoed

    for body in bodies:
        assert not leaks(body, secret), body[:500]

    db = client.app.state.ctx.db
    with db.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            dump = repr(conn.execute(select(table)).fetchall())
            assert not leaks(dump, secret), f"table {table.name} holds the key"

    logged = "\n".join(r.getMessage() + repr(r.__dict__) for r in caplog.records)
    assert caplog.records and not leaks(logged, secret)
    out, err = capfd.readouterr()
    assert not leaks(out + err, secret)


def test_error_messages_name_the_variable_not_the_value(make_client, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    with FakeJudgeServer("prefer_longer") as server:
        client = make_client({"judges": [{"name": "j", "provider": "openai", "model": "fake-judge",
                                          "base_url": server.openai_base_url, "api_key_env": KEY_ENV}]})
        r = client.post("/v1/judgments", json={"rubric": "helpfulness", "prompt": "q", "response": "r", "judges": ["j"]})
    assert r.status_code == 502 and r.json()["error"]["code"] == "judge_auth_error"
    assert f"environment variable {KEY_ENV} is not set" in r.json()["error"]["message"]


@pytest.mark.parametrize("pasted, field", [
    ("gsk_" + "Ab3" * 16, "api_key_env"),  # Groq-style key: no dash, passes a naive identifier check
    ("sk-proj-" + "Xy9" * 16, "api_key_env"),
    ("sk-proj-" + "Xy9" * 16, "api_key"),  # the key under a field that does not exist
])
def test_a_key_pasted_into_the_config_is_refused_without_being_repeated(tmp_path, pasted, field):
    from judge_service.errors import InvalidInput
    from judge_service.judges.config import load_judges_config

    path = tmp_path / "judges.yaml"
    path.write_text(f"judges:\n  - {{name: j, provider: openai, model: m, {field}: {pasted}}}\n")
    with pytest.raises(InvalidInput) as ei:
        load_judges_config(path)
    assert pasted not in ei.value.message and pasted[4:20] not in ei.value.message
    assert f"judges.0.{field}" in ei.value.message
    # A YAML syntax error on the key's line must not quote the line either.
    path.write_text(f"judges:\n  - name: j\n    api_key_env: {pasted}: oops\n")
    with pytest.raises(InvalidInput) as ei:
        load_judges_config(path)
    assert pasted[4:20] not in ei.value.message and "line 3" in ei.value.message


def test_real_variable_names_are_accepted(tmp_path):
    from judge_service.judges.config import load_judges_config

    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY_FOR_JUDGING_TEAM_B", "together_key"):
        path = tmp_path / "judges.yaml"
        path.write_text(f"judges:\n  - {{name: j, provider: openai, model: m, api_key_env: {name}}}\n")
        assert load_judges_config(path).judges[0].api_key_env == name


@pytest.mark.parametrize("price", [{"input": 2.5, "output": 10}, {"input_per_mtok": 2.5}])
def test_a_mistyped_or_half_price_is_refused_not_free(tmp_path, price):
    import json

    from judge_service.errors import InvalidInput
    from judge_service.judges.config import load_judges_config

    path = tmp_path / "judges.yaml"
    path.write_text(f"judges:\n  - {{name: j, provider: openai, model: m, price: {json.dumps(price)}}}\n")
    with pytest.raises(InvalidInput, match=r"judges\.0\.price\.output_per_mtok: Field required"):
        load_judges_config(path)
