"""The report of a base-vs-candidate run: stored verdict records in, a decision with uncertainty out.

``build_report`` answers "did the candidate beat the baseline?" from the run's pairwise and
absolute verdict records. Every figure carries a CI and its n; the one-line ``verdict`` says
"beats" only when the headline win rate's CI excludes 0.5. The headline is the
length-controlled win rate (style-controlled when asked), because judges prefer longer
answers and a fine-tune usually writes longer ones. Without pairwise verdicts the headline is
the mean absolute-score difference, and "beats" needs its CI to exclude 0.

Conventions
- A pairwise call's value is its ``prob_candidate``, or its winner mapped candidate 1 /
  tie 0.5 / baseline 0 when the probability is missing. Unscored calls (winner None) and
  unscored scores (score None) are excluded and counted, never turned into a loss or a tie.
- An item's soft preference is the mean over its sample indices of the mean of that sample's
  calls (all judges, both orders). With several samples per item, CIs use the two-level
  bootstrap (items, then samples within items).
- Randomness: every bootstrap is seeded from ``options.seed`` plus the figure's name.

Pure functions; no I/O.

Modules: ``inputs`` (records, options, validation), ``tree`` (the report's dataclasses),
``pairwise``, ``absolute``, ``panel`` (judges, agreement), ``parity``, ``gate`` (is each judge
informative?), ``decision`` (power, headline, the decision rule and the verdict) and ``build``.
"""

from judge_service.runs.report.build import build_report
from judge_service.runs.report.inputs import (
    ORDERS,
    SYSTEMS,
    WINNER_VALUE,
    AbsoluteRecord,
    ItemInfo,
    PairwiseRecord,
    ReportOptions,
)
from judge_service.runs.report.pairwise import call_value, item_units
from judge_service.runs.report.tree import (
    AbsoluteSummary,
    Agreement,
    JudgeBreakdown,
    PairwiseSummary,
    Power,
    RunReport,
    SelfPreference,
)

__all__ = [
    "ORDERS", "SYSTEMS", "WINNER_VALUE", "AbsoluteRecord", "AbsoluteSummary", "Agreement", "ItemInfo",
    "JudgeBreakdown", "PairwiseRecord", "PairwiseSummary", "Power", "ReportOptions", "RunReport",
    "SelfPreference", "build_report", "call_value", "item_units",
]
