"""judge_client against the real service: over a real loopback socket (sync client, uvicorn) and
in-process through httpx's ASGI transport (async client). Nothing of the service is mocked; the
only doubles are transport wrappers that drop or refuse the first requests, standing in for the
network and a proxy in front of the service, to exercise the client's retries.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import asynccontextmanager, contextmanager

import httpx
import pytest
import uvicorn

import judge_client
from judge_client import (
    APIConnectionError,
    AsyncJudgeClient,
    Comparison,
    Conflict,
    InvalidInput,
    JudgeClient,
    JudgeServiceError,
    Judgment,
    MissingExtra,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    RunReport,
    Unauthorized,
    WaitTimeout,
)
from judge_service.app import create_app
from judge_service.security.keys import KeyStore

FAST = {"initial_retry_delay": 0.01, "max_retry_delay": 0.05}
SYSTEMS = {"baseline": "base", "candidate": "tuned"}


# --- a real service on a loopback socket (also used by test_readme_python and test_client_isolated)

@contextmanager
def serve(app) -> Iterator[str]:
    """Run ``app`` under uvicorn on a free loopback port in a thread; yield its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture
def base_url(make_settings) -> Iterator[str]:
    with serve(create_app(make_settings())) as url:
        yield url


@pytest.fixture
def client(base_url) -> Iterator[JudgeClient]:
    with JudgeClient(base_url, **FAST) as c:
        yield c


def items(n: int = 6) -> list[dict]:
    return [{"id": f"q{i}", "prompt": f"Question {i}?",
             "outputs": {"base": f"Answer {i}.", "tuned": f"A fuller answer number {i}, with some detail."}}
            for i in range(n)]


# --- transports standing in for a flaky network and a proxy ------------------------------------

class Flaky(httpx.BaseTransport):
    """Fails the first ``fail`` requests (raising ``error`` or answering ``response``), then passes on."""

    def __init__(self, fail: int, error: Exception | None = None, response: httpx.Response | None = None) -> None:
        self.inner = httpx.HTTPTransport()
        self.fail, self.error, self.response = fail, error, response
        self.attempts = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.attempts += 1
        if self.attempts <= self.fail:
            if self.error is not None:
                raise self.error
            return httpx.Response(self.response.status_code, headers=self.response.headers,
                                  content=self.response.content)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


class AsyncFlaky(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport, fail: int) -> None:
        self.inner, self.fail, self.attempts = inner, fail, 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.attempts += 1
        if self.attempts <= self.fail:
            raise httpx.ConnectError("connection refused (injected)")
        return await self.inner.handle_async_request(request)


def unavailable(code: str | None = None, retry_after: str | None = None) -> httpx.Response:
    body = {"error": {"code": code, "message": "missing extra", "field": None}} if code else {"detail": "upstream down"}
    return httpx.Response(503, json=body, headers={"Retry-After": retry_after} if retry_after else {})


# --- catalog, judging ----------------------------------------------------------------------------

def test_catalog_methods(client):
    assert client.health() == {"status": "ok"}
    judges = {j.name: j for j in client.judges()}
    assert judges["longer"].in_default_panel and judges["longer"].provider == "scripted"
    assert not judges["first"].in_default_panel
    summaries = {r.name: r for r in client.rubrics()}
    assert "pairwise" in summaries["helpfulness"].modes
    versions = client.rubric("helpfulness")
    assert versions[-1].version == summaries["helpfulness"].latest_version and len(versions[-1].hash) == 64
    assert versions[-1].criteria and versions[-1].criteria[0].anchors

    rubric = versions[-1].content | {"name": "client_test", "version": 1}
    added = client.add_rubric(rubric)
    assert (added.name, added.version) == ("client_test", 1)
    assert client.add_rubric(rubric).hash == added.hash  # the same content again is a no-op
    client.judge(rubric="client_test@1", prompt="Hi?", response="Hello.")  # a used version is immutable
    with pytest.raises(Conflict) as err:
        client.add_rubric(rubric | {"description": "changed after use"})
    assert err.value.status == 409 and "version 2" in err.value.message


