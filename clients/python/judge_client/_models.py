"""Typed results. Every model allows extra fields: a newer service may add fields (the API
contract only grows), and an older client must keep parsing its answers. Fields the service
documents but may leave out are optional here, so a partial answer never breaks a caller."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ServiceModel(BaseModel):
    model_config = ConfigDict(extra="allow", protected_namespaces=())


class Message(ServiceModel):
    role: Literal["system", "user", "assistant"]
    content: str


class RubricRef(ServiceModel):
    name: str
    version: int
    hash: str
    variant: str = "default"


class Spread(ServiceModel):
    n: int
    mean: float | None = None
    stdev: float | None = None
    min: float | None = None
    max: float | None = None


class Usage(ServiceModel):
    input_tokens: int = 0
    output_tokens: int = 0


class Panel(ServiceModel):
    method: str
    spread: Spread | None = None
    unscored: list[str] = Field(default_factory=list)
    votes: dict[str, int] | None = None


class JudgeScore(ServiceModel):
    """One judge's part of an absolute judgment."""

    judge: str
    model: str
    score: float | None = None
    criteria: dict[str, float] = Field(default_factory=dict)
    rationale: str | None = None
    method: str | None = None
    cached: bool = False
    latency_ms: float = 0.0
    usage: Usage = Field(default_factory=Usage)
    cost_usd: float | None = None
    samples: list[float] = Field(default_factory=list)
    sample_spread: Spread | None = None
    error: str | None = None
    variant: str = "default"  # the rubric wording this judge read


class VariantVerdict(ServiceModel):
    """One rubric wording's own verdict in a panel over variants."""

    rubric: RubricRef
    score: float | None = None
    criteria: dict[str, float] = Field(default_factory=dict)
    winner: Literal["A", "B", "tie"] | None = None
    prob_a: float | None = None
    spread: Spread | None = None


class Judgment(ServiceModel):
    """``POST /v1/judgments``: an absolute grade against a rubric."""

    id: str
    kind: Literal["judgment"] = "judgment"
    rubric: RubricRef
    score: float | None = None
    criteria: dict[str, float] = Field(default_factory=dict)
    length_adjusted_score: float | None = None
    calibrated_score: float | None = None
    calibration_id: str | None = None
    judges: list[JudgeScore] = Field(default_factory=list)
    panel: Panel | None = None
    cost_usd: float | None = None
    created_at: str | None = None
    # Signals about the text under judgment, e.g. "judge_directed_instructions".
    flags: list[str] = Field(default_factory=list)
    variants: list[VariantVerdict] = Field(default_factory=list)  # with rubric_variants: each wording's verdict


class OrderVerdict(ServiceModel):
    """One judge's verdict in one presentation order, translated back to the caller's A and B."""

    order: Literal["AB", "BA"]
    judge: str
    winner: Literal["A", "B", "tie"] | None = None
    prob_a: float | None = None
    rationale: str | None = None
    method: str | None = None
    samples: list[str] = Field(default_factory=list)
    sample_spread: Spread | None = None
    cached: bool = False
    error: str | None = None
    variant: str = "default"


class JudgeVerdict(ServiceModel):
    judge: str
    model: str
    winner: Literal["A", "B", "tie"] | None = None
    prob_a: float | None = None
    consistent: bool | None = None
    cached: bool = False
    latency_ms: float = 0.0
    usage: Usage = Field(default_factory=Usage)
    cost_usd: float | None = None
    error: str | None = None
    variant: str = "default"


class Comparison(ServiceModel):
    """``POST /v1/comparisons``: pairwise, both orders run for every judge."""

    id: str
    kind: Literal["comparison"] = "comparison"
    rubric: RubricRef
    winner: Literal["A", "B", "tie"] | None = None
    prob_a: float | None = None
    consistent: bool | None = None
    orders: list[OrderVerdict] = Field(default_factory=list)
    judges: list[JudgeVerdict] = Field(default_factory=list)
    panel: Panel | None = None
    cost_usd: float | None = None
    created_at: str | None = None
    # Signals about the text under judgment, e.g. "judge_directed_instructions".
    flags: list[str] = Field(default_factory=list)
    variants: list[VariantVerdict] = Field(default_factory=list)  # with rubric_variants: each wording's verdict


