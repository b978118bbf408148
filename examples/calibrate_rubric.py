"""Calibrate a judge against your own human ratings (notebook style: run it cell by cell).

    judge serve &                                   # or set JUDGE_URL
    python examples/calibrate_rubric.py

Flow: upload human ratings as a rating set -> the service judges the same items with the
judge(s) you name and fits the judge's scores to the humans' (cross-validated, so the "after"
figures are out of sample) -> grade new responses with ``calibration=<id>`` to get scores on
the humans' scale.
"""

# %% Connect
import os
from pathlib import Path

from judge_client import JudgeClient

HERE = Path(__file__).resolve().parent
RATINGS = HERE / "human_ratings.csv"  # id, prompt, response, one column per rater (1-10 helpfulness)
RUBRIC = os.environ.get("CALIBRATE_RUBRIC", "helpfulness")
JUDGES = [j for j in os.environ.get("CALIBRATE_JUDGES", "").split(",") if j] or None  # None: the default panel

client = JudgeClient()  # $JUDGE_URL or http://127.0.0.1:8000; $JUDGE_API_KEY if the service needs one
print(client.health())

# %% Upload the human ratings. The set's id comes from its content: re-running this is a no-op.
rating_set = client.create_rating_set(RATINGS, name="helpfulness-humans", kind="ordinal", rubric=RUBRIC)
print(f"rating set {rating_set.id}: {rating_set.n_items} items rated by {', '.join(rating_set.raters)}")

# %% Judge the rated items and fit the judge to the humans (runs in the service; we wait for it).
created = client.create_calibration(rating_set=rating_set.id, rubric=RUBRIC, judges=JUDGES, folds=5)
calibration = client.wait_for_calibration(created.id, poll_interval=0.5)
if calibration.status != "done":
    raise SystemExit(f"calibration failed: {calibration.error}")

# %% How well does the judge agree with the humans? Every figure has a CI and an n.
report = calibration.report or {}
for name, figure in (report.get("judge_vs_human") or {}).items():
    if isinstance(figure, dict) and figure.get("estimate") is not None:
        print(f"{name:<12} {figure['estimate']:.3f}  [{figure['ci_low']:.3f}, {figure['ci_high']:.3f}]  n={figure['n']}")
fit = report.get("calibration") or {}
if "raw_mae" in fit:
    print(f"mean absolute error vs humans (out of sample): raw {fit['raw_mae']:.2f} -> calibrated {fit['calibrated_mae']:.2f}")

# %% Grade a new response on the humans' scale.
judgment = client.judge(rubric=RUBRIC, judges=JUDGES, calibration=calibration.id,
                        prompt="What is the tallest mountain on Earth?",
                        response="Mount Everest, at about 8,849 metres above sea level.")
print(f"raw score {judgment.score:.2f} -> calibrated {judgment.calibrated_score:.2f} (calibration {calibration.id})")