def test_judge_and_compare_round_trip(client):
    j = client.judge(rubric="helpfulness", prompt="What is the capital of France?", response="Paris.",
                     judges=["lengthy-scorer"])
    assert isinstance(j, Judgment) and j.rubric.name == "helpfulness"
    assert j.score is not None and j.judges[0].judge == "lengthy-scorer" and j.judges[0].usage.input_tokens > 0
    assert client.get_judgment(j.id).model_dump() == j.model_dump()

    msgs = [{"role": "user", "content": "Hi"}, judge_client.Message(role="assistant", content="Hello!"),
            {"role": "user", "content": "Capital of France?"}]
    assert client.judge(rubric="helpfulness", messages=msgs, response="Paris.").score is not None

    c = client.compare(rubric="helpfulness", prompt="Capital of France?", response_a="Paris.",
                       response_b="The capital of France is Paris, its largest city.", judges=["longer"])
    assert isinstance(c, Comparison) and c.winner == "B" and c.consistent is True and c.prob_a < 0.5
    assert {o.order for o in c.orders} == {"AB", "BA"}
    assert client.get_comparison(c.id).winner == "B"


def test_errors_map_to_classes_with_field(client):
    with pytest.raises(NotFound) as err:
        client.judge(rubric="no-such-rubric", prompt="x", response="y")
    assert (err.value.status, err.value.code, err.value.field) == (404, "not_found", "rubric")
    assert "GET /v1/rubrics" in err.value.message  # the service's advice travels unchanged

    with pytest.raises(InvalidInput) as err:
        client.judge(rubric="helpfulness", prompt="x", response="   ")
    assert (err.value.status, err.value.field) == (422, "response")

    with pytest.raises(InvalidInput) as err:
        client.judge(rubric="helpfulness", prompt="x", messages=[{"role": "user", "content": "y"}], response="z")
    assert err.value.field in ("prompt", "messages") and "exactly one" in err.value.message

    with pytest.raises(NotFound):
        client.get_comparison("cmp_missing")
    with pytest.raises(InvalidInput) as err:
        client.create_run(items(2), baseline="base", candidate="base", rubric="helpfulness")
    assert err.value.field == "candidate"
    assert isinstance(err.value, JudgeServiceError) and "422" in str(err.value)


def test_payload_too_large_is_an_invalid_input(make_settings):
    with serve(create_app(make_settings(max_text_chars=50))) as url, JudgeClient(url) as c:
        with pytest.raises(PayloadTooLarge) as err:
            c.judge(rubric="helpfulness", prompt="x", response="y" * 51)
    assert isinstance(err.value, InvalidInput) and err.value.status == 413 and err.value.field == "response"


def test_api_key_is_sent_as_bearer_and_never_shown(make_settings):
    app = create_app(make_settings(auth_enabled=True))
    key = KeyStore(app.state.ctx.db).create("client-test", "write").key
    with serve(app) as url:
        with JudgeClient(url, api_key=key) as c:
            assert c.judges()[0].name == "longer"
            assert key not in repr(c)
        with JudgeClient(url, api_key="jsk_wrong") as c, pytest.raises(Unauthorized) as err:
            c.judges()
        assert err.value.status == 401 and "jsk_wrong" not in str(err.value)
        with JudgeClient(url) as c, pytest.raises(Unauthorized):
            c.judges()


# --- runs ----------------------------------------------------------------------------------------

def test_run_from_jsonl_file_to_report(client, tmp_path):
    path = tmp_path / "outputs.jsonl"
    path.write_text("\n".join(json.dumps(i) for i in items(12)))
    seen = []
    report = client.evaluate(path, rubric="helpfulness", judges=["longer"], poll_interval=0.05, progress=seen.append,
                             **SYSTEMS)
    assert isinstance(report, RunReport) and report.complete and report.progress.done == 12
    assert report.verdict and report.verdict.startswith("candidate beats baseline")
    assert report.pairwise.wins == 12 and report.pairwise.win_rate.n == 12
    headline = report.headline
    assert headline is not None and headline.ci_low - 1e-6 <= headline.estimate <= headline.ci_high + 1e-6
    assert seen and seen[-1].finished and seen[-1].id == report.run_id
    assert [i.id for i in client.run_items(report.run_id)] == [f"q{i}" for i in range(12)]
    assert client.run_status(report.run_id).status == "done"
    raw = httpx.get(f"{client.base_url}/v1/runs/{report.run_id}/report").json()
    assert report.model_dump(exclude_unset=True).keys() == raw.keys()  # nothing dropped on the way