class JudgeInfo(ServiceModel):
    name: str
    provider: str
    model: str
    family: str | None = None
    health: str | None = None
    in_default_panel: bool = False


class RubricSummary(ServiceModel):
    name: str
    latest_version: int
    versions: list[int] = Field(default_factory=list)
    description: str = ""
    modes: list[str] = Field(default_factory=list)
    invalid_versions: dict[str, str] = Field(default_factory=dict)


class Criterion(ServiceModel):
    name: str
    description: str = ""
    scale: list[Any] = Field(default_factory=list)
    anchors: dict[str, str] = Field(default_factory=dict)


class RubricVariant(ServiceModel):
    variant: str
    hash: str
    ref: str
    note: str | None = None


class RubricPilot(ServiceModel):
    """A rubric pilot's report (``POST /v1/rubrics/{name}/pilot``)."""

    id: str
    rubric: RubricRef
    variants: list[RubricVariant]
    judges: list[str]
    samples: int
    temperature: float
    n_items: int
    created_at: str
    wording_sensitive: bool
    most_stable_variant: str | None = None
    most_discriminating_variant: str | None = None
    verdict: str
    absolute: dict[str, Any] | None = None
    pairwise: dict[str, Any] | None = None
    cost: dict[str, Any] = Field(default_factory=dict)
    warnings: list[str] = Field(default_factory=list)


class RunComparison(ServiceModel):
    """Two runs side by side (``GET /v1/runs/{id}/compare/{other}``): warnings name a rubric change."""

    runs: list[dict[str, Any]]
    same_rubric: bool
    rubric_diff: str | None = None
    warnings: list[str] = Field(default_factory=list)


class RubricVersion(ServiceModel):
    name: str
    version: int
    hash: str
    description: str = ""
    modes: list[str] = Field(default_factory=list)
    requires_reference: bool = False
    criteria: list[Criterion] = Field(default_factory=list)
    content: dict[str, Any] = Field(default_factory=dict)
    variants: list[RubricVariant] = Field(default_factory=list)


class RunCreated(ServiceModel):
    id: str
    status: str


class RunProgress(ServiceModel):
    done: int = 0
    failed: int = 0
    pending: int = 0
    total: int = 0


FINISHED_RUN_STATUSES = frozenset({"done", "failed", "cancelled"})


class CostSummary(ServiceModel):
    """What judge calls cost. ``usd`` is None when a paid call's judge has no configured price
    (unknown, not free: ``unpriced_calls`` says how many); cached calls cost 0."""

    usd: float | None = None
    calls: int = 0
    cached_calls: int = 0
    failed_calls: int = 0
    unpriced_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    direct_usd: float | None = None  # the same paid calls at the direct (non-batch) price


class RunCost(CostSummary):
    by_judge: dict[str, CostSummary] = Field(default_factory=dict)


class RunBatch(ServiceModel):
    """One provider batch of a run's calls (``execution: batch``)."""

    id: str
    judge: str
    provider_batch_id: str | None = None
    status: str  # submitting | pending | cancelling | collected | cancelled | failed
    provider_status: str | None = None
    submitted: int = 0
    completed: int = 0
    failed: int = 0
    pending: int = 0
    created_at: str | None = None
    ended_at: str | None = None
    error: str | None = None


