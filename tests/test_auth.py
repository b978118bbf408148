"""API keys: 401 without a valid key, 403 for a read key on a write route, open health and metrics."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from judge_service.cli.keys import keys_app
from judge_service.security.keys import KEY_PREFIX, KeyStore

JUDGMENT = {"rubric": "helpfulness", "prompt": "q", "response": "an answer", "judges": ["lengthy-scorer"]}


def keys_of(client) -> KeyStore:
    return KeyStore(client.app.state.ctx.db)


@pytest.fixture
def secured(make_client):
    client = make_client(auth_enabled=True)
    store = keys_of(client)
    return client, store.create("reader", "read").key, store.create("writer", "write").key


def assert_error(r, status: int, code: str) -> dict:
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["code"] == code and err["message"] and "field" in err
    return err


def test_auth_is_off_by_default(client):
    assert client.get("/v1/judges").status_code == 200
    assert client.post("/v1/judgments", json=JUDGMENT).status_code == 200


def test_missing_and_unknown_keys_are_401(secured):
    client, _, _ = secured
    r = client.get("/v1/judges")
    err = assert_error(r, 401, "unauthorized")
    assert "Authorization: Bearer" in err["message"] and "judge keys create" in err["message"]
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert_error(client.get("/v1/judges", headers={"Authorization": "Bearer jsk_not-a-real-key"}), 401, "unauthorized")
    assert_error(client.get("/v1/judges", headers={"X-API-Key": "nonsense"}), 401, "unauthorized")
    assert_error(client.get("/v1/judges", headers={"Authorization": "Basic dXNlcjpwYXNz"}), 401, "unauthorized")


def test_read_key_reads_but_cannot_write(secured):
    client, read_key, _ = secured
    assert client.get("/v1/judges", headers={"Authorization": f"Bearer {read_key}"}).status_code == 200
    assert client.get("/v1/rubrics", headers={"X-API-Key": read_key}).status_code == 200
    assert client.get("/v1/judges", headers={"authorization": f"bearer {read_key}"}).status_code == 200
    err = assert_error(client.post("/v1/judgments", json=JUDGMENT, headers={"Authorization": f"Bearer {read_key}"}),
                       403, "forbidden")
    assert "reader" in err["message"] and "write" in err["message"]
    assert_error(client.post("/v1/runs", json={}, headers={"X-API-Key": read_key}), 403, "forbidden")


def test_write_key_can_do_everything(secured):
    client, _, write_key = secured
    h = {"Authorization": f"Bearer {write_key}"}
    r = client.post("/v1/judgments", json=JUDGMENT, headers=h)
    assert r.status_code == 200, r.text
    assert client.get(f"/v1/judgments/{r.json()['id']}", headers=h).status_code == 200


def test_every_v1_route_needs_a_key(secured):
    client, _, _ = secured
    paths = client.get("/openapi.json").json()["paths"]
    checked = 0
    for path, ops in paths.items():
        if not path.startswith("/v1"):
            continue
        concrete = path.replace("{id}", "x").replace("{name}", "x")
        for method in ops:
            r = client.request(method.upper(), concrete, json={})
            assert r.status_code == 401, (method, path, r.status_code)
            checked += 1
    assert checked >= 8


def test_health_docs_and_metrics_stay_open(secured, make_client):
    client, _, _ = secured
    for path in ("/healthz", "/metrics", "/openapi.json"):
        assert client.get(path).status_code == 200, path
    locked = make_client(auth_enabled=True, metrics_require_auth=True)
    assert_error(locked.get("/metrics"), 401, "unauthorized")
    key = keys_of(locked).create("prometheus", "read").key
    assert locked.get("/metrics", headers={"Authorization": f"Bearer {key}"}).status_code == 200


def test_revoked_key_is_refused_at_once(secured):
    client, read_key, _ = secured
    store = keys_of(client)
    info = next(k for k in store.list() if k.name == "reader")
    assert info.last_used_at is None
    assert client.get("/v1/judges", headers={"X-API-Key": read_key}).status_code == 200
    assert next(k for k in store.list() if k.name == "reader").last_used_at is not None
    store.revoke(info.id)
    assert_error(client.get("/v1/judges", headers={"X-API-Key": read_key}), 401, "unauthorized")


def test_keys_are_random_and_stored_only_as_sha256(secured):
    client, read_key, write_key = secured
    assert read_key.startswith(KEY_PREFIX) and len(read_key) >= 40 and read_key != write_key
    with client.app.state.ctx.db.engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(text("SELECT * FROM api_keys"))]
    dump = repr(rows)
    assert read_key not in dump and write_key not in dump
    assert read_key[10:] not in dump  # not even the part after the shown prefix
    assert hashlib.sha256(read_key.encode()).hexdigest() in dump


def test_bad_scope_or_name_is_refused(client):
    from judge_service.errors import InvalidInput

    with pytest.raises(InvalidInput, match="scope"):
        keys_of(client).create("x", "admin")
    with pytest.raises(InvalidInput, match="name"):
        keys_of(client).create("  ", "read")


def test_cli_create_list_revoke(tmp_path, make_client):
    runner = CliRunner()
    data = ["--data-dir", str(tmp_path / "data")]
    r = runner.invoke(keys_app, ["create", "--scope", "write", "--name", "ci", *data])
    assert r.exit_code == 0, r.output
    key = r.stdout.strip().splitlines()[-1]
    assert key.startswith(KEY_PREFIX)
    listed = runner.invoke(keys_app, ["list", *data])
    assert listed.exit_code == 0 and "ci" in listed.stdout and key not in listed.stdout and key[:10] in listed.stdout
    bad = runner.invoke(keys_app, ["create", "--scope", "root", "--name", "x", *data])
    assert bad.exit_code == 1 and "scope must be one of" in bad.output

    client = make_client(auth_enabled=True)  # same data dir as the CLI's
    h = {"Authorization": f"Bearer {key}"}
    assert client.post("/v1/judgments", json=JUDGMENT, headers=h).status_code == 200
    key_id = next(k.id for k in keys_of(client).list() if k.name == "ci")
    assert runner.invoke(keys_app, ["revoke", key_id, *data]).exit_code == 0
    assert client.get("/v1/judges", headers=h).status_code == 401
    missing = runner.invoke(keys_app, ["revoke", "key_nope", *data])
    assert missing.exit_code == 1 and "judge keys list" in missing.output


def test_openapi_documents_keys_and_refusals(make_client):
    schema = make_client(auth_enabled=True, rate_limit_per_minute=600).get("/openapi.json").json()
    assert {"bearerKey", "headerKey"} <= set(schema["components"]["securitySchemes"])
    post = schema["paths"]["/v1/judgments"]["post"]
    assert {"401", "403", "429"} <= set(post["responses"]) and post["security"]
    get = schema["paths"]["/v1/judges"]["get"]
    assert "401" in get["responses"] and "403" not in get["responses"]
    assert "security" not in schema["paths"]["/healthz"]["get"]
    plain = make_client().get("/openapi.json").json()
    assert "401" not in plain["paths"]["/v1/judgments"]["post"]["responses"]
