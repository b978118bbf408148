"""The one vocabulary for figures: an ``Estimate``, the seeding rule and the non-finite policy.

Every layer (agreement, inference, length control, runs, metrics, benchmarks, training curves,
overlap) reports its figures as this dataclass, and the HTTP edge turns it into
``judge_service.schemas.EstimateOut`` with ``to_out``/``EstimateOut.of``. Keeping one shape means
a new field (say, ``method``) is one edit, and the client's ``Estimate`` mirrors exactly this.

Non-finite policy: inside ``stats/`` a missing or unbounded figure may be ``nan``/``inf`` (an
interval on one item is honestly unbounded); at the edge every non-finite float becomes ``None``
(JSON has no ``inf``), and ``reason`` says why when the figure itself is missing.

Seeding rule: every random draw comes from ``rng_from_seed(seed)``, a numpy Generator keyed by the
sha256 of the seed string, so the same request gives the same interval (house style: per-item
randomness is seeded from a string, never from global state).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, replace

import numpy as np


@dataclass(frozen=True)
class Estimate:
    """A point estimate with a two-sided CI over ``n`` units (items unless said otherwise).

    ``estimate``/``ci_low``/``ci_high`` are ``None`` (or non-finite) when not computable, with
    ``reason`` saying why; ``method`` names how the CI was made (``"BCa"``, ``"percentile"``,
    ``"wilson"``, ``"t"``, ``"normal"`` …) when a caller wants it shown; ``p_value`` is the
    test that goes with the figure, when there is one (which test is documented where it is made).
    """

    estimate: float | None
    ci_low: float | None
    ci_high: float | None
    n: int
    p_value: float | None = None
    method: str | None = None
    reason: str | None = None

    def excludes(self, value: float) -> bool:
        """True when the CI is known and lies entirely on one side of ``value``."""
        low, high = finite_or_none(self.ci_low), finite_or_none(self.ci_high)
        return (low is not None and low > value) or (high is not None and high < value)

    def with_p(self, p_value: float | None) -> Estimate:
        return replace(self, p_value=p_value)

    def to_dict(self) -> dict[str, float | int | str | None]:
        """JSON-ready: non-finite floats become None; optional fields appear only when set."""
        out: dict[str, float | int | str | None] = {
            "estimate": finite_or_none(self.estimate),
            "ci_low": finite_or_none(self.ci_low),
            "ci_high": finite_or_none(self.ci_high),
            "n": self.n,
        }
        if self.p_value is not None:
            out["p_value"] = finite_or_none(self.p_value)
        if self.method is not None:
            out["method"] = self.method
        if self.reason is not None:
            out["reason"] = self.reason
        return out


def undefined(n: int, reason: str) -> Estimate:
    """A figure that cannot be computed on these data, with the reason a user will read."""
    return Estimate(None, None, None, n, reason=reason)


def finite_or_none(x: float | None) -> float | None:
    """The one non-finite policy at the edge: nan/±inf/None → None, anything else → float."""
    if x is None:
        return None
    value = float(x)
    return value if math.isfinite(value) else None


def rng_from_seed(seed: str) -> np.random.Generator:
    """A numpy Generator determined by ``seed`` alone (sha256 of the UTF-8 string, first 16 bytes)."""
    digest = hashlib.sha256(seed.encode("utf-8")).digest()
    return np.random.default_rng(int.from_bytes(digest[:16], "big"))