def test_runs_from_csv_wide_rows_and_dataframes(client, tmp_path):
    csv_path = tmp_path / "outputs.csv"
    csv_path.write_text("id,prompt,base,tuned\nq1,Why?,Because.,Because of a longer reason.\n")
    created = client.upload_run(csv_path, rubric="helpfulness", mode="absolute", judges=["lengthy-scorer"], **SYSTEMS)
    assert client.wait_for_run(created.id, poll_interval=0.05).progress.done == 1

    wide = [{"id": 1, "prompt": "Q?", "base": "A.", "tuned": "A longer answer.", "reference": None}]
    created = client.create_run(wide, rubric="helpfulness", **SYSTEMS)
    assert client.wait_for_run(created.id, poll_interval=0.05).status == "done"
    assert client.run_items(created.id)[0].id == "1"

    class Frame:  # what pandas.DataFrame offers: to_dict("records"), NaN where a cell is empty
        def to_dict(self, orient):
            assert orient == "records"
            return [{"id": "f1", "prompt": "Q?", "reference": float("nan"), "base": "A.", "tuned": "A longer one."},
                    {"id": "f2", "prompt": "R?", "reference": float("nan"), "base": "B.", "tuned": "B, longer."}]

    report = client.evaluate(Frame(), rubric="helpfulness", poll_interval=0.05, progress=False, **SYSTEMS)
    assert report.n_items == 2 and report.pairwise.wins == 2


def test_wait_for_run_times_out_while_the_run_goes_on(client):
    created = client.create_run(items(300), rubric="helpfulness", mode="both", judges=["longer", "first"], **SYSTEMS)
    with pytest.raises(WaitTimeout) as err:
        client.wait_for_run(created.id, timeout=0)
    assert isinstance(err.value, TimeoutError) and err.value.run_id == created.id
    with pytest.raises(NotFound):
        client.wait_for_run("run_missing")


# --- statistics and metrics ----------------------------------------------------------------------

def test_agreement(client):
    result = client.agreement(kind="ordinal", a=[1, 2, 3, 4, 5, 4], b=[1, 2, 3, 5, 5, 4], labels=[1, 2, 3, 4, 5],
                              n_resamples=200)
    assert result.scores.n == 6 and result.scores.spearman.estimate > 0.8
    assert result.scores.spearman.ci_low is not None
    votes = client.agreement(kind="pairwise", a=["A", "B", "tie", "A"], b=["A", "B", "A", "A"], n_resamples=200)
    assert votes.pairwise.accuracy.estimate == pytest.approx(0.75)
    with pytest.raises(InvalidInput) as err:
        client.agreement(kind="ordinal", a=[1, 2], b=[1, 2])
    assert err.value.field == "labels"


def test_overlap_and_perplexity(client):
    overlap = client.overlap(["the cat sat", "a bird"], ["the cat sat", "the dog"], metrics=["exact_match"],
                             predictions_b=["the cat sat", "the dog"], n_resamples=200)
    assert overlap.n == 2 and overlap.metrics["exact_match"].score == pytest.approx(0.5)
    assert overlap.paired["exact_match"].difference == pytest.approx(0.5)
    with pytest.raises(InvalidInput) as err:
        client.overlap(["x"], ["y"], metrics=["no-such-metric"])
    assert err.value.field == "metrics"

    # Validated before any model loads: the method reaches the real endpoint and maps its refusal.
    with pytest.raises(InvalidInput) as err:
        client.perplexity(["some text"], model="smollm2-135m-instruct", base_model="a", tuned_model="b")
    assert err.value.field == "model"


