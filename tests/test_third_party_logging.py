"""Third-party loggers never bypass the service's formatter: rouge-score (absl) once added a plain stderr handler.

absl's logging calls ``logging.basicConfig()`` the first time it logs (rouge-score logs "Using default
tokenizer." per scorer) if the root logger has no handler; from then on every record of the service
was printed twice, once as plain unredacted text. Logging is process-wide, so each case runs in a
fresh interpreter with what the service sets up, and reads that process's stderr.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

SCRIPT = r"""
import logging, sys
from judge_service.observability import configure_logging
configure_logging(json_logs={json_logs}, secrets={{"sk-test-SECRET-0123456789"}})
log = logging.getLogger("judge_service.test")
log.warning("before rouge key=sk-test-SECRET-0123456789")
from judge_service.metrics.overlap import rouge_statistics
rouge_statistics(["rouge1", "rougeL"], ["the cat sat"], [["the cat sat down"]])
log.warning("after rouge key=sk-test-SECRET-0123456789")
logging.getLogger("some.library").warning("third party says sk-test-SECRET-0123456789")
print("handlers", len(logging.getLogger().handlers), file=sys.stdout)
"""


def run(json_logs: bool) -> tuple[str, str]:
    env = os.environ | {"PYTHONPATH": f"{REPO}{os.pathsep}{REPO / 'clients' / 'python'}"}
    done = subprocess.run([sys.executable, "-c", SCRIPT.format(json_logs=json_logs)], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout, done.stderr


def test_rouge_does_not_add_a_plain_handler_and_every_line_is_json_and_redacted():
    out, err = run(json_logs=True)
    assert out.strip() == "handlers 1"
    lines = [line for line in err.splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every stderr line is a JSON object: no plain duplicates
    msgs = [r["msg"] for r in records]
    assert msgs.count("before rouge key=[REDACTED]") == 1 and msgs.count("after rouge key=[REDACTED]") == 1, msgs
    assert any(r["logger"] == "some.library" and "[REDACTED]" in r["msg"] for r in records), records
    assert "SECRET" not in err


def test_plain_text_mode_is_also_unchanged_by_rouge():
    out, err = run(json_logs=False)
    assert out.strip() == "handlers 1"
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines.count("after rouge key=[REDACTED]") == 1 and lines.count("before rouge key=[REDACTED]") == 1, lines
    assert "SECRET" not in err and not any("Using default tokenizer" in line for line in lines)
