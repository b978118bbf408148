"""An SVG of the curves: train and eval loss, the band of equivalent checkpoints, the best and the onset.

Hand-written SVG (no plotting dependency): the report, the CLI's ``--html`` and the web UI embed
it as it is, and it opens with no network.
"""

from __future__ import annotations

from html import escape

from judge_service.training.analysis import CurveAnalysis
from judge_service.training.series import TrainingLog

W, H, PAD_L, PAD_R, PAD_T, PAD_B = 720, 360, 64, 16, 28, 40


def render(log: TrainingLog, analysis: CurveAnalysis) -> str:
    eval_s = log.series.get(analysis.metric)
    train = log.series.get("train_loss")
    if eval_s is None or not eval_s.points:
        return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="80" role="img">'
                f'<text x="10" y="40" font-family="sans-serif" font-size="14">{escape(analysis.reason)}</text></svg>')
    xs = [p.step for p in eval_s.points] + ([p.step for p in train.points] if train else [])
    x0, x1 = min(xs), max(xs) or 1
    ev = eval_s.values
    lo, hi = min(ev), max(ev)
    # The y range follows the eval curve (the subject); train values outside it are clipped, since an
    # early train loss of 25 would otherwise flatten every eval wobble.
    if train and not analysis.greater_is_better:
        lo = min(lo, min(train.values))
    span = (hi - lo) or max(abs(hi), 1e-9)
    floor = 0.0 if lo >= 0 else lo - 0.1 * span  # losses are never negative: do not draw an axis below 0
    lo, hi = max(lo - 0.1 * span, floor), hi + 0.25 * span

    def x(step: float) -> float:
        return PAD_L + (step - x0) / max(x1 - x0, 1) * (W - PAD_L - PAD_R)

    def y(value: float) -> float:
        v = min(max(value, lo), hi)
        return PAD_T + (hi - v) / (hi - lo) * (H - PAD_T - PAD_B)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" '
             f'aria-label="{escape(analysis.metric)} and train loss by step" font-family="sans-serif" font-size="11">',
             f'<rect x="0" y="0" width="{W}" height="{H}" fill="white"/>']
    if analysis.best is not None and analysis.band_width is not None:
        top = analysis.best.value + (-analysis.band_width if analysis.greater_is_better else analysis.band_width)
        y_a, y_b = sorted((y(analysis.best.value), y(top)))
        parts.append(f'<rect x="{PAD_L}" y="{y_a:.1f}" width="{W - PAD_L - PAD_R}" height="{max(y_b - y_a, 1):.1f}" '
                     f'fill="#2a7" fill-opacity="0.15"><title>within noise of the best (±{analysis.band_width:.3g})</title></rect>')
    for frac in (0, 0.25, 0.5, 0.75, 1):
        value = lo + frac * (hi - lo)
        parts.append(f'<line x1="{PAD_L}" x2="{W - PAD_R}" y1="{y(value):.1f}" y2="{y(value):.1f}" stroke="#eee"/>'
                     f'<text x="{PAD_L - 6}" y="{y(value) + 4:.1f}" text-anchor="end">{value:.3g}</text>')
    for frac in (0, 0.5, 1):
        step = x0 + frac * (x1 - x0)
        parts.append(f'<text x="{x(step):.1f}" y="{H - PAD_B + 16}" text-anchor="middle">{step:.0f}</text>')
    parts.append(f'<text x="{(W + PAD_L) / 2:.0f}" y="{H - 6}" text-anchor="middle">step</text>')
    if train and train.points:
        pts = " ".join(f"{x(p.step):.1f},{y(p.value):.1f}" for p in train.points)
        parts.append(f'<polyline points="{pts}" fill="none" stroke="#99a" stroke-width="1"><title>train_loss</title></polyline>')
    pts = " ".join(f"{x(p.step):.1f},{y(p.value):.1f}" for p in eval_s.points)
    parts.append(f'<polyline points="{pts}" fill="none" stroke="#1f5fbf" stroke-width="2"/>')
    for p in eval_s.points:
        parts.append(f'<circle cx="{x(p.step):.1f}" cy="{y(p.value):.1f}" r="2.5" fill="#1f5fbf">'
                     f'<title>step {p.step}: {p.value:.4g}</title></circle>')
    if analysis.best is not None:
        bx = x(analysis.best.step)
        parts.append(f'<line x1="{bx:.1f}" x2="{bx:.1f}" y1="{PAD_T}" y2="{H - PAD_B}" stroke="#2a7" stroke-width="1.5"/>'
                     f'<text x="{bx + 4:.1f}" y="{PAD_T + 10}" fill="#2a7">best: step {analysis.best.step}</text>')
    if analysis.onset is not None:
        a, b = (x(s) for s in analysis.onset.interval)
        parts.append(f'<rect x="{a:.1f}" y="{PAD_T}" width="{max(b - a, 1):.1f}" height="{H - PAD_T - PAD_B}" '
                     f'fill="#d33" fill-opacity="0.12"><title>rise began in steps {analysis.onset.interval}</title></rect>')
    parts.append(f'<text x="{PAD_L}" y="16" font-size="13">{escape(analysis.metric)} — {escape(analysis.verdict)}'
                 '</text><text x="{0}" y="16" text-anchor="end" fill="#99a">grey: train_loss</text>'.format(W - PAD_R))
    parts.append("</svg>")
    return "".join(parts)
