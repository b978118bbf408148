"""Provider names -> implementations. A new provider is one file and one line here.

Imports are lazy so that a missing optional dependency (torch for ``local``) only matters for
the judges that use it.
"""

from __future__ import annotations

import asyncio
import importlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from judge_service.errors import InvalidInput, MissingExtra, NotFound
from judge_service.judges.base import JudgeProvider
from judge_service.judges.batch import BatchAPI
from judge_service.judges.config import JudgesConfig, JudgeSpec
from judge_service.judges.limits import LimitedProvider, LimiterStats, limited
from judge_service.settings import Settings

PROVIDERS: dict[str, str] = {
    "local": "judge_service.judges.local:LocalProvider",
    "openai": "judge_service.judges.openai:OpenAIProvider",
    "openai_compatible": "judge_service.judges.openai_compatible:OpenAICompatibleProvider",
    "anthropic": "judge_service.judges.anthropic:AnthropicProvider",
    "scripted": "judge_service.testing.scripted:ScriptedProvider",
}
# What to install when a provider's dependency is missing (optional dependencies in pyproject.toml).
INSTALL_HINTS: dict[str, str] = {
    "local": "judge-service[local]",
}


@dataclass
class Judge:
    spec: JudgeSpec
    provider: JudgeProvider  # behind the judge's limits and retries (judges/limits.py)
    # The provider itself, for its optional capabilities (warm-up): the limits wrap calls, not loading.
    base: JudgeProvider | None = None
    stats: LimiterStats | None = None  # the limiter's counters (attempts, retries, throttling)
    # Set on a run's copy of the judge whose calls go through the provider's batch API
    # (engine/batch.py): the lane (the run id) its uncached calls are batched in. None: direct calls.
    batch_lane: str | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    async def warm(self) -> None:
        await (self.base or self.provider).warm()

    def batch_api(self) -> BatchAPI | None:
        return (self.base or self.provider).batch_api()


def build_provider(spec: JudgeSpec, settings: Settings) -> JudgeProvider:
    target = PROVIDERS.get(spec.provider)
    if target is None:
        raise InvalidInput(
            f"judge '{spec.name}': unknown provider '{spec.provider}'; choose one of {sorted(PROVIDERS)}",
            field="provider",
        )
    module_name, cls_name = target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise MissingExtra(
            f"judge '{spec.name}' needs an optional dependency that is missing ({e.name}); "
            f"install it with: pip install '{INSTALL_HINTS.get(spec.provider, 'judge-service')}'"
        ) from e
    provider: JudgeProvider = getattr(module, cls_name)(spec, settings)
    return provider


def build_judge(spec: JudgeSpec, settings: Settings) -> Judge:
    """The provider, behind retries and rate limits shared by every request in the process (judges/limits.py)."""
    base = build_provider(spec, settings)
    wrapped = limited(base, spec)
    return Judge(spec, wrapped, base, wrapped.stats)  # type: ignore[arg-type]  # LimitedProvider: no warm(), see base


def _share(judge: Judge, replicas: int) -> None:
    # An embedded model's limits are this process's own hardware, not a key the replicas share.
    if isinstance(judge.provider, LimitedProvider) and judge.spec.provider != "local":
        judge.provider.set_share(replicas)


class JudgePool:
    """The judges of one app instance, built lazily on first use and closed at shutdown."""

    def __init__(self, config: JudgesConfig, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self._specs = {j.name: j for j in config.judges}
        self._judges: dict[str, Judge] = {}
        self._building = threading.Lock()  # built from worker threads (get_many): one build per judge
        self._replicas = 1  # live processes on this database: each takes 1/N of every judge's limits

    def specs(self) -> list[JudgeSpec]:
        return list(self._specs.values())

    def import_provider_modules(self) -> None:
        """Import the configured judges' provider modules now (not built: no keys read, no models loaded).

        For ``judge serve`` before it freezes the start-up heap (heap.py): imported at the first
        build, the openai SDK's few hundred thousand objects stayed in the collected heap, and every
        full collection walked them on the event loop (100-250 ms pauses under load). A module that
        fails to import is left for the build to report with its install hint."""
        for spec in self._specs.values():
            target = PROVIDERS.get(spec.provider)
            if target is not None:
                try:
                    importlib.import_module(target.split(":")[0])
                except ImportError:
                    pass

    def spec(self, name: str) -> JudgeSpec:
        try:
            return self._specs[name]
        except KeyError:
            raise NotFound(f"unknown judge '{name}'; configured judges: {sorted(self._specs)}", field="judges") from None

    def get(self, name: str) -> Judge:
        with self._building:
            if name not in self._judges:
                spec = self.spec(name)
                judge = build_judge(spec, self.settings)
                _share(judge, self._replicas)
                self._judges[name] = judge
            return self._judges[name]

    def set_replicas(self, replicas: int) -> None:
        """Split every judge's limits over ``replicas`` live processes (``judges/replicas.py``)."""
        self._replicas = replicas
        for judge in list(self._judges.values()):
            _share(judge, replicas)

    async def get_many(self, names: Sequence[str]) -> list[Judge]:
        """``get`` for each name, building the missing ones on a worker thread.

        Building a judge imports its SDK or loads a model: seconds on a busy host. On the event loop
        that stalls every request and every run-lease heartbeat, and a stalled heartbeat lets another
        replica take this process's items and pay for their calls again.
        """
        if any(n not in self._judges for n in names):
            return await asyncio.to_thread(lambda: [self.get(n) for n in names])
        return [self._judges[n] for n in names]

    def built(self) -> list[Judge]:
        """The judges already built (building one can load a model or fail on a missing key)."""
        return [self._judges[n] for n in sorted(self._judges)]

    def default_panel(self) -> list[str]:
        return self.config.panel()

    async def aclose(self) -> None:
        for j in self._judges.values():
            await j.provider.aclose()
        self._judges.clear()
