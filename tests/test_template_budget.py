"""Rubric templates run under a budget: each payload class is refused at add time with a 422 naming its construct.

The payloads are the ones that stalled or exhausted the process before the budget (issue 13): nested
loops, chained powers, padding through ``%``/``center``/``format``, and strings doubled by ``~``. A
rubric stored before the budget existed is not re-rendered at start and is refused when used.
"""

from __future__ import annotations

import time

import pytest
from conftest import SCRIPTED_JUDGES
from test_cli import judge, local_env  # noqa: F401  (local_env: the fixture)
from test_client import FAST, serve
from test_rubrics_api import _rubric

from judge_service.rubrics import budget
from judge_service.rubrics.render import DEFAULT_TEMPLATES, render_template
from judge_service.store.db import Database
from judge_service.store.models import RubricVersionRow

PAYLOADS = [
    # (template, words the 422 message must contain)
    ("{% for a in range(10000) %}{% for b in range(10000) %}{% endfor %}{% endfor %}", ["loop at line 1", "iterations"]),
    ("{% for c in response %}{% for d in response %}.{% endfor %}{% endfor %}", ["loop at line 1"]),  # only worst-case inputs show it
    ("{{ 10 ** 100 ** 100 ** 100 ** 5 }}", ["'**'", "bits"]),
    ("{{ 2 ** 100000 }}", ["'**'"]),
    ("{{ '%0100000000d' % 1 }}", ["'%' formatting", "width"]),
    ("{{ '%*d' % (100000000, 1) }}", ["'%' formatting", "100000000"]),
    ("{{ 'x'.center(100000000) }}", ["'center'"]),
    ("{{ 'x' | center(100000000) }}", ["filter 'center'"]),
    ("{{ 'x'.ljust(100000000) }}", ["'ljust'"]),
    ("{{ '{:>100000000}'.format(1) }}", ["'format'", "width"]),
    ("{{ '%s' | format('x') | indent(100000000) }}", ["filter 'indent'"]),
    ("{% set ns = namespace(s='x') %}{% for i in range(30) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s | length }}",
     ["'~' at line 1"]),
    ("{% set ns = namespace(s='ab') %}{% for i in range(30) %}{% set ns.s = ns.s + ns.s %}{% endfor %}", ["'+'"]),
    ("{{ 'x' * 10**10 }}", ["'*'"]),
    ("{{ ([response] * 100) | join }}", ["'*'"]),
    ("{{ response | replace(' ', response) }}", ["filter 'replace'"]),
    ("{{ response.replace(' ', response) }}", ["'replace'"]),
    ("{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(40) }}", ["100 ms"]),
]


@pytest.mark.parametrize("template, words", PAYLOADS, ids=[p[0][:40] for p in PAYLOADS])
def test_each_payload_class_is_refused_at_add_time(client, template, words):
    started = time.perf_counter()
    r = client.post("/v1/rubrics", json=_rubric(name="hostile", templates={"absolute": template}))
    elapsed = time.perf_counter() - started
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["field"] == "templates"
    assert "absolute template" in err["message"] and "budget" in err["message"], err
    for word in words:
        assert word in err["message"], (word, err["message"])
    assert elapsed < 5, elapsed  # refused, not sat through (the worst of these once froze the process for minutes)
    assert client.get("/v1/rubrics/hostile").status_code == 404  # nothing stored


def test_shipped_and_ordinary_custom_templates_still_pass(client):
    ordinary = ("{% for c in criteria %}{{ c.name | upper }}: {{ c.description | truncate(80) }}\n{% endfor %}"
                "{% for line in response.splitlines() %}> {{ line }}\n{% endfor %}{{ '-' * 20 }}\n{{ response }}")
    r = client.post("/v1/rubrics", json=_rubric(name="ordinary", templates={"absolute": ordinary}))
    assert r.status_code == 201, r.text
    r = client.post("/v1/judgments", json={"rubric": "ordinary", "prompt": "q", "response": "line one\nline two",
                                           "judges": ["lengthy-scorer"]})
    assert r.status_code == 200, r.text


