"""One judge call: cache → provider → parse (bounded retries) → recorded.

The cache key covers everything that determines a reply (provider, model, every generation
parameter, rubric hash, rendered messages, answer fields, sample index, parse attempt), so the
same call is made once and a rerun or a resumed run costs nothing. Only successful replies are
cached; provider errors never are. Identical calls in flight at the same time share one
provider call.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import hashlib
import json
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from judge_service.engine.parse import ParsedAnswer, Unparseable, parse_reply
from judge_service.errors import JudgeError
from judge_service.judges.base import JudgeReply, JudgeRequest, TokenLogprob, Usage
from judge_service.judges.pricing import cost_usd
from judge_service.judges.registry import Judge

from judge_service.store.db import Database, fail_waiters
from judge_service.store.models import CallCacheRow, JudgeCallRow, utcnow

if TYPE_CHECKING:
    from judge_service.engine.batch import BatchExecutor


@dataclass(frozen=True)
class CallOwner:
    kind: str  # "judgment" | "comparison" | "run_item"
    id: str
    order: str | None = None


@dataclass(frozen=True)
class CallResult:
    judge: str
    model: str
    parsed: ParsedAnswer | None  # None = unscored
    error: str | None
    reply_text: str | None
    cached: bool
    latency_ms: float
    usage: Usage
    cost_usd: float | None
    attempts: int
    seed: int | None
    sample_index: int
    # The provider error's stable code (``judge_error``/``judge_auth_error``) when the call failed at
    # the provider; None when it succeeded or only its reply was unparseable (a protocol deviation).
    error_code: str | None = None


def cache_key(judge: Judge, request: JudgeRequest, rubric_hash: str, attempt: int) -> str:
    payload = {
        "provider": judge.spec.provider,
        "model": judge.spec.model,
        "base_url": judge.spec.base_url,
        "options": judge.spec.options,
        "structured_output": judge.spec.structured_output,
        "logprobs": judge.spec.logprobs,
        "params": request.params(),
        "rubric_hash": rubric_hash,
        "messages": [[m.role, m.content] for m in request.messages],
        "fields": [[f.name, list(f.labels)] for f in request.fields],
        "schema": request.output_schema,
        "parse_attempt": attempt,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def reply_to_json(reply: JudgeReply) -> dict[str, Any]:
    """What ``dataclasses.asdict`` gives, written out: asdict deep-copies every logprob's alternatives
    and cost ~1.7 ms a reply under load, the largest single item of a comparison's own CPU."""
    logprobs = reply.logprobs
    return {
        "text": reply.text,
        "model": reply.model,
        "usage": {"input_tokens": reply.usage.input_tokens, "output_tokens": reply.usage.output_tokens},
        "latency_ms": reply.latency_ms,
        "structured": json.loads(json.dumps(reply.structured)) if reply.structured is not None else None,
        "logprobs": [{"token": t.token, "logprob": t.logprob, "top": dict(t.top)} for t in logprobs]
                    if logprobs is not None else None,
        "label_probs": {k: dict(v) for k, v in reply.label_probs.items()} if reply.label_probs is not None else None,
        "batched": reply.batched,
    }


def reply_from_json(data: dict[str, Any]) -> JudgeReply:
    logprobs = data.get("logprobs")
    return JudgeReply(
        text=data["text"],
        model=data["model"],
        usage=Usage(**data.get("usage", {})),
        latency_ms=data.get("latency_ms", 0.0),
        structured=data.get("structured"),
        logprobs=tuple(TokenLogprob(**t) for t in logprobs) if logprobs else None,
        label_probs=data.get("label_probs"),
        batched=bool(data.get("batched", False)),
    )


CALLS_TABLE = JudgeCallRow.metadata.tables[JudgeCallRow.__tablename__]
CACHE_TABLE = CallCacheRow.metadata.tables[CallCacheRow.__tablename__]
RECENT_HITS = 4096  # replies read back from the cache, kept in memory (a few KB each)


def cache_values(judge: Judge, key: str, reply: JudgeReply) -> dict[str, Any]:
    """The call_cache row for a successful reply."""
    return {"cache_key": key, "judge": judge.name, "model": reply.model, "reply": reply_to_json(reply)}


LOOKUP_CHUNK = 500  # keys per SELECT ... IN (well under SQLite's bound-parameter limit)


