"""Provider names -> implementations. A new provider is one file and one line here.

Imports are lazy so that a missing optional dependency (torch for ``local``) only matters for
the judges that use it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from judge_service.errors import InvalidInput, MissingExtra, NotFound
from judge_service.judges.base import JudgeProvider
from judge_service.judges.config import JudgesConfig, JudgeSpec
from judge_service.settings import Settings

PROVIDERS: dict[str, str] = {
    "local": "judge_service.judges.local:LocalProvider",
    "openai": "judge_service.judges.openai:OpenAIProvider",
    "openai_compatible": "judge_service.judges.openai_compatible:OpenAICompatibleProvider",
    "anthropic": "judge_service.judges.anthropic:AnthropicProvider",
    "scripted": "judge_service.testing.scripted:ScriptedProvider",
}


@dataclass
class Judge:
    spec: JudgeSpec
    provider: JudgeProvider

    @property
    def name(self) -> str:
        return self.spec.name


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
            f"install it with: pip install 'judge-service[{'local' if spec.provider == 'local' else 'remote'}]'"
        ) from e
    provider = getattr(module, cls_name)(spec, settings)
    return wrap_provider(provider, spec)


def wrap_provider(provider: JudgeProvider, spec: JudgeSpec) -> JudgeProvider:
    """Retries and rate limits, shared by every request in the process (see judges/limits.py)."""
    try:
        from judge_service.judges.limits import limited
    except ImportError:  # limits module not present yet
        return provider
    return limited(provider, spec)


class JudgePool:
    """The judges of one app instance, built lazily on first use and closed at shutdown."""

    def __init__(self, config: JudgesConfig, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self._specs = {j.name: j for j in config.judges}
        self._judges: dict[str, Judge] = {}

    def specs(self) -> list[JudgeSpec]:
        return list(self._specs.values())

    def spec(self, name: str) -> JudgeSpec:
        try:
            return self._specs[name]
        except KeyError:
            raise NotFound(f"unknown judge '{name}'; configured judges: {sorted(self._specs)}", field="judges") from None

    def get(self, name: str) -> Judge:
        if name not in self._judges:
            spec = self.spec(name)
            self._judges[name] = Judge(spec, build_provider(spec, self.settings))
        return self._judges[name]

    def add(self, judge: Judge) -> None:
        """Install an already-built judge (tests, embedding apps)."""
        self._specs[judge.name] = judge.spec
        self._judges[judge.name] = judge

    def default_panel(self) -> list[str]:
        return self.config.panel()

    async def aclose(self) -> None:
        for j in self._judges.values():
            await j.provider.aclose()
        self._judges.clear()
