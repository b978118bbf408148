"""What the service tells its operator: a request id, JSON logs carrying it, and ``/metrics``.

- Every HTTP request gets an ``X-Request-ID``: the client's, if it sent a sane one (so a trace can
  span services), else a fresh one; it is echoed on the response and put on every log record
  emitted while the request is handled (a ``contextvars`` value, so background tasks started by
  the request inherit it).
- Logs under ``judge_service`` are written as one JSON object per line to stderr, with known
  provider keys and anything key-shaped redacted (defence in depth: providers already redact).
  The handler sits on the root logger, so third-party warnings get the same format and redaction.
  One access line per request: method, path, route, status, duration, client, key id.
- ``GET /metrics`` is the Prometheus text format (0.0.4), written by hand because
  ``prometheus_client`` is not a dependency: HTTP requests by route template and status, a
  latency histogram, judge calls by judge and outcome (ok, cached, unparseable, error) with
  tokens and cost, the retry wrapper's attempts, retries, failures and throttling per judge,
  and the judge caller's cache hits. Counters start at zero when the process starts.

Judge calls are counted from the rows the engine stores (inserts into ``judge_calls`` seen by the
database engine, counted when their transaction commits), so the metrics and the database cannot
disagree about what was called and paid.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import os
import re
import sys
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any, TextIO, cast

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import PlainTextResponse
from sqlalchemy import Insert, event
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from judge_service.context import AppContext
from judge_service.judges.secrets import redact
from judge_service.store.models import JudgeCallRow

_JUDGE_CALLS = JudgeCallRow.__tablename__

REQUEST_ID_HEADER = "X-Request-ID"
request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
# A client's id is echoed into our headers and logs: only a short, plain token is accepted.
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
_OUR_KEYS = re.compile(r"\bjsk_[A-Za-z0-9_\-]{6,}")
_DEFAULT_KEY_ENV = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}

LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})


def new_request_id(incoming: str | None) -> str:
    if incoming and _SANE_REQUEST_ID.match(incoming):
        return incoming
    return uuid.uuid4().hex


# -- logs ------------------------------------------------------------------------------------

_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("x", 0, "x", 0, "x", None, None))) | {"message", "asctime", "request_id"}


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ts, level, logger, msg, request_id, any ``extra`` fields, exc."""

    def __init__(self, secrets: set[str] | None = None) -> None:
        super().__init__()
        self.secrets = secrets if secrets is not None else set()

    def _clean(self, text: str) -> str:
        return _OUR_KEYS.sub("[REDACTED]", redact(text, tuple(self.secrets)))

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": self._clean(record.getMessage()),
            "request_id": getattr(record, "request_id", None) or request_id_var.get(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                out[key] = self._clean(value) if isinstance(value, str) else value
        if record.exc_info:
            out["exc"] = self._clean(self.formatException(record.exc_info))
        return json.dumps(out, default=str)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]  # typeshed's generic stream type
    """Writes to whatever ``sys.stderr`` is at emit time (test runners swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:  # a live property where the base class has an attribute
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


class RedactedTextFormatter(JsonFormatter):
    """Plain text (``JUDGE_LOG_JSON=false``), with the same redaction as the JSON lines."""

    def format(self, record: logging.LogRecord) -> str:
        return self._clean(logging.Formatter.format(self, record))


_handler_lock = threading.Lock()
_HANDLER: _StderrHandler | None = None


def configure_logging(*, json_logs: bool = True, level: str = "INFO", secrets: set[str] | None = None) -> None:
    """Idempotent: one redacting handler per process, on the root logger; request ids on every record.

    On the root logger, not ``judge_service``'s, so third-party records pass through the same formatter
    and redaction; and because the root then has a handler, a library that calls ``logging.basicConfig``
    on first use (absl's logging, which rouge-score uses, does) changes nothing: before, it added a
    plain stderr handler and every later record of ours was printed a second time, unredacted.
    Plain-text mode writes warnings and errors only, as Python's last-resort handler did.
    """
    global _HANDLER
    logger = logging.getLogger("judge_service")
    with _handler_lock:
        if not any(isinstance(f, RequestIdFilter) for f in logger.filters):
            logger.addFilter(RequestIdFilter())
        if logger.level == logging.NOTSET:
            logger.setLevel(level.upper())
        if _HANDLER is None:
            _HANDLER = _StderrHandler()
            _HANDLER.addFilter(RequestIdFilter())
            _HANDLER.setFormatter(RedactedTextFormatter(set()))
            _HANDLER.setLevel(logging.WARNING)
            logging.getLogger().addHandler(_HANDLER)
        formatter = cast(JsonFormatter, _HANDLER.formatter)  # set just above, to one of ours
        if json_logs and isinstance(formatter, RedactedTextFormatter):
            formatter = JsonFormatter(formatter.secrets)
            _HANDLER.setFormatter(formatter)
            _HANDLER.setLevel(logging.NOTSET)
        if secrets:
            formatter.secrets.update(s for s in secrets if len(s) >= 8)


def known_provider_secrets(ctx: AppContext) -> set[str]:
    """Values of the env vars the configured judges read their keys from (to redact from logs)."""
    out = set()
    for spec in ctx.judges.specs():
        env = spec.api_key_env or _DEFAULT_KEY_ENV.get(spec.provider)
        if env and os.environ.get(env):
            out.add(os.environ[env])
    return out


# -- metrics ---------------------------------------------------------------------------------

def _escape(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(**labels: object) -> str:
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items()) + "}" if labels else ""


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() and abs(v) < 2**53 else repr(float(v))


class Exposition:
    """Builds the text format: ``# HELP``/``# TYPE`` once per family, then its samples."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(self, name: str, kind: str, help_text: str,
               samples: Sequence[tuple[str, dict[str, str], float]]) -> None:
        self.lines.append(f"# HELP {name} {help_text}")
        self.lines.append(f"# TYPE {name} {kind}")
        for suffix, labels, value in samples:
            self.lines.append(f"{name}{suffix}{_labels(**labels)} {_num(value)}")

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