class _CacheLookups:
    """Cache reads that miss memory, coalesced: every key asked for while one read is on the database
    pool goes in the next, one ``SELECT ... WHERE cache_key IN (...)`` and one thread hop for all.
    Under load most of them are misses of new calls (one pool hop each before, ~0.3 ms CPU)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        # Per event loop: an app's lifespan may be entered from another loop (in-process clients).
        self._queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[tuple[str, asyncio.Future[JudgeReply | None]]]] \
            = weakref.WeakKeyDictionary()
        self._draining: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Task[None]] = weakref.WeakKeyDictionary()

    async def get(self, key: str) -> JudgeReply | None:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[JudgeReply | None] = loop.create_future()
        self._queues.setdefault(loop, []).append((key, fut))
        task = self._draining.get(loop)
        if task is None or task.done():
            # Its own task: one caller cancelled must not cancel the read the others wait on.
            self._draining[loop] = loop.create_task(self._drain(loop))
        return await fut

    async def _drain(self, loop: asyncio.AbstractEventLoop) -> None:
        while self._queues.get(loop):
            group = self._queues.pop(loop)
            keys = list(dict.fromkeys(k for k, _ in group))

            def read(s: Session) -> dict[str, JudgeReply]:
                found: dict[str, JudgeReply] = {}
                for i in range(0, len(keys), LOOKUP_CHUNK):
                    rows = s.execute(select(CallCacheRow.cache_key, CallCacheRow.reply)
                                     .where(CallCacheRow.cache_key.in_(keys[i:i + LOOKUP_CHUNK])))
                    found.update((k, reply_from_json(r)) for k, r in rows)
                return found

            try:
                found = await self.db.run(read)
            except BaseException as e:
                fail_waiters([fut for _, fut in group], e, "cache read stopped")
                continue
            for key, fut in group:
                if not fut.done():
                    fut.set_result(found.get(key))
        self._draining.pop(loop, None)  # the finished task refers to its loop: let a closed loop go


class JudgeCaller:
    def __init__(self, db: Database, parse_retries: int = 2) -> None:
        self.db = db
        self.parse_retries = parse_retries
        self._in_flight: dict[str, asyncio.Future[JudgeReply]] = {}
        # Per judge, at most max_concurrency calls between "sent" and "cached": the provider's own
        # limiter frees its slot when the reply arrives, and the cache row commits off the loop a
        # little later; without this, a burst of answered-but-unsaved calls would all be paid again
        # after a crash. The slot is held until the reply is durable.
        self._durable: dict[tuple[int, str], asyncio.Semaphore] = {}
        self.stats = {"calls": 0, "cache_hits": 0, "unparseable": 0, "errors": 0}
        self._recent_hits: collections.OrderedDict[str, JudgeReply] = collections.OrderedDict()
        self._lookups = _CacheLookups(db)
        # Calls of judges with a batch lane go through the provider's batch API (engine/batch.py).
        self.batches: BatchExecutor | None = None

    async def _cached(self, key: str) -> JudgeReply | None:
        hit = self._recent_hits.get(key)
        if hit is not None:
            self._recent_hits.move_to_end(key)
            return hit

        reply = await self._lookups.get(key)
        if reply is not None:
            # Only what the database holds: a cache row never changes once written (insert-or-ignore),
            # so a reply read back once is the reply every process replays. Our own fresh replies are
            # kept only when our insert won (``_cache``): another process may have cached its reply first.
            self._remember(key, reply)
        return reply

    async def _cache(self, judge: Judge, key: str, reply: JudgeReply) -> None:
        values = cache_values(judge, key, reply)
        # Insert-or-ignore: another process may have cached the same call a moment ago.
        if await self.db.insert_or_ignore_grouped(CACHE_TABLE, values, "cache_key"):
            # Our row is the one stored (no other process won the insert), so it is what every later
            # read replays: keep it as if read back, and a repeat of this call needs no database read.
            self._remember(key, reply_from_json(values["reply"]))

    def _remember(self, key: str, reply: JudgeReply) -> None:
        self._recent_hits[key] = reply
        if len(self._recent_hits) > RECENT_HITS:
            self._recent_hits.popitem(last=False)

    async def _provider_call(self, judge: Judge, request: JudgeRequest, key: str) -> tuple[JudgeReply, bool]:
        """(reply, cached). Shares one provider call among identical concurrent requests."""
        pending = self._in_flight.get(key)
        if pending is not None:
            return await asyncio.shield(pending), True
        # Registered before the cache is read (an await): an identical call arriving meanwhile waits
        # on this one instead of reading the cache too early and calling the provider a second time.
        fut: asyncio.Future[JudgeReply] = asyncio.get_running_loop().create_future()
        self._in_flight[key] = fut
        try:
            cached = await self._cached(key)
            if cached is not None and cached.batched and self.batches is not None \
                    and await self.batches.first_delivery(key):
                # Paid in a batch collected before any call recorded it (e.g. by a process that died
                # since): this is that paid call, not a cache hit.
                fut.set_result(cached)
                return cached, False
            if cached is not None:
                self.stats["cache_hits"] += 1
                fut.set_result(cached)
                return cached, True
            self.stats["calls"] += 1
            if judge.batch_lane is not None and self.batches is not None:
                # Cached by the batch executor when the batch is collected, before this returns.
                reply = await self.batches.complete(judge, request, key)
                fut.set_result(reply)
                return reply, False
            # Keyed by loop too: an app's lifespan may be entered from another event loop (in-process clients).
            slot_key = (id(asyncio.get_running_loop()), judge.name)
            slots = self._durable.setdefault(slot_key, asyncio.Semaphore(judge.spec.max_concurrency))
            async with slots:
                reply = await judge.provider.complete(request)
                await self._cache(judge, key, reply)
            fut.set_result(reply)
            return reply, False
        except BaseException as e:
            fut.set_exception(e)
            fut.exception()  # mark retrieved: waiters re-raise it themselves
            raise
        finally:
            del self._in_flight[key]

    async def call(self, judge: Judge, request: JudgeRequest, *, rubric_hash: str, owner: CallOwner) -> CallResult:
        attempts = 0
        total_cost: float | None = 0.0
        last_text: str | None = None
        for attempt in range(self.parse_retries + 1):
            attempts += 1
            # A retry after an unparseable reply must be a different call: vary the seed.
            req = request if attempt == 0 else dataclasses.replace(request, seed=(request.seed or 0) + attempt)
            key = cache_key(judge, req, rubric_hash, attempt)
            try:
                reply, cached = await self._provider_call(judge, req, key)
            except JudgeError as e:
                self.stats["errors"] += 1
                await self._record(judge, req, key, owner, attempt, error=e.message)
                return CallResult(judge.name, judge.spec.model, None, e.message, None, False, 0.0, Usage(),
                                  total_cost, attempts, req.seed, req.sample_index, error_code=e.code)
            cost = cost_usd(judge.spec, reply.usage, cached=cached, batched=reply.batched)
            total_cost = None if (total_cost is None or cost is None) else total_cost + cost
            last_text = reply.text
            try:
                parsed = parse_reply(reply, req.fields)
            except Unparseable as e:
                self.stats["unparseable"] += 1
                await self._record(judge, req, key, owner, attempt, reply=reply, cached=cached, cost=cost, error=f"unparseable: {e}")
                continue
            await self._record(judge, req, key, owner, attempt, reply=reply, cached=cached, cost=cost, parsed=parsed)
            return CallResult(judge.name, reply.model, parsed, None, reply.text, cached, reply.latency_ms,
                              reply.usage, total_cost, attempts, req.seed, req.sample_index)
        return CallResult(judge.name, judge.spec.model, None,
                          f"unscored: the judge's reply could not be parsed after {attempts} attempts",
                          last_text, False, 0.0, Usage(), total_cost, attempts, request.seed, request.sample_index)

    async def generate(self, judge: Judge, request: JudgeRequest, *, prompt_hash: str, owner: CallOwner) -> str | None:
        """Free text from a judge used as a generator (length-probe rewrites): cached and recorded like a
        verdict, but not parsed. None when the provider failed (the error is on the recorded call)."""
        key = cache_key(judge, request, prompt_hash, 0)
        try:
            reply, cached = await self._provider_call(judge, request, key)
        except JudgeError as e:
            self.stats["errors"] += 1
            await self._record(judge, request, key, owner, 0, error=e.message)
            return None
        cost = cost_usd(judge.spec, reply.usage, cached=cached, batched=reply.batched)
        await self._record(judge, request, key, owner, 0, reply=reply, cached=cached, cost=cost)
        return reply.text

    async def _record(self, judge: Judge, req: JudgeRequest, key: str, owner: CallOwner, attempt: int, *,
                      reply: JudgeReply | None = None, cached: bool = False, cost: float | None = None,
                      parsed: ParsedAnswer | None = None, error: str | None = None) -> None:
        values = {
            "owner_kind": owner.kind, "owner_id": owner.id, "judge": judge.name, "provider": judge.spec.provider,
            "model": reply.model if reply else judge.spec.model, "params": req.params(),
            "messages": [[m.role, m.content] for m in req.messages], "cache_key": key, "order": owner.order,
            "sample_index": req.sample_index, "attempt": attempt,
            "raw_text": reply.text if reply else None, "structured": reply.structured if reply else None,
            "parsed": parsed.to_dict() if parsed else None, "error": error,
            "latency_ms": 0.0 if cached or reply is None else reply.latency_ms,
            "input_tokens": reply.usage.input_tokens if reply else 0,
            "output_tokens": reply.usage.output_tokens if reply else 0,
            "cost_usd": cost, "cached": cached, "created_at": utcnow(),
        }
        # A plain row, not an ORM object: building a mapped instance cost ~0.3 ms of loop CPU a call,
        # and a group's call records go to the database as one executemany.
        await self.db.insert_grouped(CALLS_TABLE, values)
