"""Progress while a run executes: a tqdm bar when tqdm is installed, or the caller's callback."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Protocol

from judge_client._models import RunStatus

ProgressArg = bool | Callable[[RunStatus], None]


class Reporter(Protocol):
    def update(self, status: RunStatus) -> None: ...
    def close(self) -> None: ...


class _Silent:
    def update(self, status: RunStatus) -> None:
        pass

    def close(self) -> None:
        pass


class _Callback:
    def __init__(self, fn: Callable[[RunStatus], None]) -> None:
        self.fn = fn

    def update(self, status: RunStatus) -> None:
        self.fn(status)

    def close(self) -> None:
        pass


class _Bar(Protocol):
    """The part of a tqdm bar we use (tqdm ships no type information)."""

    n: int

    def set_postfix(self, ordered_dict: object = None, refresh: bool = True, **kwargs: object) -> None: ...
    def refresh(self) -> None: ...
    def close(self) -> None: ...


class _Tqdm:
    def __init__(self, tqdm_cls: Callable[..., _Bar]) -> None:
        self._tqdm_cls = tqdm_cls
        self._bar: _Bar | None = None

    def update(self, status: RunStatus) -> None:
        p = status.progress
        if self._bar is None:
            self._bar = self._tqdm_cls(total=p.total, desc=status.id, unit="item", file=sys.stderr)
        self._bar.n = p.done + p.failed
        self._bar.set_postfix(status=status.status, failed=p.failed, refresh=False)
        self._bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def reporter(progress: ProgressArg) -> Reporter:
    if callable(progress):
        return _Callback(progress)
    if not progress:
        return _Silent()
    try:
        from tqdm.auto import tqdm
    except ImportError:  # the bar is a nicety: `pip install judge-client[progress]` adds it
        return _Silent()
    return _Tqdm(tqdm)