class RunStatus(ServiceModel):
    id: str
    status: str
    progress: RunProgress = Field(default_factory=RunProgress)
    execution: dict[str, str] = Field(default_factory=dict)  # judge -> "direct" | "batch"
    batches: list[RunBatch] = Field(default_factory=list)
    rubric: dict[str, Any] = Field(default_factory=dict)
    judges: list[str] = Field(default_factory=list)
    mode: str | None = None
    baseline: str | None = None
    candidate: str | None = None
    error: str | None = None
    created_at: str | None = None
    finished_at: str | None = None
    cost: RunCost | None = None
    rubric_variants: list[dict[str, Any]] = Field(default_factory=list)
    pilot: dict[str, Any] | None = None
    eval_set: dict[str, Any] | None = None  # {name, version}: the eval-set version the items come from

    @property
    def finished(self) -> bool:
        return self.status in FINISHED_RUN_STATUSES


class RunItemResult(ServiceModel):
    id: str
    status: str
    error: str | None = None
    result: dict[str, Any] | None = None


class Estimate(ServiceModel):
    """A figure with its confidence interval and the n it rests on."""

    estimate: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    n: int = 0
    p_value: float | None = None
    method: str | None = None
    reason: str | None = None


class ScoreAgreement(ServiceModel):
    n: int
    pearson: Estimate
    spearman: Estimate
    kendall: Estimate
    kendall_variant: str | None = None
    exact_agreement: Estimate | None = None
    within_one_agreement: Estimate | None = None
    quadratic_kappa: Estimate | None = None
    warnings: list[str] = Field(default_factory=list)


class NominalAgreement(ServiceModel):
    """Unordered categories: exact agreement and unweighted Cohen's kappa."""

    n: int
    exact_agreement: Estimate
    cohen_kappa: Estimate
    classes: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)


class TwoOrderAccuracy(ServiceModel):
    """Accuracy of a judge seen in both orders; ``headline`` names which figure ``accuracy`` is."""

    n: int
    first_order: Estimate
    second_order: Estimate
    mean_of_orders: Estimate
    both_orders_correct: Estimate
    net_vote: Estimate
    consistent_vote: Estimate
    headline: str = "first_order"


class PairwiseGroupAgreement(ServiceModel):
    group: str
    n: int
    n_missing: int = 0
    accuracy: Estimate
    accuracy_without_ties: Estimate | None = None
    cohen_kappa: Estimate | None = None
    macro_f1: Estimate | None = None
    two_order_mean: Estimate | None = None


class LevelAgreement(ServiceModel):
    level: str
    n: int
    pearson: Estimate
    spearman: Estimate
    kendall: Estimate
    kendall_variant: str | None = None
    groups_used: int | None = None
    groups_skipped: int | None = None


class PairwiseAgreement(ServiceModel):
    n: int
    accuracy: Estimate
    accuracy_without_ties: Estimate | None = None
    cohen_kappa: Estimate
    macro_precision: Estimate | None = None
    macro_recall: Estimate | None = None
    macro_f1: Estimate | None = None
    positional_agreement: Estimate | None = None
    classes: list[str] = Field(default_factory=list)
    n_missing: int = 0  # items where a or b was null (missing), excluded above
    accuracy_missing_as_wrong: Estimate | None = None
    warnings: list[str] = Field(default_factory=list)
    two_order: TwoOrderAccuracy | None = None


class RaterVsRest(ServiceModel):
    rater: int
    statistics: dict[str, Estimate] = Field(default_factory=dict)


class RaterPair(ServiceModel):
    rater_a: int
    rater_b: int
    cohen_kappa: Estimate


class RaterAgreement(ServiceModel):
    raters: int
    units: int
    alpha_level: str
    alpha: Estimate
    rater_vs_rest: list[RaterVsRest] = Field(default_factory=list)
    pairs: list[RaterPair] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)


class Agreement(ServiceModel):
    """``POST /v1/agreement``: judge vs human (or rater vs rater) statistics, each with a CI."""

    kind: str
    confidence: float
    n_resamples: int
    scores: ScoreAgreement | None = None
    grouped: LevelAgreement | None = None
    system: LevelAgreement | None = None
    pairwise: PairwiseAgreement | None = None
    pairwise_groups: list[PairwiseGroupAgreement] | None = None
    nominal: NominalAgreement | None = None
    raters: RaterAgreement | None = None


