"""The chat-completions POST on aiohttp alone: the judge call's hot path without the SDK's pipeline.

Why not the SDK here: the openai SDK wraps every request in its own options model, builds an
httpx2 request (header merging, a cookie jar, URL copying), then hands it to aiohttp through an
adapter. Measured with ``benchmarks/remote_throughput.py --layers 32`` against the fake server:
bare aiohttp 0.43 CPU ms a call, the SDK's ``client.post`` over the same aiohttp 1.08 ms. A judge
call's wire format is one documented JSON POST and our own code already reads the reply JSON and
maps failures to JudgeErrors (``judges/limits.py``), so the SDK's pipeline buys nothing on this
path; it stays in use for everything else (model listing, the Batch API) and as
``options.http_backend: aiohttp | httpx`` for anyone who wants the SDK on the wire too.

What the SDK did that this keeps: the same URL (the SDK's normalised ``base_url`` +
``chat/completions``), the bearer key, JSON content type, redirects followed, and a timeout of
``timeout_s`` for each of connecting, waiting for a pooled connection and every read, as the
SDK's aiohttp transport sets them. No retries: ``judges/limits.py`` is the one retry policy.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING

from judge_service import __version__

if TYPE_CHECKING:  # imported where used, so this module loads without the openai[aiohttp] extra
    import aiohttp


class HttpStatusFailure(Exception):
    """A non-2xx reply: its status, body and headers, for ``limits.error_for_status``.

    It never holds the request (and so never the key in its headers)."""

    def __init__(self, status: int, body: bytes, headers: Mapping[str, str]) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.body = body
        self.headers = headers


class DirectChat:
    """POST ``{base_url}chat/completions`` with one aiohttp session, made on first use in the
    running loop (a session is bound to its loop; a provider used from a new loop gets a new one)."""

    def __init__(self, base_url: str, api_key: str, *, timeout_s: float, max_connections: int) -> None:
        import aiohttp

        self.url = base_url.rstrip("/") + "/chat/completions"
        self._headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json",
                         "Accept": "application/json", "User-Agent": f"judge-service/{__version__}"}
        self._timeout = aiohttp.ClientTimeout(total=None, connect=timeout_s, sock_connect=timeout_s, sock_read=timeout_s)
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _current(self) -> aiohttp.ClientSession:
        import aiohttp

        loop = asyncio.get_running_loop()
        if self._session is None or self._loop is not loop or self._session.closed:
            # limit_per_host bounds connections like the SDK's max_connections; idle ones are kept
            # (keepalive_timeout) so a steady load reuses them instead of reconnecting.
            connector = aiohttp.TCPConnector(limit=self._max_connections, limit_per_host=self._max_connections,
                                             keepalive_timeout=30)
            self._session = aiohttp.ClientSession(connector=connector, timeout=self._timeout, headers=self._headers)
            self._loop = loop
        return self._session

    async def post(self, body: bytes) -> bytes:
        """The 2xx reply's body; raises HttpStatusFailure, aiohttp.ClientError or TimeoutError."""
        async with self._current().post(self.url, data=body) as response:
            content = await response.read()
            if response.status >= 300:
                raise HttpStatusFailure(response.status, content, response.headers.copy())  # case-insensitive
            return content

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed and self._loop is asyncio.get_running_loop():
            await session.close()
