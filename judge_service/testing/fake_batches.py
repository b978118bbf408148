"""The batch half of the fake judge: OpenAI Files + Batch and Anthropic Message Batches, in memory.

Wire formats follow the official SDKs' own types (``openai.types.Batch`` / ``FileObject``,
``anthropic.types.messages.MessageBatch`` / ``MessageBatchIndividualResponse``):

OpenAI: ``POST /v1/files`` (multipart, ``purpose=batch``), ``GET /v1/files/{id}/content``,
``POST /v1/batches`` (``input_file_id``, ``endpoint``, ``completion_window``), ``GET
/v1/batches/{id}``, ``POST /v1/batches/{id}/cancel``. Input lines are ``{"custom_id", "method",
"url", "body"}``; the output file has ``{"id", "custom_id", "response": {"status_code": 200,
"request_id", "body"}, "error": null}`` per success; the error file has failed requests (a
non-200 ``response``) and expired ones (``"error": {"code": "batch_expired", ...}``).

Anthropic: ``POST /v1/messages/batches`` (``requests: [{custom_id, params}]``), ``GET
/v1/messages/batches/{id}`` (``processing_status`` in_progress | canceling | ended,
``request_counts``, ``results_url`` once ended), ``POST .../cancel``, ``GET .../results`` (JSONL of
``{"custom_id", "result": {"type": "succeeded" | "errored" | "expired" | "canceled", ...}}``).

Scripting (``server.batches``): ``delay_s`` (creation to end), ``enqueue("ok" | "expire" |
"fail", ...)`` for the next batches' fates ("expire": the first half of the requests are answered,
the rest expire; "fail": OpenAI's validation failure, Anthropic's every request errored). Inside a
batch each request takes the server's usual fault (``server.faults`` / ``server.enqueue``):
a retryable fault becomes an errored request, ``garbage`` / ``refusal`` a 200 with no verdict.
``created`` and ``requests`` count what was submitted, for tests that check nothing is sent twice.
"""

from __future__ import annotations

import collections
import hashlib
import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.parser import BytesParser
from email.policy import HTTP
from typing import TYPE_CHECKING, Any

from judge_service.testing.fake_wire import _error_body

if TYPE_CHECKING:
    from judge_service.testing.fake_server import FakeJudgeServer

BATCH_FATES = ("ok", "expire", "fail")
EXPIRED_MESSAGE = "This request could not be executed before the completion window expired."


@dataclass
class _Result:
    custom_id: str
    status: int  # 200, or the HTTP status the request failed with
    body: dict[str, Any]  # the reply (chat.completion / message) or the error body


