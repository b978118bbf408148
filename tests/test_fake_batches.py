"""The fake judge server's batch APIs through the official SDKs: what users' CI can script."""

from __future__ import annotations

import asyncio
import json

import anthropic
import httpx
import openai
import pytest

from judge_service.testing.fake_server import FakeJudgeServer

KEY = "sk-test-fake-batches"


@pytest.fixture
def server():
    with FakeJudgeServer("prefer_longer", api_key=KEY) as s:
        yield s


def openai_lines(n: int) -> bytes:
    prompt = "Which response is better?\n[A] short\n[B] a much longer response\nAnswer with winner: A, B or tie."
    return "".join(json.dumps({"custom_id": f"c{i}", "method": "POST", "url": "/v1/chat/completions",
                               "body": {"model": "m", "temperature": 0, "messages": [{"role": "user", "content": f"{prompt} {i}"}]}})
                   + "\n" for i in range(n)).encode()


def test_openai_batch_complete_then_expired_through_the_sdk(server):
    async def go() -> None:
        server.batches.enqueue("ok", "expire")
        server.enqueue("server_error")  # the first request inside the first batch fails
        client = openai.AsyncOpenAI(api_key=KEY, base_url=server.openai_base_url, max_retries=0)
        uploaded = await client.files.create(file=("in.jsonl", openai_lines(4), "application/jsonl"), purpose="batch")
        assert uploaded.purpose == "batch" and uploaded.bytes == len(openai_lines(4))
        batch = await client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions",
                                            completion_window="24h")
        done = await client.batches.retrieve(batch.id)
        assert done.status == "completed" and done.request_counts is not None
        assert (done.request_counts.total, done.request_counts.completed, done.request_counts.failed) == (4, 3, 1)
        out = [json.loads(x) for x in (await client.files.content(done.output_file_id)).text.splitlines()]
        assert [x["custom_id"] for x in out] == ["c1", "c2", "c3"]
        assert all(x["response"]["status_code"] == 200 and x["response"]["body"]["object"] == "chat.completion" for x in out)
        errors = [json.loads(x) for x in (await client.files.content(done.error_file_id)).text.splitlines()]
        assert errors[0]["custom_id"] == "c0" and errors[0]["response"]["status_code"] == 500

        expired = await client.batches.retrieve((await client.batches.create(
            input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h")).id)
        assert expired.status == "expired" and expired.request_counts.completed == 2
        cut = [json.loads(x) for x in (await client.files.content(expired.error_file_id)).text.splitlines()]
        assert [(x["custom_id"], x["error"]["code"]) for x in cut] == [("c2", "batch_expired"), ("c3", "batch_expired")]
        assert (server.batches.created, server.batches.requests, server.calls) == (2, 8, 0)

        with pytest.raises(openai.BadRequestError):
            await client.batches.create(input_file_id="file-nope", endpoint="/v1/chat/completions", completion_window="24h")
        with pytest.raises(openai.AuthenticationError):
            await openai.AsyncOpenAI(api_key="sk-wrong", base_url=server.openai_base_url, max_retries=0).batches.retrieve(batch.id)

    asyncio.run(go())


def test_anthropic_message_batch_in_progress_cancel_and_results_through_the_sdk(server):
    async def go() -> None:
        client = anthropic.AsyncAnthropic(api_key=KEY, base_url=server.anthropic_base_url, max_retries=0)
        requests = [{"custom_id": f"c{i}", "params": {"model": "m", "max_tokens": 50, "messages": [
            {"role": "user", "content": f"[A] short\n[B] much longer text\nAnswer with winner: A, B or tie. {i}"}]}}
            for i in range(3)]
        server.batches.delay_s = 60.0
        slow = await client.messages.batches.create(requests=requests)  # type: ignore[arg-type]
        assert slow.processing_status == "in_progress" and slow.results_url is None
        assert slow.request_counts.processing == 3
        cancelled = await client.messages.batches.cancel(slow.id)
        assert cancelled.processing_status == "ended" and cancelled.request_counts.canceled == 3
        assert [r.result.type async for r in await client.messages.batches.results(slow.id)] == ["canceled"] * 3

        server.batches.delay_s = 0.0
        server.enqueue("ok", "unavailable")
        batch = await client.messages.batches.create(requests=requests)  # type: ignore[arg-type]
        ended = await client.messages.batches.retrieve(batch.id)
        assert ended.processing_status == "ended" and ended.results_url
        assert (ended.request_counts.succeeded, ended.request_counts.errored) == (2, 1)
        results = {r.custom_id: r.result async for r in await client.messages.batches.results(batch.id)}
        assert results["c1"].type == "errored" and results["c0"].type == "succeeded"
        assert results["c0"].message.role == "assistant" and results["c0"].message.usage.input_tokens > 0  # type: ignore[union-attr]
        with pytest.raises(anthropic.BadRequestError):
            await client.messages.batches.create(requests=[requests[0], requests[0]])  # type: ignore[arg-type,list-item]

    asyncio.run(go())


def test_batches_are_scripted_from_another_process_through_the_admin_route(server):
    r = httpx.post(f"{server.base_url}/_fake/batches", json={"delay_s": 2.5, "enqueue": ["expire"]})
    assert r.status_code == 200 and r.json()["delay_s"] == 2.5 and server.batches.delay_s == 2.5
    bad = httpx.post(f"{server.base_url}/_fake/batches", json={"enqueue": ["sometimes"]})
    assert bad.status_code == 400 and "sometimes" in bad.json()["error"]["message"]
    assert httpx.get(f"{server.base_url}/_fake/stats").json()["batches"]["created"] == 0
