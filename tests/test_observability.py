"""Request ids, JSON logs that carry them, and /metrics in the Prometheus text format."""

from __future__ import annotations

import json
import logging
import re

from sqlalchemy import text

from conftest import SCRIPTED_JUDGES
from judge_service.observability import JsonFormatter

JUDGMENT = {"rubric": "helpfulness", "prompt": "q", "response": "an answer", "judges": ["lengthy-scorer"]}
_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (-?[0-9.e+\-]+|\+Inf|NaN)$')
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def parse_metrics(body: str) -> dict[tuple[str, frozenset], float]:
    """Samples by (name, labels); also checks every sample's family was declared with HELP and TYPE."""
    declared: dict[str, str] = {}
    samples: dict[tuple[str, frozenset], float] = {}
    for line in body.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            declared[name] = kind
            continue
        if line.startswith("#") or not line:
            continue
        m = _SAMPLE.match(line)
        assert m, f"not a Prometheus sample line: {line!r}"
        name = m.group(1)
        family = re.sub(r"_(bucket|sum|count)$", "", name) if name not in declared else name
        assert family in declared, f"{name} has no # TYPE"
        labels = frozenset(_LABEL.findall(m.group(3) or ""))
        samples[(name, labels)] = float(m.group(4))
    return samples


def metric(samples, name: str, **labels) -> float:
    return samples.get((name, frozenset((k, str(v)) for k, v in labels.items())), 0.0)


def test_request_id_generated_echoed_and_sanitised(client):
    r = client.get("/healthz")
    assert re.fullmatch(r"[0-9a-f]{32}", r.headers["x-request-id"])
    assert client.get("/v1/judges", headers={"X-Request-ID": "trace-abc.123"}).headers["x-request-id"] == "trace-abc.123"
    # A header that could forge log lines or bloat them is replaced, not echoed.
    for bad in ("x" * 300, "a b", "id\"}, {\"level\": \"CRITICAL"):
        rid = client.get("/healthz", headers={"X-Request-ID": bad}).headers["x-request-id"]
        assert rid != bad and re.fullmatch(r"[0-9a-f]{32}", rid)
    # Refusals carry one too (the request id middleware is outermost).
    assert client.get("/v1/nowhere").headers["x-request-id"]


def test_access_log_is_json_with_the_request_id(client, caplog, capsys):
    caplog.set_level(logging.INFO, logger="judge_service")
    r = client.post("/v1/judgments", json=JUDGMENT, headers={"X-Request-ID": "req-42"})
    assert r.status_code == 200
    access = [rec for rec in caplog.records if rec.name == "judge_service.access" and rec.request_id == "req-42"]
    assert len(access) == 1
    line = json.loads(JsonFormatter().format(access[0]))
    assert line["request_id"] == "req-42" and line["msg"] == "request"
    assert line["method"] == "POST" and line["route"] == "/v1/judgments" and line["status"] == 200
    assert line["duration_ms"] > 0 and line["level"] == "INFO" and line["ts"].endswith("+00:00")
    # What actually reaches stderr: one JSON object per line.
    err_lines = [json.loads(x) for x in capsys.readouterr().err.splitlines() if x.startswith("{")]
    assert any(x.get("request_id") == "req-42" and x.get("route") == "/v1/judgments" for x in err_lines)


def test_json_formatter_redacts_keys_and_keeps_tracebacks():
    fmt = JsonFormatter({"my-very-secret-provider-key"})
    try:
        raise RuntimeError("boom with sk-proj-abcdef123456 inside")
    except RuntimeError:
        import sys
        rec = logging.LogRecord("judge_service.x", logging.ERROR, __file__, 1, "key %s and %s and %s", (
            "my-very-secret-provider-key", "jsk_abcdefghijklmnop", "sk-ant-xyz987654"), sys.exc_info())
    out = fmt.format(rec)
    assert "my-very-secret-provider-key" not in out and "jsk_abcdefghijklmnop" not in out and "sk-ant-xyz987654" not in out
    assert "sk-proj-abcdef123456" not in out
    parsed = json.loads(out)
    assert "RuntimeError" in parsed["exc"] and parsed["level"] == "ERROR"


def test_metrics_exposition(make_client):
    config = {**SCRIPTED_JUDGES, "judges": [
        j | {"price": {"input_per_mtok": 3.0, "output_per_mtok": 15.0}} if j["name"] == "lengthy-scorer" else j
        for j in SCRIPTED_JUDGES["judges"]]}
    client = make_client(config)
    assert client.post("/v1/judgments", json=JUDGMENT).status_code == 200
    assert client.post("/v1/judgments", json=JUDGMENT).status_code == 200  # same call: from the cache
    assert client.post("/v1/judgments", json=JUDGMENT | {"judges": ["garbage"]}).status_code == 200
    assert client.get("/v1/judgments/jdg_nope").status_code == 404
    assert client.post("/v1/judgments", json={}).status_code == 422

    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain; version=0.0.4")
    s = parse_metrics(r.text)
    assert metric(s, "judge_http_requests_total", method="POST", route="/v1/judgments", status=200) == 3
    assert metric(s, "judge_http_requests_total", method="GET", route="/v1/judgments/{id}", status=404) == 1
    assert metric(s, "judge_http_requests_total", method="POST", route="/v1/judgments", status=422) == 1

    buckets = sorted(((float(dict(k[1])["le"].replace("+Inf", "inf")), v) for k, v in s.items()
                      if k[0] == "judge_http_request_duration_seconds_bucket"
                      and dict(k[1]) | {"le": ""} == {"method": "POST", "route": "/v1/judgments", "le": ""}))
    counts = [v for _, v in buckets]
    assert counts == sorted(counts) and counts[-1] == 4
    assert metric(s, "judge_http_request_duration_seconds_count", method="POST", route="/v1/judgments") == 4
    assert metric(s, "judge_http_request_duration_seconds_sum", method="POST", route="/v1/judgments") > 0

    assert metric(s, "judge_calls_total", judge="lengthy-scorer", outcome="ok") == 1
    assert metric(s, "judge_calls_total", judge="lengthy-scorer", outcome="cached") == 1
    assert metric(s, "judge_calls_total", judge="garbage", outcome="unparseable") == 3  # 1 + parse_retries
    assert metric(s, "judge_caller_cache_hits_total") == 1
    assert metric(s, "judge_provider_attempts_total", judge="lengthy-scorer") == 1
    assert metric(s, "judge_provider_retries_total", judge="lengthy-scorer") == 0
    with client.app.state.ctx.db.engine.connect() as conn:
        cost, tin, tout = conn.execute(text(
            "SELECT SUM(cost_usd), SUM(input_tokens), SUM(output_tokens) FROM judge_calls "
            "WHERE judge = 'lengthy-scorer' AND cached = 0")).one()
    assert cost > 0 and metric(s, "judge_call_cost_usd_total", judge="lengthy-scorer") == round(cost, 10)
    assert cost == (tin * 3.0 + tout * 15.0) / 1e6
    assert metric(s, "judge_call_tokens_total", judge="lengthy-scorer", direction="input") == tin


def test_metrics_count_only_their_own_app(make_client):
    first, second = make_client(), make_client()
    assert first.post("/v1/judgments", json=JUDGMENT).status_code == 200
    s = parse_metrics(second.get("/metrics").text)
    assert metric(s, "judge_calls_total", judge="lengthy-scorer", outcome="ok") == 0
    assert metric(s, "judge_http_requests_total", method="POST", route="/v1/judgments", status=200) == 0