class JointCheckpoint(ServiceModel):
    n: int
    win_rate: float
    length_controlled: float
    intercept: float
    length_slope: float
    sensitivity: float
    length_controlled_ci: Estimate | None = None


class JointLengthControl(ServiceModel):
    """``POST /v1/length-control/joint``: LC win rates of several checkpoints with a shared item difficulty."""

    n_items: int
    models: dict[str, JointCheckpoint] = Field(default_factory=dict)
    difficulty: dict[str, float] = Field(default_factory=dict)
    probes_used: int = 0


class HardVotes(ServiceModel):
    """Items won, tied and lost on the calls' winners alone; ``p_value``: two-sided sign test."""

    wins: int = 0
    ties: int = 0
    losses: int = 0
    p_value: float | None = None


class DecisionCheck(ServiceModel):
    """One condition of the decision rule (``passed`` None = not applicable; non-blocking = a caution)."""

    name: str
    passed: bool | None = None
    blocking: bool = True
    detail: str = ""


class Decision(ServiceModel):
    """How the verdict was reached: the rule in words, each check, and the outcome."""

    rule: str
    outcome: str
    checks: list[DecisionCheck] = Field(default_factory=list)


class PairwiseSummary(ServiceModel):
    """The pairwise half of a run report: candidate's win rate over baseline (ties count half)."""

    n_items: int = 0
    wins: int = 0
    ties: int = 0
    losses: int = 0
    win_rate: Estimate | None = None
    win_rate_by_order: dict[str, Estimate] = Field(default_factory=dict)
    length_controlled_win_rate: Estimate | None = None
    style_controlled_win_rate: Estimate | None = None
    position: dict[str, Any] | None = None
    hard_votes: HardVotes | None = None
    length_control: dict[str, Any] | None = Field(
        default=None, description="the GLM's coefficients and warnings; 'probes' says whether length probes pinned "
                                  "its length slope, how many, and the measured slope")

    @property
    def length_probes(self) -> dict[str, Any]:
        """The length-probe part of the length-control section ({"used": False} without probes)."""
        return dict((self.length_control or {}).get("probes") or {"used": False})


class AbsoluteSummary(ServiceModel):
    """The absolute half: mean score difference (candidate - baseline), overall and per criterion."""

    n_items: int = 0
    score_difference: Estimate | None = None
    criteria: dict[str, Estimate] = Field(default_factory=dict)
    length: dict[str, Any] | None = None


class ReportJudge(ServiceModel):
    """One judge's own figures within a run report."""

    judge: str
    family: str | None = None
    win_rate: Estimate | None = None
    position_consistency: Estimate | None = None
    first_position_share: Estimate | None = None
    score_difference: Estimate | None = None
    unscored: int = 0
    self_preferring_for: list[str] = Field(default_factory=list)
    excluded: bool = False
    informative: bool | None = None  # None: no pairwise calls to judge it by
    informativeness: dict[str, Any] | None = None


class RunReport(ServiceModel):
    """``GET /v1/runs/{id}/report``: the decision. ``verdict`` is the one-line answer and
    ``headline`` the figure it rests on; every figure is an ``Estimate`` with its CI and n."""

    run_id: str
    status: str
    complete: bool = False
    progress: RunProgress = Field(default_factory=RunProgress)
    rubric: dict[str, Any] = Field(default_factory=dict)
    # Judge names while a run is in flight; each judge's figures (ReportJudge) once reported.
    judges: list[ReportJudge | str] = Field(default_factory=list)
    baseline: str | None = None
    candidate: str | None = None
    mode: str | None = None
    n_items: int | None = None
    verdict: str | None = None
    headline_metric: str | None = None
    headline: Estimate | None = None
    pairwise: PairwiseSummary | None = None
    absolute: AbsoluteSummary | None = None
    agreement: dict[str, Any] | None = None
    # Prediction-powered human-scale win rate, when some items carry a ``human_preference``.
    ppi: dict[str, Any] | None = None
    self_preference: dict[str, Any] | None = None
    arm_parity: list[str] = Field(default_factory=list)
    power: list[dict[str, Any]] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    options: dict[str, Any] = Field(default_factory=dict)
    cost: RunCost | None = None
    decision: Decision | None = None
    # Runs over several rubric variants: per-variant figures and the share of each interval from wording.
    wording: dict[str, Any] | None = None
    rubric_variants: list[dict[str, Any]] = Field(default_factory=list)
    pilot: dict[str, Any] | None = None  # the latest pilot of the run's rubric version, when one was made
    # Imported judges (items' external_judgments): figures, FastChat's tally, per-item verdicts; not re-run.
    external_judges: list[dict[str, Any]] = Field(default_factory=list)


