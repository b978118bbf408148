"""Training curves: read the user's own logs, say whether and when overfitting began, where to stop.

readers/tfevents → bundle (one run) → series (normalised) → checks (flags) → curve (analysis) →
early_stopping (HF replay, epoch advice) → external / paired → report (one dict) → chart (SVG).
"""
