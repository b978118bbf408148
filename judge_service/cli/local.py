"""``--local``: the service in this process, behind a synchronous httpx transport.

httpx's ``ASGITransport`` is async-only and runs no lifespan, but the CLI and notebooks use the
sync ``JudgeClient`` and runs need the lifespan (it starts the run workers). So the app lives on
an event loop in a helper thread (an anyio blocking portal, as Starlette's TestClient does), its
lifespan entered once, and each request is forwarded to that loop and read to the end there.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import anyio.from_thread
import httpx


class LocalTransport(httpx.BaseTransport):
    """A sync transport that serves requests from an ASGI app running in this process."""

    def __init__(self, app: Any, *, quiet: bool = True) -> None:
        self._stack = contextlib.ExitStack()
        if quiet:
            # A CLI user wants the answer, not the service's access log of every poll; the level is
            # restored on close, so a process that goes on serving (or testing) keeps its own.
            logger = logging.getLogger("judge_service")
            self._stack.callback(logger.setLevel, logger.level)
            logger.setLevel(logging.WARNING)
        self._portal = self._stack.enter_context(anyio.from_thread.start_blocking_portal())
        # raise_app_exceptions=False: an unhandled server error becomes the 500 the contract
        # describes, as over a socket, instead of a traceback from inside the transport.
        self._asgi = httpx.ASGITransport(app, raise_app_exceptions=False)
        try:
            self._stack.enter_context(self._portal.wrap_async_context_manager(app.router.lifespan_context(app)))
        except BaseException:
            self._stack.close()
            raise

    async def _handle(self, request: httpx.Request) -> httpx.Response:
        response = await self._asgi.handle_async_request(request)
        content = await response.aread()
        await response.aclose()
        return httpx.Response(response.status_code, headers=response.headers, content=content,
                              extensions=response.extensions)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        # The sync client's request body is a sync stream; rebuild it from bytes for the async side.
        body = request.read()
        forwarded = httpx.Request(request.method, request.url, headers=request.headers, content=body,
                                  extensions=request.extensions)
        return self._portal.call(self._handle, forwarded)

    def close(self) -> None:
        self._stack.close()


def local_transport(settings: Any = None, *, quiet: bool = True) -> LocalTransport:
    """The app built from ``Settings()`` (JUDGE_CONFIG, JUDGE_DATA_DIR, ...) behind a ``LocalTransport``."""
    from judge_service.app import create_app
    from judge_service.settings import Settings

    logger = logging.getLogger("judge_service")
    previous = logger.level
    if quiet:  # before create_app: it logs while it builds the judges
        logger.setLevel(logging.WARNING)
    try:
        app = create_app(settings or Settings())
    finally:
        logger.setLevel(previous)
    return LocalTransport(app, quiet=quiet)