class MetricScore(ServiceModel):
    score: float
    ci_low: float | None = None
    ci_high: float | None = None
    confidence: float | None = None
    n: int = 0
    higher_is_better: bool = True
    scale: float = 1.0
    signature: str | None = None
    per_item: list[float] | None = None


class PairedMetric(ServiceModel):
    """System B vs system A on one metric: ``difference`` is B - A, with its CI and p-value."""

    score_a: float
    score_b: float
    difference: float
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = None
    confidence: float | None = None
    n: int = 0
    higher_is_better: bool = True
    verdict: str | None = None


class Overlap(ServiceModel):
    """``POST /v1/metrics/overlap``: BLEU, chrF, TER, ROUGE, exact match, token F1, ... with CIs."""

    n: int
    metrics: dict[str, MetricScore] = Field(default_factory=dict)
    paired: dict[str, PairedMetric] = Field(default_factory=dict)
    per_class: dict[str, dict[str, float]] | None = None


class TextPerplexity(ServiceModel):
    perplexity: float | None = None
    nll_sum: float | None = None
    token_count: int = 0
    byte_count: int = 0
    bits_per_byte: float | None = None


class PerplexityResult(ServiceModel):
    model: str
    corpus_perplexity: float | None = None
    mean_nll_per_token: float | None = None
    bits_per_byte: float | None = None
    total_tokens: int = 0
    total_bytes: int = 0
    texts: list[TextPerplexity] = Field(default_factory=list)


class PerplexityComparison(ServiceModel):
    measure: str
    per_text_difference: list[float | None] = Field(default_factory=list)
    difference: Estimate
    confidence: float | None = None
    verdict: str | None = None


class Perplexity(ServiceModel):
    """``POST /v1/metrics/perplexity``: one model (``result``) or base vs tuned (``comparison``)."""

    mode: str
    remote: bool = False
    result: PerplexityResult | None = None
    base: PerplexityResult | None = None
    tuned: PerplexityResult | None = None
    comparison: PerplexityComparison | None = None


class RatingSet(ServiceModel):
    """Human ratings stored by the service; the id is derived from the content, so uploading the
    same ratings twice gives the same set."""

    id: str
    name: str
    kind: str
    rubric: str | None = None
    hash: str
    n_items: int
    raters: list[str] = Field(default_factory=list)
    created_at: str | None = None


class CalibrationCreated(ServiceModel):
    id: str
    status: str


FINISHED_CALIBRATION_STATUSES = frozenset({"done", "failed"})


class Calibration(ServiceModel):
    """A judge fitted to human ratings: ``report`` holds judge-vs-human agreement (cross-validated,
    with CIs) and ``mapping`` the fitted map applied when a judgment names this calibration."""

    id: str
    status: str
    rating_set: str | None = None
    rubric: dict[str, Any] = Field(default_factory=dict)
    judges: list[str] = Field(default_factory=list)
    judge_models: dict[str, str] = Field(default_factory=dict)
    folds: int | None = None
    mapping: dict[str, Any] | None = None
    report: dict[str, Any] | None = None
    error: str | None = None
    created_at: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED_CALIBRATION_STATUSES
