"""Agreement between two raters (judge vs human, rater vs rater) and among many.

Arrays in, small frozen dataclasses out; every figure is an :class:`Estimate` with a bootstrap CI
and its n. No I/O and no pydantic here: the HTTP edge is ``judge_service.api.agreement``.

Conventions worth knowing before reading the numbers:

* The label scale of ordinal data is GIVEN (from the rubric or the request), never inferred from
  the data: quadratic-weighted kappa on y1=[1,2,4,4,5,1,2], y2=[1,2,4,5,5,2,2] is 0.9375 on the
  scale 1..5 but 0.872727 if the unused label 3 is dropped.
* In two-list statistics ``a`` is the rater under test (the judge) and ``b`` the reference (the
  human); only precision and recall are asymmetric.
* CIs come from ``scipy.stats.bootstrap`` (BCa) resampling units, pairs kept together, with the
  generator seeded from a string so a report is reproducible.

One module per section: ``inputs`` (scales, votes), ``bootstrap`` (CIs), ``alpha``
(Krippendorff), ``scores``, ``pairwise``, ``raters``; the public names are gathered here.
"""

from __future__ import annotations

from judge_service.stats.agreement.alpha import krippendorff_alpha
from judge_service.stats.agreement.bootstrap import BootstrapConfig
from judge_service.stats.agreement.inputs import (
    ALPHA_LEVELS,
    KENDALL_VARIANTS,
    LEVELS,
    POSITIONAL_WARNING_RATIO,
    VOTE_ALIASES,
    OVERLAP_WARNING_SHARE,
    VOTES,
    check_on_scale,
    label_overlap_warnings,
    check_scale,
    check_votes,
    normalise_vote,
)
from judge_service.stats.agreement.pairwise import (
    PairwiseAgreement,
    PairwiseGroup,
    TwoOrderAccuracy,
    grouped_pairwise_agreement,
    pairwise_agreement,
)
from judge_service.stats.agreement.raters import RaterAgreement, RaterPair, RaterVsRest, rater_agreement
from judge_service.stats.agreement.scores import (
    Correlations,
    NominalAgreement,
    ScoreAgreement,
    grouped_correlations,
    nominal_agreement,
    score_agreement,
    system_correlations,
)

__all__ = ['ALPHA_LEVELS', 'BootstrapConfig', 'Correlations', 'NominalAgreement', 'OVERLAP_WARNING_SHARE', 'PairwiseGroup', 'TwoOrderAccuracy', 'grouped_pairwise_agreement', 'label_overlap_warnings', 'nominal_agreement', 'KENDALL_VARIANTS', 'LEVELS', 'POSITIONAL_WARNING_RATIO', 'PairwiseAgreement', 'RaterAgreement', 'RaterPair', 'RaterVsRest', 'ScoreAgreement', 'VOTES', 'VOTE_ALIASES', 'check_on_scale', 'check_scale', 'check_votes', 'grouped_correlations', 'krippendorff_alpha', 'normalise_vote', 'pairwise_agreement', 'rater_agreement', 'score_agreement', 'system_correlations']