def test_the_budget_is_per_render_and_the_output_is_counted():
    ctx = {"rubric_name": "x", "instructions": "i", "criteria": [], "conversation": "q", "response": "r" * 90_000,
           "response_a": "", "response_b": "", "reference": ""}
    # 40 outputs of a 90,000-character text is 3.6 M characters: allowed; 50 is over the output limit.
    assert len(render_template("{% for i in range(40) %}{{ response }}{% endfor %}", ctx)) == 40 * 90_000
    with pytest.raises(Exception, match="output passed"):
        render_template("{% for i in range(50) %}{{ response }}{% endfor %}", ctx)
    # Two renders of 30,000 iterations each: the budget is not shared across renders.
    for _ in range(2):
        render_template("{% for i in range(30000) %}{% endfor %}ok", ctx)
    assert budget.weight(["ab"] * 3) == 2 + 6 + 6
    assert budget.weight([["x" * 10] * 10**6], limit=100) > 100  # stops early instead of walking a million items


def test_a_full_collection_during_a_render_is_not_charged_to_it():
    """Under load a full GC pass (100-250 ms on the service's heap) can land inside a render: that
    is the process's CPU, and the rubric must not be refused for it."""
    import gc

    junk = [[i] for i in range(300_000)]  # a heap whose full pass takes measurable CPU
    b = budget.Budget()
    t0 = time.thread_time()
    gc.collect()
    gc_s = time.thread_time() - t0
    assert gc_s > 0 and len(junk) == 300_000
    b.deadline = time.thread_time() - gc_s / 2  # the collection alone carried the render past its deadline
    b.tick("loop at line 1")  # not refused
    b.gc_at_start = budget.gc_cpu_seconds()  # the same time spent with no collection in it: refused
    with pytest.raises(budget.BudgetExceeded, match="CPU budget"):
        b.tick("loop at line 1")


def test_compiled_templates_are_cached():
    from judge_service.rubrics.render import _compiled

    source = DEFAULT_TEMPLATES["pairwise"]
    assert _compiled(source) is _compiled(source)


def test_stored_over_budget_rubric_is_reported_not_rendered_at_start(make_settings, tmp_path):
    from fastapi.testclient import TestClient

    from judge_service.app import create_app

    settings = make_settings(SCRIPTED_JUDGES)
    # A rubric stored through the API before templates had a budget: its template loops 10^8 times.
    content = _rubric(name="legacy", templates={"absolute": PAYLOADS[0][0]})
    from judge_service.rubrics.model import RubricFile, build_rubric

    legacy = build_rubric(RubricFile.model_validate(content))
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.resolved_database_url())
    with db.session() as s:
        s.add(RubricVersionRow(name="legacy", version=1, hash=legacy.hash, content=legacy.content, source="api", used=False))
    db.close()

    started = time.perf_counter()
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        assert time.perf_counter() - started < 10  # start-up does not run the template
        assert client.get("/v1/rubrics/legacy").status_code == 200  # still listed: nothing stored is lost
        r = client.post("/v1/judgments", json={"rubric": "legacy", "prompt": "q", "response": "r",
                                               "judges": ["lengthy-scorer"]})
        assert r.status_code == 422, r.text
        err = r.json()["error"]
        assert err["field"] == "rubric"
        assert "legacy@1" in err["message"] and "loop at line 1" in err["message"] and "POST /v1/rubrics" in err["message"]
        assert client.get("/healthz").status_code == 200


def test_client_and_cli_get_the_same_refusal(make_settings, local_env, tmp_path):
    import yaml
    from judge_client import InvalidInput as ClientInvalidInput
    from judge_client import JudgeClient

    from judge_service.app import create_app

    hostile = _rubric(name="hostile", templates={"absolute": "{{ 10 ** 100 ** 100 ** 100 ** 5 }}"})
    with serve(create_app(make_settings())) as url, JudgeClient(url, **FAST) as client:
        with pytest.raises(ClientInvalidInput) as caught:
            client.add_rubric(hostile)
    assert caught.value.field == "templates" and "'**'" in str(caught.value)

    path = tmp_path / "hostile.yaml"
    path.write_text(yaml.safe_dump(hostile))
    result = judge("rubrics", "add", path, "--local")
    assert result.exit_code != 0
    assert "'**'" in result.output and "budget" in result.output
