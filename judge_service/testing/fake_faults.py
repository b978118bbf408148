"""The fake server's faults: which kinds exist, how often they strike, and the admin config that sets them.

A ``Faults`` is what ``FakeJudgeServer.faults`` holds; ``parse_admin_config`` reads the body of
``POST /_fake/config`` (a config it cannot apply is refused with a message naming the problem).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from typing import Any

RETRYABLE_FAULTS = ("rate_limit", "server_error", "unavailable", "slow", "drop", "malformed")
ALL_FAULTS = RETRYABLE_FAULTS + ("garbage", "refusal")


@dataclass
class Faults:
    rate: float = 0.0  # probability that a request gets a fault
    kinds: tuple[str, ...] = RETRYABLE_FAULTS
    weights: tuple[float, ...] | None = None  # relative weight of each kind; default equal
    retry_after_s: float = 1.0  # sent on 429 (and 503) as retry-after and retry-after-ms
    slow_s: float = 5.0
    seed: int = 0
    deterministic: bool = True

    def __post_init__(self) -> None:
        unknown = set(self.kinds) - set(ALL_FAULTS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; choose from {', '.join(ALL_FAULTS)}")
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"fault rate {self.rate} is not a probability; use a number from 0 to 1")
        # Checked here rather than when a request draws its fault, where the error would only drop
        # that request's connection and leave the cause in the server's log.
        if self.rate > 0 and not self.kinds:
            raise ValueError(f"fault rate {self.rate} with no fault kinds; name some kinds, or set rate 0")
        if self.weights is not None and (len(self.weights) != len(self.kinds) or min(self.weights, default=0) < 0
                                         or sum(self.weights) <= 0):
            raise ValueError(f"fault weights {list(self.weights)} must be one non-negative number for each of the "
                             f"kinds {list(self.kinds)}, not all zero; or leave weights out for equal weights")


_CONFIG_EXAMPLE = '{"latency_s": 0.05, "faults": {"rate": 0.3, "kinds": ["rate_limit", "drop"]}}'


def parse_admin_config(raw: bytes) -> tuple[float | None, Faults | None]:
    """(latency_s, faults) from a ``POST /_fake/config`` body; None for what the body leaves alone.

    ``faults`` replaces the whole fault config (keys left out take Faults' defaults). A ValueError
    says what is wrong and what is valid; the caller applies nothing then, so a typo in a CI script
    keeps the previous config rather than half of the new one.
    """
    try:
        cfg = json.loads(raw or b"{}")
    except ValueError as e:
        raise ValueError(f"config body is not JSON ({e}); send an object like {_CONFIG_EXAMPLE}") from None
    if not isinstance(cfg, dict):
        raise ValueError(f"config body must be a JSON object like {_CONFIG_EXAMPLE}, not {type(cfg).__name__}")
    unknown = sorted(set(cfg) - {"latency_s", "faults"})
    if unknown:
        raise ValueError(f"unknown config key(s) {unknown}; valid keys: latency_s, faults")
    latency_s = _seconds(cfg["latency_s"], "latency_s") if "latency_s" in cfg else None
    faults = _faults_from_json(cfg["faults"]) if "faults" in cfg else None
    return latency_s, faults


def _faults_from_json(value: object) -> Faults:
    names = [f.name for f in dataclass_fields(Faults)]
    if not isinstance(value, dict):
        raise ValueError(f"'faults' must be an object with keys from {', '.join(names)}; got {value!r}")
    unknown = sorted(set(value) - set(names))
    if unknown:
        raise ValueError(f"unknown key(s) {unknown} in 'faults'; valid keys: {', '.join(names)}")
    parsers: dict[str, Callable[[object, str], object]] = {
        "rate": _number, "kinds": _kinds, "weights": _weights, "retry_after_s": _seconds, "slow_s": _seconds,
        "seed": _integer, "deterministic": _boolean,
    }
    # Faults' own checks (kinds known, rate a probability, weights one per kind) run in its constructor.
    # Each parser returns its field's type; the table cannot say so per key, hence Any.
    parsed: dict[str, Any] = {name: parsers[name](v, f"faults.{name}") for name, v in value.items()}
    return Faults(**parsed)


def _number(value: object, name: str) -> float:
    # bool is an int to Python but never a number anyone meant; NaN and infinity parse as JSON here.
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a number, got {value!r}")
    return float(value)


def _seconds(value: object, name: str) -> float:
    seconds = _number(value, name)
    if seconds < 0:
        raise ValueError(f"{name} must be a number of seconds, 0 or more; got {value!r}")
    return seconds


def _integer(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    return value


def _boolean(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false, got {value!r}")
    return value


def _kinds(value: object, name: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(k, str) for k in value):
        raise ValueError(f"{name} must be a list of fault kinds from {', '.join(ALL_FAULTS)}; got {value!r}")
    return tuple(value)


def _weights(value: object, name: str) -> tuple[float, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise ValueError(f"{name} must be a list of numbers, one per kind, or null; got {value!r}")
    return tuple(_number(w, name) for w in value)