def ratings_rows(n: int = 12) -> list[dict]:
    """Long rows, one per item and rater: humans give more points to longer answers."""
    return [{"id": f"r{i}", "prompt": f"Question {i}?", "response": "word " * (i + 1), "rater": rater,
             "rating": min(10, 1 + i // 2 + (rater == "bob"))} for i in range(n) for rater in ("ann", "bob")]


def test_rating_sets_and_calibration(client, tmp_path):
    rating_set = client.create_rating_set(ratings_rows(), name="humans", rubric="helpfulness")
    assert rating_set.id.startswith("rs_") and rating_set.n_items == 12 and rating_set.raters == ["ann", "bob"]
    assert client.create_rating_set(ratings_rows(), name="humans", rubric="helpfulness").id == rating_set.id
    assert client.get_rating_set(rating_set.id).hash == rating_set.hash

    canonical = [{"id": "c1", "prompt": "Q?", "response": "A.", "ratings": {"ann": 3, "bob": 4}},
                 {"id": "c2", "prompt": "R?", "response": "B.", "ratings": {"ann": 5}}]
    assert client.create_rating_set(canonical, name="canonical").n_items == 2
    csv_path = tmp_path / "ratings.csv"
    csv_path.write_text("id,prompt,response,ann,bob\nc1,Q?,A.,3,4\nc2,R?,B.,5,\n")
    assert client.create_rating_set(csv_path, name="from-csv").raters == ["ann", "bob"]

    class Frame:  # a DataFrame stand-in: wide rows, NaN where a rater gave no rating
        def to_dict(self, orient):
            return [{"id": "d1", "prompt": "Q?", "response": "A.", "ann": 3.0, "bob": float("nan")},
                    {"id": "d2", "prompt": "R?", "response": "B.", "ann": 4.0, "bob": 5.0}]

    assert client.create_rating_set(Frame(), name="frame").n_items == 2

    created = client.create_calibration(rating_set=rating_set.id, judges=["lengthy-scorer"], folds=3)
    calibration = client.wait_for_calibration(created.id, poll_interval=0.05, timeout=60)
    assert calibration.status == "done" and calibration.judges == ["lengthy-scorer"]
    assert calibration.report["judge_vs_human"]["spearman"]["estimate"] > 0.9 and calibration.mapping
    graded = client.judge(rubric="helpfulness", prompt="Q?", response="word word word", judges=["lengthy-scorer"],
                          calibration=calibration.id)
    assert graded.calibrated_score is not None and graded.calibration_id == calibration.id

    with pytest.raises(NotFound) as err:
        client.create_calibration(rating_set="rs_missing", rubric="helpfulness")
    assert err.value.field == "rating_set"
    with pytest.raises(InvalidInput) as err:
        client.create_calibration(rating_set=rating_set.id, folds=10)
    assert err.value.field == "folds"
    with pytest.raises(NotFound):
        client.get_calibration("cal_missing")
    with pytest.raises(InvalidInput) as err:
        client.create_rating_set([{"id": "x", "prompt": "Q?", "response": "A.", "ratings": {"ann": "good"}}], name="bad")
    assert err.value.field == "items.0.ratings.ann"


# --- retries -------------------------------------------------------------------------------------

def test_retries_connection_errors_then_succeeds(base_url):
    flaky = Flaky(2, error=httpx.ConnectError("connection refused (injected)"))
    with JudgeClient(base_url, transport=flaky, max_retries=3, **FAST) as c:
        assert c.health() == {"status": "ok"}
    assert flaky.attempts == 3


def test_retry_is_bounded_and_raises_connection_error():
    with socket.socket() as s:  # a port nobody listens on: real refused connections
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with JudgeClient(f"http://127.0.0.1:{port}", max_retries=2, **FAST) as c, pytest.raises(APIConnectionError) as err:
        c.health()
    assert err.value.status is None and isinstance(err.value.__cause__, httpx.ConnectError)
    assert "judge serve" in err.value.message


def test_retries_503_honouring_retry_after_but_not_missing_extra(base_url):
    flaky = Flaky(2, response=unavailable(retry_after="0"))
    with JudgeClient(base_url, transport=flaky, **FAST) as c:
        assert c.rubrics()
    assert flaky.attempts == 3

    flaky = Flaky(5, response=unavailable(retry_after="0"))
    with JudgeClient(base_url, transport=flaky, max_retries=1, **FAST) as c, pytest.raises(JudgeServiceError) as err:
        c.rubrics()
    assert flaky.attempts == 2 and err.value.status == 503 and "upstream down" in err.value.message

    flaky = Flaky(1, response=unavailable(code="missing_extra"))
    with JudgeClient(base_url, transport=flaky, **FAST) as c, pytest.raises(MissingExtra):
        c.rubrics()
    assert flaky.attempts == 1  # waiting does not install a package


def test_client_errors_are_not_retried(base_url):
    flaky = Flaky(0)
    with JudgeClient(base_url, transport=flaky, **FAST) as c:
        with pytest.raises(NotFound):
            c.get_judgment("jdg_missing")
        with pytest.raises(InvalidInput):
            c.judge(rubric="helpfulness", prompt="x", response=" ")
    assert flaky.attempts == 2  # one request per call, none repeated


def test_an_answer_the_client_cannot_read_is_a_typed_error(base_url):
    portal = Flaky(1, response=httpx.Response(200, text="<html>please log in to the wifi</html>"))
    with JudgeClient(base_url, transport=portal, **FAST) as c:
        with pytest.raises(judge_client.APIResponseValidationError) as err:
            c.judges()
        assert err.value.status == 200 and "cannot read" in err.value.message
        assert c.judges()  # the next answer, from the service itself, reads fine


def test_rate_limited_waits_retry_after_from_the_real_limiter(make_settings):
    app = create_app(make_settings(rate_limit_per_minute=120, rate_limit_burst=1))
    with serve(app) as url:
        with JudgeClient(url, max_retries=0) as c:
            c.judges()
            with pytest.raises(RateLimited) as err:
                c.judges()
            assert err.value.status == 429 and err.value.retry_after >= 1
        with JudgeClient(url, max_retries=2) as c:
            start = time.monotonic()
            c.judges()
            c.judges()  # refused once, then sent again after Retry-After
            assert time.monotonic() - start >= 0.9


# --- the async client ----------------------------------------------------------------------------

@asynccontextmanager
async def in_process(app, transport_wrapper=None):
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app, raise_app_exceptions=False)
        transport = transport_wrapper(transport) if transport_wrapper else transport
        async with AsyncJudgeClient("http://judge.test", transport=transport, **FAST) as c:
            yield c, transport


def test_async_client_same_flows(make_settings, tmp_path):
    path = tmp_path / "outputs.jsonl"
    path.write_text("\n".join(json.dumps(i) for i in items(12)))

    async def main() -> None:
        async with in_process(create_app(make_settings())) as (c, _):
            assert await c.health() == {"status": "ok"}
            assert "longer" in [j.name for j in await c.judges()]
            assert "helpfulness" in [r.name for r in await c.rubrics()]
            version = (await c.rubric("helpfulness"))[-1]
            assert (await c.add_rubric(version.content | {"name": "async_test", "version": 1})).version == 1
            j = await c.judge(rubric="helpfulness", prompt="Capital?", response="Paris.")
            assert (await c.get_judgment(j.id)).id == j.id
            cmp = await c.compare(rubric="helpfulness", prompt="Capital?", response_a="Paris, the capital.",
                                  response_b="Paris.", judges=["longer"])
            assert cmp.winner == "A" and (await c.get_comparison(cmp.id)).winner == "A"
            created = await c.create_run(items(4), rubric="helpfulness", **SYSTEMS)
            assert (await c.wait_for_run(created.id, poll_interval=0.02)).progress.done == 4
            assert len(await c.run_items(created.id)) == 4
            assert (await c.run_report(created.id)).pairwise.wins == 4
            uploaded = await c.upload_run(path, rubric="helpfulness", **SYSTEMS)
            assert (await c.run_status(uploaded.id)).id == uploaded.id
            report = await c.evaluate(path, rubric="helpfulness", poll_interval=0.02, progress=False, **SYSTEMS)
            assert report.verdict.startswith("candidate beats baseline") and report.n_items == 12
            agreement = await c.agreement(kind="interval", a=[1.0, 2.0, 3.5], b=[1.2, 2.1, 3.0], n_resamples=200)
            assert agreement.scores.pearson.estimate > 0.9
            rating_set = await c.create_rating_set(ratings_rows(), name="humans", rubric="helpfulness")
            assert (await c.get_rating_set(rating_set.id)).n_items == 12
            created_cal = await c.create_calibration(rating_set=rating_set.id, judges=["lengthy-scorer"], folds=3)
            calibration = await c.wait_for_calibration(created_cal.id, poll_interval=0.05, timeout=60)
            assert calibration.status == "done" and (await c.get_calibration(calibration.id)).mapping
            with pytest.raises(NotFound) as err:
                await c.judge(rubric="nope", prompt="x", response="y")
            assert err.value.field == "rubric"
            with pytest.raises(WaitTimeout):
                big = await c.create_run(items(300), rubric="helpfulness", judges=["longer", "first"], **SYSTEMS)
                await c.wait_for_run(big.id, timeout=0)

    asyncio.run(main())


def test_async_client_metrics(make_settings):
    async def main() -> None:
        async with in_process(create_app(make_settings())) as (c, _):
            assert (await c.overlap(["a b"], ["a b"], metrics=["exact_match"])).metrics["exact_match"].score == 1
            with pytest.raises(InvalidInput):
                await c.perplexity(["x"], model="m", base_model="a", tuned_model="b")

    asyncio.run(main())


def test_async_client_retries_connection_errors(make_settings):
    async def main() -> int:
        async with in_process(create_app(make_settings()), lambda t: AsyncFlaky(t, fail=2)) as (c, transport):
            assert await c.health() == {"status": "ok"}
            return transport.attempts

    assert asyncio.run(main()) == 3


def test_sync_and_async_clients_have_the_same_surface():
    def surface(cls):
        return {name: inspect.signature(fn) for name, fn in inspect.getmembers(cls, inspect.isfunction)
                if not name.startswith("_")}

    sync, async_ = surface(JudgeClient), surface(AsyncJudgeClient)
    assert set(sync) <= set(async_)
    for name, sig in sync.items():
        assert sig == async_[name], name
        assert inspect.iscoroutinefunction(getattr(AsyncJudgeClient, name)), name
    wanted = {"health", "judges", "rubrics", "rubric", "add_rubric", "judge", "compare", "get_judgment",
              "get_comparison", "create_run", "upload_run", "run_status", "run_items", "run_report", "wait_for_run",
              "evaluate", "agreement", "overlap", "perplexity", "create_rating_set", "get_rating_set",
              "create_calibration", "get_calibration", "wait_for_calibration"}
    assert wanted <= set(sync)


# --- the client's models against the service's contract -------------------------------------------

CONTRACT = {  # service schema name -> client model
    "JudgmentResponse": judge_client.Judgment, "ComparisonResponse": judge_client.Comparison,
    "JudgeScore": judge_client.JudgeScore, "OrderOut": judge_client.OrderVerdict,
    "JudgeVerdict": judge_client.JudgeVerdict, "Panel": judge_client.Panel, "RubricRef": judge_client.RubricRef,
    "RunStatus": judge_client.RunStatus, "Progress": judge_client.RunProgress, "JudgeOut": judge_client.JudgeInfo,
    "RubricSummary": judge_client.RubricSummary, "RubricVersionOut": judge_client.RubricVersion,
    "AgreementResponse": judge_client.Agreement, "OverlapResponse": judge_client.Overlap,
    "PerplexityResponse": judge_client.Perplexity, "RatingSetOut": judge_client.RatingSet,
    "RunCost": judge_client.RunCost, "CostSummary": judge_client.CostSummary,
}


def test_client_models_cover_the_service_openapi_schema(client):
    schemas = httpx.get(f"{client.base_url}/openapi.json").json()["components"]["schemas"]
    for name, model in CONTRACT.items():
        assert name in schemas, f"the service no longer publishes {name}; update CONTRACT"
        schema = schemas[name]
        missing = set(schema.get("required", [])) - set(model.model_fields)
        assert not missing, f"{model.__name__} lacks required field(s) {missing} of the service's {name}"
        assert model.model_config.get("extra") == "allow"  # a newer service's extra fields still parse
