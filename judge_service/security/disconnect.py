"""A synchronous judging request whose client has gone is cancelled, with the judge calls it still had queued.

ASGI servers do not cancel a handler when its client disconnects: they only answer ``receive()``
with ``http.disconnect``, which a route that is awaiting judges never calls. So a client that timed
out or was killed left the service to make, and pay for, every remaining call of its panel (issue 13
measured about 100 comparisons nobody received). Here the body is read first, then the request is
handled in a task while this middleware waits on ``receive()``: a disconnect before the response has
started cancels the task, which cancels the judge calls not yet answered (``asyncio`` cancellation
reaches each pending provider request). Calls already answered are cached as usual; a call already
sent may still be billed by the provider, which no client-side cancel can prevent.

Only the routes whose answer *is* the work (``POST /v1/judgments``, ``/v1/comparisons``): a run or a
calibration is started and then belongs to the service, whoever is still listening.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("judge_service.disconnect")

CANCELLABLE_PATHS = frozenset({"/v1/judgments", "/v1/comparisons"})


class CancelOnDisconnectMiddleware:
    def __init__(self, app: ASGIApp, paths: frozenset[str] = CANCELLABLE_PATHS) -> None:
        self.app = app
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # gone before the body arrived: nothing was started
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body: list[Message] = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]
        gone = asyncio.Event()
        started = False

        async def replay() -> Message:
            if body:
                return body.pop()
            await gone.wait()
            return {"type": "http.disconnect"}

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        handler = asyncio.ensure_future(self.app(scope, replay, tracked_send))
        watcher = asyncio.ensure_future(_wait_for_disconnect(receive))
        try:
            await asyncio.wait({handler, watcher}, return_when=asyncio.FIRST_COMPLETED)
            if watcher.done() and not handler.done() and not started:
                gone.set()
                handler.cancel()
                log.info("client disconnected; cancelled the request's pending judge calls",
                         extra={"path": scope["path"]})
            with contextlib.suppress(asyncio.CancelledError):
                await handler
            if gone.is_set():
                # Nobody reads it (the server drops sends after a disconnect); it tells the access log
                # and /metrics what happened: 499, nginx's "client closed request".
                await send({"type": "http.response.start", "status": 499, "headers": []})
                await send({"type": "http.response.body", "body": b""})
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            if not handler.done():  # this middleware itself was cancelled (server shutdown)
                handler.cancel()


async def _wait_for_disconnect(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


def install(app: FastAPI) -> None:
    app.add_middleware(CancelOnDisconnectMiddleware)