class Metrics:
    """In-process counters for one app. HTTP ones are fed by the middleware, judge ones by stored rows."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.started = time.time()
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, str, str], int] = defaultdict(int)
        # (method, route) -> [bucket counts..., +Inf count], sum
        self.latency_buckets: dict[tuple[str, str], list[int]] = {}
        self.latency_sum: dict[tuple[str, str], float] = defaultdict(float)
        self.judge_calls: dict[tuple[str, str], int] = defaultdict(int)
        self.judge_cost: dict[str, float] = defaultdict(float)
        self.judge_tokens: dict[tuple[str, str], int] = defaultdict(int)
        self._engine = ctx.db.engine
        # Engine events, not the ORM's after_insert: the request path inserts call records with Core
        # (grouped commits), and a group that rolls back is replayed, so rows count only once committed.
        self._hooks: list[tuple[str, Any]] = [("after_execute", self._on_execute), ("commit", self._on_commit),
                                              ("rollback", self._on_rollback), ("checkin", self._on_checkin)]
        for name, fn in self._hooks:
            event.listen(self._engine, name, fn)

    def close(self) -> None:
        for name, fn in self._hooks:
            if event.contains(self._engine, name, fn):
                event.remove(self._engine, name, fn)

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        method = method if method in _METHODS else "OTHER"
        with self._lock:
            self.requests[(method, route, str(status))] += 1
            buckets = self.latency_buckets.setdefault((method, route), [0] * (len(LATENCY_BUCKETS_S) + 1))
            for i, bound in enumerate(LATENCY_BUCKETS_S):
                if seconds <= bound:
                    buckets[i] += 1
            buckets[-1] += 1
            self.latency_sum[(method, route)] += seconds

    def _on_execute(self, conn: Any, clause: Any, multiparams: Any, params: Any, _options: Any, _result: Any) -> None:
        # By name: the ORM session hands the engine an annotated copy of the table.
        if not (isinstance(clause, Insert) and getattr(clause.table, "name", None) == _JUDGE_CALLS):
            return
        rows = multiparams if multiparams else [params]
        conn.info.setdefault("judge_calls_pending", []).extend(dict(r) for r in rows)

    def _on_rollback(self, conn: Any) -> None:
        conn.info.pop("judge_calls_pending", None)

    def _on_checkin(self, _dbapi_conn: Any, record: Any) -> None:
        record.info.pop("judge_calls_pending", None)  # returned without commit: the pool rolled it back

    def _on_commit(self, conn: Any) -> None:
        for row in conn.info.pop("judge_calls_pending", None) or ():
            self._count_call(row)

    def _count_call(self, row: dict[str, Any]) -> None:
        if row.get("error") and row.get("raw_text") is None:
            outcome = "error"
        elif row.get("error"):
            outcome = "unparseable"
        else:
            outcome = "cached" if row.get("cached") else "ok"
        with self._lock:
            self.judge_calls[(row["judge"], outcome)] += 1
            if not row.get("cached"):
                self.judge_cost[row["judge"]] += row.get("cost_usd") or 0.0
                self.judge_tokens[(row["judge"], "input")] += row.get("input_tokens") or 0
                self.judge_tokens[(row["judge"], "output")] += row.get("output_tokens") or 0

    def render(self) -> str:
        from judge_service import __version__

        out = Exposition()
        with self._lock:
            out.family("judge_service_info", "gauge", "Version of the running service.", [("", {"version": __version__}, 1)])
            out.family("judge_service_uptime_seconds", "gauge", "Seconds since this process's app was built.",
                       [("", {}, round(time.time() - self.started, 3))])
            out.family("judge_http_requests_total", "counter", "HTTP requests by method, route template and status.",
                       [("", {"method": m, "route": r, "status": s}, n) for (m, r, s), n in sorted(self.requests.items())])
            samples: list[tuple[str, dict[str, str], float]] = []
            for (m, r), counts in sorted(self.latency_buckets.items()):
                for bound, n in zip([*map(str, LATENCY_BUCKETS_S), "+Inf"], counts):
                    samples.append(("_bucket", {"method": m, "route": r, "le": bound}, n))
                samples.append(("_sum", {"method": m, "route": r}, round(self.latency_sum[(m, r)], 6)))
                samples.append(("_count", {"method": m, "route": r}, counts[-1]))
            out.family("judge_http_request_duration_seconds", "histogram", "Time to answer an HTTP request.", samples)
            out.family("judge_calls_total", "counter",
                       "Judge calls recorded, by judge and outcome (ok, cached, unparseable, error).",
                       [("", {"judge": j, "outcome": o}, n) for (j, o), n in sorted(self.judge_calls.items())])
            out.family("judge_call_cost_usd_total", "counter", "USD spent on judge calls (configured prices; cached calls are free).",
                       [("", {"judge": j}, round(c, 10)) for j, c in sorted(self.judge_cost.items())])
            out.family("judge_call_tokens_total", "counter", "Tokens reported by providers, by judge and direction.",
                       [("", {"judge": j, "direction": d}, n) for (j, d), n in sorted(self.judge_tokens.items())])
        stats = dict(self.ctx.caller.stats)
        out.family("judge_caller_provider_calls_total", "counter", "Calls that went to a provider (cache misses).",
                   [("", {}, stats.get("calls", 0))])
        out.family("judge_caller_cache_hits_total", "counter", "Judge calls answered from the call cache.",
                   [("", {}, stats.get("cache_hits", 0))])
        out.family("judge_caller_unparseable_total", "counter", "Judge replies that could not be parsed (then retried).",
                   [("", {}, stats.get("unparseable", 0))])
        out.family("judge_caller_errors_total", "counter", "Judge calls that failed after the provider's retries.",
                   [("", {}, stats.get("errors", 0))])
        limiter = self._limiter_stats()
        for name, attr, kind, help_text in (
            ("judge_provider_attempts_total", "attempts", "counter", "Requests sent to providers, retries included."),
            ("judge_provider_retries_total", "retries", "counter", "Provider requests that were retries."),
            ("judge_provider_failures_total", "failures", "counter", "Provider calls that failed after all retries."),
            ("judge_provider_throttled_seconds_total", "throttled_s", "counter", "Time waited for rate limits or Retry-After."),
            ("judge_provider_in_flight", "in_flight", "gauge", "Provider requests on the wire now."),
        ):
            out.family(name, kind, help_text, [("", {"judge": j}, round(float(getattr(s, attr, 0)), 6)) for j, s in limiter])
        return out.text()

    def _limiter_stats(self) -> list[tuple[str, object]]:
        # Only judges already built: building one here could load a model or fail on a missing key.
        return [(judge.name, judge.stats) for judge in self.ctx.judges.built() if judge.stats is not None]


# -- the middleware and the endpoint -----------------------------------------------------------

access_log = logging.getLogger("judge_service.access")
_log = logging.getLogger("judge_service")


class ObservabilityMiddleware:
    """Request id in and out, one access log line, and the HTTP metrics. Outermost of our middleware."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = next((v.decode("latin-1") for k, v in scope.get("headers") or [] if k == b"x-request-id"), None)
        rid = new_request_id(incoming)
        scope.setdefault("state", {})["request_id"] = rid
        token = request_id_var.set(rid)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except asyncio.CancelledError:
            self._record(scope, 499, started)  # the client went away first (nginx's "client closed request")
            raise
        except BaseException:
            # Leave the request id set: the app's last-resort handler, which logs the traceback,
            # runs outside this middleware in the same task and should carry it too.
            self._record(scope, 500, started)
            raise
        self._record(scope, status, started)
        request_id_var.reset(token)

    def _record(self, scope: Scope, status: int, started: float) -> None:
        seconds = time.perf_counter() - started
        route = getattr(scope.get("route"), "path", None) or "unmatched"
        self.metrics.observe_request(scope["method"], route, status, seconds)
        principal = (scope.get("state") or {}).get("principal")
        client = scope.get("client")
        access_log.info("request", extra={
            "method": scope["method"], "path": scope["path"], "route": route, "status": status,
            "duration_ms": round(seconds * 1000.0, 2), "client": client[0] if client else None,
            "key_id": getattr(principal, "key_id", None),
        })


router = APIRouter(tags=["observability"])


@router.get("/metrics", response_class=PlainTextResponse,
            responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}},
                             "description": "Prometheus text exposition format 0.0.4"}})
async def metrics(request: Request) -> PlainTextResponse:
    ctx: AppContext = request.app.state.ctx
    if ctx.metrics is None:  # install() sets it; an app built without observability has no registry
        raise RuntimeError("observability is not installed on this app")
    body = ctx.metrics.render()
    return PlainTextResponse(body, media_type="text/plain; version=0.0.4; charset=utf-8")


def install(app: FastAPI, ctx: AppContext) -> Metrics:
    """Logs, the middleware (add it last: it must be outermost) and ``/metrics``."""
    configure_logging(json_logs=ctx.settings.log_json, secrets=known_provider_secrets(ctx))
    metrics = Metrics(ctx)
    ctx.metrics = metrics  # closed by the context's stop()
    app.add_middleware(ObservabilityMiddleware, metrics=metrics)
    app.include_router(router)
    return metrics
