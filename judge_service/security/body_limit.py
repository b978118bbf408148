"""The body-size limit: ``JUDGE_MAX_BODY_BYTES``, for requests that say their size and those that don't.

A request whose ``Content-Length`` is over the limit is refused before its body is read (this was
a ``BaseHTTPMiddleware`` in app.py, whose task group and streams cost more per request than the
rest of the middleware together). A chunked request has no such header, so without the second
half it was read whole, however large. Here such a body is
read up to the limit before the app sees it: over the limit is 413 ``payload_too_large``, under it
the buffered body is handed on unchanged (the routes read whole bodies anyway, so buffering costs
no extra memory).
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from judge_service.errors import PayloadTooLarge
from judge_service.security.auth import error_response


class ChunkedBodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = next((v.decode("latin-1") for k, v in scope.get("headers") or [] if k == b"content-length"), None)
        if length is not None:
            if length.isdigit() and int(length) > self.max_bytes:
                exc = PayloadTooLarge(f"request body is {length} bytes; the limit is {self.max_bytes} (JUDGE_MAX_BODY_BYTES)",
                                      field="body")
                await error_response(exc)(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                await self.app(scope, _replay([message], receive), send)
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                exc = PayloadTooLarge(f"request body is over {self.max_bytes} bytes (sent chunked); the limit is "
                                      f"{self.max_bytes} (JUDGE_MAX_BODY_BYTES)", field="body")
                await error_response(exc, {"Connection": "close"})(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay([{"type": "http.request", "body": b"".join(chunks), "more_body": False}], receive), send)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


def install(app: FastAPI, max_bytes: int) -> None:
    app.add_middleware(ChunkedBodyLimitMiddleware, max_bytes=max_bytes)
