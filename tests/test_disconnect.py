"""A synchronous comparison whose client disconnects stops making judge calls (nobody would receive them).

A real uvicorn subprocess and the fake judge server on loopback: one judge with concurrency 1 and
0.3 s per call, a comparison needing 8 calls (2 orders x 4 samples, ~2.4 s). The client gives up
after 0.5 s. The fake server counts the requests it receives: after the disconnect at most the
call in flight (and one that was about to be sent) arrive, not the remaining six.
"""

from __future__ import annotations

import time

import httpx
import pytest
import yaml

from judge_service.testing.fake_server import FakeJudgeServer
from test_crash_resume import ServiceProcess

LATENCY_S = 0.3
CALLS_PER_COMPARISON = 8  # 2 orders x 4 samples, one judge


def body(tag: str) -> dict:
    return {"rubric": "helpfulness", "prompt": f"Question {tag}?", "response_a": f"A short answer {tag}.",
            "response_b": f"A somewhat longer answer {tag}.", "judges": ["slow"], "samples": 4, "temperature": 0.7}


@pytest.fixture
def service(tmp_path):
    with FakeJudgeServer("prefer_longer", latency_s=LATENCY_S) as fake:
        config = tmp_path / "judges.yaml"
        config.write_text(yaml.safe_dump({"judges": [{
            "name": "slow", "provider": "openai_compatible", "base_url": fake.openai_base_url, "model": "fake-judge-1",
            "family": "f1", "max_concurrency": 1, "timeout_s": 20, "max_attempts": 1}], "default_panel": ["slow"]}))
        proc = ServiceProcess(tmp_path / "data", config, env={"JUDGE_LOG_JSON": "true"})
        try:
            proc.wait_ready()
            yield proc, fake
        finally:
            proc.stop()


def test_disconnect_cancels_the_remaining_judge_calls(service):
    proc, fake = service
    # Control: a client that waits gets all 8 calls made.
    r = httpx.post(f"{proc.url}/v1/comparisons", json=body("patient"), timeout=30)
    assert r.status_code == 200, r.text
    assert fake.stats.calls == CALLS_PER_COMPARISON

    before = fake.stats.calls
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{proc.url}/v1/comparisons", json=body("impatient"), timeout=0.5)
    time.sleep(CALLS_PER_COMPARISON * LATENCY_S + 1.0)  # long enough for every remaining call, had they gone on
    made = fake.stats.calls - before
    assert 1 <= made <= 3, made  # ~0.5 s / 0.3 s started before the disconnect, plus the one in flight

    # The service is fine afterwards, and logged the cancellation with status 499.
    assert httpx.get(f"{proc.url}/healthz", timeout=5).status_code == 200
    log = proc.log_text()
    assert "client disconnected" in log and '"status": 499' in log
    assert "Traceback" not in log
