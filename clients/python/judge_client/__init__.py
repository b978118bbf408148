"""judge-client: the Python client for judge-service (httpx + pydantic only).

    from judge_client import JudgeClient
    client = JudgeClient()                      # $JUDGE_URL or http://127.0.0.1:8000
    report = client.evaluate("outputs.jsonl", baseline="base", candidate="tuned", rubric="helpfulness")
    print(report.verdict)
"""

from judge_client._async_client import AsyncJudgeClient
from judge_client._client import JudgeClient
from judge_client._exceptions import (
    APIConnectionError,
    APIResponseValidationError,
    APITimeoutError,
    Conflict,
    Forbidden,
    InternalError,
    InvalidInput,
    JudgeAuthError,
    JudgeError,
    JudgeServiceError,
    LabelSetMismatch,
    MissingExtra,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    RunFailed,
    Unauthorized,
    WaitTimeout,
)
from judge_client._models import (
    AbsoluteSummary,
    Agreement,
    Calibration,
    CalibrationCreated,
    Comparison,
    CostSummary,
    Criterion,
    Estimate,
    JudgeInfo,
    JudgeScore,
    JudgeVerdict,
    Judgment,
    LevelAgreement,
    Message,
    MetricScore,
    OrderVerdict,
    Overlap,
    PairedMetric,
    PairwiseAgreement,
    PairwiseSummary,
    Panel,
    Perplexity,
    PerplexityComparison,
    PerplexityResult,
    RaterAgreement,
    RaterPair,
    RaterVsRest,
    RatingSet,
    ReportJudge,
    RubricRef,
    RubricSummary,
    RubricPilot,
    RubricVariant,
    RubricVersion,
    RunComparison,
    VariantVerdict,
    RunCost,
    RunCreated,
    RunItemResult,
    RunProgress,
    RunReport,
    RunBatch,
    RunStatus,
    ScoreAgreement,
    ServiceModel,
    Spread,
    TextPerplexity,
    Usage,
)
from judge_client._version import __version__

__all__ = [
    "APIConnectionError", "APIResponseValidationError", "APITimeoutError", "AbsoluteSummary", "Agreement",
    "AsyncJudgeClient", "Calibration", "CalibrationCreated", "Comparison", "Conflict", "CostSummary", "Criterion",
    "Estimate", "Forbidden", "InternalError", "InvalidInput", "JudgeAuthError", "JudgeClient", "JudgeError",
    "JudgeInfo", "JudgeScore", "JudgeServiceError", "JudgeVerdict", "Judgment", "LabelSetMismatch",
    "LevelAgreement", "Message", "MetricScore", "MissingExtra", "NotFound", "OrderVerdict", "Overlap",
    "PairedMetric", "PairwiseAgreement", "PairwiseSummary", "Panel", "PayloadTooLarge", "Perplexity",
    "PerplexityComparison", "PerplexityResult", "RateLimited", "RaterAgreement", "RaterPair", "RaterVsRest",
    "RatingSet", "ReportJudge", "RubricPilot", "RubricRef", "RubricSummary", "RubricVariant", "RubricVersion", "RunComparison", "RunCost", "VariantVerdict", "RunCreated", "RunFailed",
    "RunItemResult", "RunBatch", "RunProgress", "RunReport", "RunStatus", "ScoreAgreement", "ServiceModel", "Spread",
    "TextPerplexity", "Unauthorized", "Usage", "WaitTimeout", "__version__",
]
from judge_client._models_imports import (  # noqa: E402  (appended per feature to keep merges simple)
    AlpacaArm,
    AlpacaEvalImport,
    ImportedRunItem,
    MTBenchImport,
    MTBenchPairwiseRow,
    MTBenchSingleScores,
)
__all__ += ["AlpacaArm", "AlpacaEvalImport", "ImportedRunItem", "MTBenchImport", "MTBenchPairwiseRow",
            "MTBenchSingleScores"]
from judge_client._models_evalsets import (  # noqa: E402
    EvalSetDiff,
    EvalSetHistory,
    EvalSetSummary,
    EvalSetVersion,
    EvalSetVersionWithItems,
)

__all__ += ["EvalSetDiff", "EvalSetHistory", "EvalSetSummary", "EvalSetVersion", "EvalSetVersionWithItems"]
from judge_client._models_evaluations import Evaluation, EvaluationLayer, EvaluationSummary  # noqa: E402

__all__ += ["Evaluation", "EvaluationLayer", "EvaluationSummary"]
from judge_client._models_evaluations import EvaluationComparison, EvaluationRerun  # noqa: E402
from judge_client._models_evalsets import EvalSetContamination  # noqa: E402
from judge_client._models_imports import RecordsImport, RecordsRunItem  # noqa: E402

__all__ += ["EvalSetContamination", "EvaluationComparison", "EvaluationRerun", "RecordsImport", "RecordsRunItem"]
from judge_client._models_training import (  # noqa: E402
    CheckpointSweep,
    SweepCheckpoint,
    TrainingAnalysis,
    TrainingAnalysisSummary,
    TrainingFlag,
)

__all__ += ["CheckpointSweep", "SweepCheckpoint", "TrainingAnalysis", "TrainingAnalysisSummary", "TrainingFlag"]
from judge_client._models_benchmarks import (  # noqa: E402
    BenchmarkComparison,
    BenchmarkPair,
    BenchmarkParity,
    BenchmarkRow,
    BenchmarkWarning,
    ParityFinding,
)

__all__ += ["BenchmarkComparison", "BenchmarkPair", "BenchmarkParity", "BenchmarkRow", "BenchmarkWarning",
            "ParityFinding"]

from judge_client._models_memorization import (  # noqa: E402
    Contamination, ContaminationImpact, CopiedSpan, CopyRates, ItemContamination, NearDuplicate, OverlapIndex,
    PairedCopyRates, Regurgitation, ScreenedOutput,
)

__all__ += ["Contamination", "ContaminationImpact", "CopiedSpan", "CopyRates", "ItemContamination", "NearDuplicate",
            "OverlapIndex", "PairedCopyRates", "Regurgitation", "ScreenedOutput"]

from judge_client._models import Decision, DecisionCheck, HardVotes  # noqa: E402  (the run report's decision)

__all__ += ["Decision", "DecisionCheck", "HardVotes"]

from judge_client._rating_tasks import RaterLink, RaterProgress, RatingTask, RatingTaskCreated  # noqa: E402

__all__ += ["RaterLink", "RaterProgress", "RatingTask", "RatingTaskCreated"]