@dataclass
class FakeBatch:
    id: str
    flavour: str  # "openai" | "anthropic"
    created: float
    ends_at: float
    fate: str
    results: list[_Result]
    input_file_id: str | None = None
    endpoint: str = "/v1/chat/completions"
    metadata: dict[str, Any] | None = None
    cancelled_at: float | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    retrievals: int = 0

    def ended(self, now: float) -> bool:
        return self.cancelled_at is not None or now >= self.ends_at or self.fate == "fail"

    def answered(self) -> list[_Result]:
        """The results that were processed before the batch ended (expiry/cancel cut the rest)."""
        if self.cancelled_at is not None:
            return []
        if self.fate == "expire":
            return self.results[: len(self.results) // 2]
        return self.results

    def unanswered(self) -> list[_Result]:
        return self.results[len(self.answered()):]


@dataclass
class FakeBatches:
    server: FakeJudgeServer
    delay_s: float = 0.0
    files: dict[str, bytes] = field(default_factory=dict)
    batches: dict[str, FakeBatch] = field(default_factory=dict)
    created: int = 0  # batches submitted
    requests: int = 0  # requests inside them (each a paid call at a real provider)
    cancelled: int = 0
    _script: collections.deque[str] = field(default_factory=collections.deque)
    _ids: int = 0

    def enqueue(self, *fates: str) -> None:
        for fate in fates:
            if fate not in BATCH_FATES:
                raise ValueError(f"unknown batch fate {fate!r}; use one of {BATCH_FATES}")
        self._script.extend(fates)

    def snapshot(self) -> dict[str, Any]:
        return {"created": self.created, "requests": self.requests, "cancelled": self.cancelled,
                "delay_s": self.delay_s}

    def _next_id(self, prefix: str) -> str:
        self._ids += 1
        return f"{prefix}{self._ids:08d}"

    # -- routing ----------------------------------------------------------------------------

    def route(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, bytes, str] | None:
        """(status, body, content type) for a batch endpoint, or None when ``path`` is not one."""
        parts = path.strip("/").split("/")
        if parts[:2] == ["v1", "files"]:
            if method == "POST" and len(parts) == 2:
                return self._upload(headers, raw)
            if method == "GET" and len(parts) == 4 and parts[3] == "content":
                content = self.files.get(parts[2])
                if content is None:
                    return self._not_found("openai", f"No such File object: {parts[2]}")
                return 200, content, "application/octet-stream"
            return None
        if parts[:2] == ["v1", "batches"]:
            if method == "POST" and len(parts) == 2:
                return self._openai_create(raw)
            batch = self.batches.get(parts[2]) if len(parts) >= 3 else None
            if batch is None or batch.flavour != "openai":
                return self._not_found("openai", f"No batch found with id '{parts[2] if len(parts) > 2 else ''}'.")
            if method == "GET" and len(parts) == 3:
                return self._json(self._openai_view(batch))
            if method == "POST" and parts[3:] == ["cancel"]:
                self._cancel(batch)
                return self._json(self._openai_view(batch))
            return None
        if parts[:3] == ["v1", "messages", "batches"]:
            if method == "POST" and len(parts) == 3:
                return self._anthropic_create(raw)
            batch = self.batches.get(parts[3]) if len(parts) >= 4 else None
            if batch is None or batch.flavour != "anthropic":
                return self._not_found("anthropic", "message batch not found")
            if method == "GET" and len(parts) == 4:
                return self._json(self._anthropic_view(batch))
            if method == "POST" and parts[4:] == ["cancel"]:
                self._cancel(batch)
                return self._json(self._anthropic_view(batch))
            if method == "GET" and parts[4:] == ["results"]:
                if not batch.ended(time.time()):
                    return 400, json.dumps(_error_body("anthropic", "invalid_request_error",
                                                       "batch is still processing")).encode(), "application/json"
                return 200, self._anthropic_results(batch), "application/binary"
            return None
        return None

    @staticmethod
    def _json(body: dict[str, Any], status: int = 200) -> tuple[int, bytes, str]:
        return status, json.dumps(body).encode(), "application/json"

    def _not_found(self, flavour: str, message: str) -> tuple[int, bytes, str]:
        return self._json(_error_body(flavour, "not_found_error", message), 404)

    def _bad(self, flavour: str, message: str) -> tuple[int, bytes, str]:
        return self._json(_error_body(flavour, "invalid_request_error", message), 400)

    # -- answering --------------------------------------------------------------------------

    def _result(self, flavour: str, custom_id: str, body: dict[str, Any]) -> _Result:
        server = self.server
        digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        fault = server._next_fault(digest)
        if fault in ("garbage", "refusal"):
            text = "Hmm, both have merits." if fault == "garbage" else "I'm sorry, but I can't help with that."
            reply = server._openai_text(text, fault == "refusal") if flavour == "openai" else server._anthropic_text(text)
            return _Result(custom_id, 200, reply)
        if fault is not None:
            return _Result(custom_id, 500, _error_body(flavour, "api_error", "The server had an error processing your request."))
        return _Result(custom_id, 200, server._openai(body) if flavour == "openai" else server._anthropic(body))

    def _new_batch(self, flavour: str, results: list[_Result]) -> FakeBatch:
        now = time.time()
        fate = self._script.popleft() if self._script else "ok"
        batch = FakeBatch(self._next_id("batch_" if flavour == "openai" else "msgbatch_"), flavour, now,
                          now + self.delay_s, fate, results)
        self.batches[batch.id] = batch
        self.created += 1
        self.requests += len(results)
        return batch

    def _cancel(self, batch: FakeBatch) -> None:
        if not batch.ended(time.time()):
            batch.cancelled_at = time.time()
            self.cancelled += 1

    # -- OpenAI -----------------------------------------------------------------------------

    def _upload(self, headers: dict[str, str], raw: bytes) -> tuple[int, bytes, str]:
        content_type = headers.get("content-type", "")
        if "multipart/form-data" not in content_type:
            return self._bad("openai", "files must be uploaded as multipart/form-data")
        message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + raw)
        fields: dict[str, tuple[str | None, bytes]] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            fields[str(name)] = (part.get_filename(), payload if isinstance(payload, bytes) else b"")
        if "file" not in fields:
            return self._bad("openai", "missing required parameter: 'file'")
        purpose = fields.get("purpose", (None, b""))[1].decode()
        file_id = self._next_id("file-")
        filename, content = fields["file"]
        self.files[file_id] = content
        return self._json({"id": file_id, "object": "file", "bytes": len(content), "created_at": int(time.time()),
                           "filename": filename or "upload", "purpose": purpose or "batch", "status": "processed"})

    def _openai_create(self, raw: bytes) -> tuple[int, bytes, str]:
        body = json.loads(raw or b"{}")
        file_id = body.get("input_file_id")
        content = self.files.get(str(file_id))
        if content is None:
            return self._bad("openai", f"input_file_id '{file_id}' does not exist")
        endpoint = body.get("endpoint", "/v1/chat/completions")
        if endpoint != "/v1/chat/completions":
            return self._bad("openai", f"the fake judge batches only /v1/chat/completions, not {endpoint}")
        results: list[_Result] = []
        seen: set[str] = set()
        for n, line in enumerate(content.decode().splitlines(), 1):
            if not line.strip():
                return self._bad("openai", f"line {n} of the input file is blank")
            req = json.loads(line)
            custom_id = str(req.get("custom_id"))
            if custom_id in seen:
                return self._bad("openai", f"line {n}: duplicate custom_id '{custom_id}'")
            seen.add(custom_id)
            results.append(self._result("openai", custom_id, req.get("body") or {}))
        batch = self._new_batch("openai", results)
        batch.input_file_id, batch.endpoint, batch.metadata = str(file_id), endpoint, body.get("metadata")
        return self._json(self._openai_view(batch))

    def _openai_files(self, batch: FakeBatch) -> None:
        """Write the output and error files once, when the batch has ended."""
        if batch.output_file_id is not None or batch.error_file_id is not None:
            return
        out: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        for r in batch.answered():
            line = {"id": self._next_id("batch_req_"), "custom_id": r.custom_id,
                    "response": {"status_code": r.status, "request_id": self._next_id("req_"), "body": r.body},
                    "error": None}
            (out if r.status == 200 else errors).append(line)
        for r in batch.unanswered():
            code = "batch_cancelled" if batch.cancelled_at is not None else "batch_expired"
            message = "This request was cancelled." if batch.cancelled_at is not None else EXPIRED_MESSAGE
            errors.append({"id": self._next_id("batch_req_"), "custom_id": r.custom_id, "response": None,
                           "error": {"code": code, "message": message}})
        if out:
            batch.output_file_id = self._next_id("file-")
            self.files[batch.output_file_id] = "".join(json.dumps(x) + "\n" for x in out).encode()
        if errors:
            batch.error_file_id = self._next_id("file-")
            self.files[batch.error_file_id] = "".join(json.dumps(x) + "\n" for x in errors).encode()

    def _openai_view(self, batch: FakeBatch) -> dict[str, Any]:
        now = time.time()
        ended = batch.ended(now)
        total = len(batch.results)
        view: dict[str, Any] = {
            "id": batch.id, "object": "batch", "endpoint": batch.endpoint, "errors": None,
            "input_file_id": batch.input_file_id or "", "completion_window": "24h", "status": "in_progress",
            "output_file_id": None, "error_file_id": None, "created_at": int(batch.created),
            "in_progress_at": int(batch.created), "expires_at": int(batch.created) + 86400,
            "request_counts": {"total": total, "completed": 0, "failed": 0}, "metadata": batch.metadata,
        }
        if not ended:
            return view
        at = int(batch.cancelled_at or batch.ends_at)
        if batch.fate == "fail" and batch.cancelled_at is None:
            view.update(status="failed", failed_at=at, request_counts={"total": total, "completed": 0, "failed": 0},
                        errors={"object": "list", "data": [{"code": "invalid_request", "message": "the fake judge was told to fail this batch",
                                                            "param": None, "line": None}]})
            return view
        self._openai_files(batch)
        answered = batch.answered()
        ok = sum(1 for r in answered if r.status == 200)
        view.update(output_file_id=batch.output_file_id, error_file_id=batch.error_file_id,
                    request_counts={"total": total, "completed": ok, "failed": total - ok})
        if batch.cancelled_at is not None:
            view.update(status="cancelled", cancelling_at=at, cancelled_at=at)
        elif batch.fate == "expire":
            view.update(status="expired", expired_at=at)
        else:
            view.update(status="completed", finalizing_at=at, completed_at=at)
        return view

    # -- Anthropic --------------------------------------------------------------------------

    def _anthropic_create(self, raw: bytes) -> tuple[int, bytes, str]:
        body = json.loads(raw or b"{}")
        requests = body.get("requests")
        if not isinstance(requests, list) or not requests:
            return self._bad("anthropic", "requests: a batch needs at least one request")
        results = []
        seen: set[str] = set()
        for i, req in enumerate(requests):
            custom_id = str(req.get("custom_id"))
            if custom_id in seen:
                return self._bad("anthropic", f"requests.{i}.custom_id: duplicate custom_id '{custom_id}'")
            if not (1 <= len(custom_id) <= 64):
                return self._bad("anthropic", f"requests.{i}.custom_id: must be 1 to 64 characters")
            seen.add(custom_id)
            results.append(self._result("anthropic", custom_id, req.get("params") or {}))
        return self._json(self._anthropic_view(self._new_batch("anthropic", results)))

    def _anthropic_view(self, batch: FakeBatch) -> dict[str, Any]:
        now = time.time()
        ended = batch.ended(now)
        counts = {"processing": len(batch.results), "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
        if ended:
            kinds = collections.Counter(self._anthropic_result(batch, r)["type"] for r in batch.results)
            counts = {"processing": 0} | {k: kinds.get(k, 0) for k in ("succeeded", "errored", "canceled", "expired")}
        return {
            "id": batch.id, "type": "message_batch", "processing_status": "ended" if ended else "in_progress",
            "request_counts": counts, "created_at": self._iso(batch.created), "expires_at": self._iso(batch.created + 86400),
            "ended_at": self._iso(batch.cancelled_at or batch.ends_at) if ended else None,
            "cancel_initiated_at": self._iso(batch.cancelled_at) if batch.cancelled_at else None, "archived_at": None,
            "results_url": f"{self.server.base_url}/v1/messages/batches/{batch.id}/results" if ended else None,
        }

    @staticmethod
    def _iso(t: float) -> str:
        return datetime.fromtimestamp(t, timezone.utc).isoformat().replace("+00:00", "Z")

    def _anthropic_result(self, batch: FakeBatch, r: _Result) -> dict[str, Any]:
        if batch.cancelled_at is not None:
            return {"type": "canceled"}
        if batch.fate == "fail":
            return {"type": "errored", "error": {"type": "error", "error": {"type": "api_error", "message": "batch failed"}}}
        if r in batch.unanswered():
            return {"type": "expired"}
        if r.status != 200:
            return {"type": "errored", "error": {"type": "error", "error": r.body.get("error", {}), "request_id": None}}
        return {"type": "succeeded", "message": r.body}

    def _anthropic_results(self, batch: FakeBatch) -> bytes:
        return "".join(json.dumps({"custom_id": r.custom_id, "result": self._anthropic_result(batch, r)}) + "\n"
                       for r in batch.results).encode()
