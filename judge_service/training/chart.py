"""The chart: train and eval curves with the band of equivalent checkpoints, the best checkpoint
and the onset marked, as hand-written SVG (no plotting dependency; the report, the HTTP route and
the CLI's ``--html`` embed the same text).

It draws from the stored result dict (``report.analysis_to_dict``), so a stored analysis can be
drawn again without its logs.
"""

from __future__ import annotations

import math
from html import escape
from typing import Any

WIDTH, HEIGHT = 760, 360
LEFT, RIGHT, TOP, BOTTOM = 64, 64, 40, 48


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    if high <= low:
        return [low]
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = min((m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw), default=raw)
    start = math.ceil(low / step) * step
    return [start + i * step for i in range(int((high - start) / step) + 1)]


def _range(values: list[float]) -> tuple[float, float]:
    low, high = min(values), max(values)
    pad = (high - low) * 0.08 or abs(high) * 0.05 or 1.0
    return low - pad, high + pad


def render_svg(result: dict[str, Any]) -> str:
    chart = result.get("chart") or {}
    eval_points: list[list[float]] = chart.get("eval", [])
    train_points: list[list[float]] = chart.get("train", [])
    primary = result.get("primary") or {}
    metric = escape(str(result.get("metric", "eval_loss")))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" '
             'font-family="sans-serif" font-size="11">',
             f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>']
    title = f"{metric}: {escape(str(result.get('verdict', '')))}"
    parts.append(f'<text x="{LEFT}" y="20" font-size="13" font-weight="bold">{title}</text>')
    if not eval_points and not train_points:
        parts.append(f'<text x="{LEFT}" y="{HEIGHT // 2}">no series to draw</text></svg>')
        return "".join(parts)
    steps = [p[0] for p in eval_points + train_points]
    x_low, x_high = 0.0, max(steps) or 1.0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(step: float) -> float:
        return LEFT + (step - x_low) / (x_high - x_low) * plot_w

    e_low, e_high = _range([p[1] for p in eval_points]) if eval_points else (0.0, 1.0)
    band = primary.get("band_threshold")
    best_value = primary.get("best_value")
    if band is not None and best_value is not None:
        e_low, e_high = min(e_low, best_value - band), max(e_high, best_value + band)

    def ye(v: float) -> float:
        return TOP + (e_high - v) / (e_high - e_low) * plot_h

    # train on its own (right) axis; a start-up spike is left out of the scale, not of the data
    skip = 1 if result.get("start_up_spike") and len(train_points) > 1 else 0
    t_low, t_high = _range([p[1] for p in train_points[skip:]]) if train_points else (0.0, 1.0)

    def yt(v: float) -> float:
        return TOP + (t_high - min(max(v, t_low), t_high)) / (t_high - t_low) * plot_h

    parts.append(f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#999"/>')
    if band is not None and best_value is not None and primary.get("band_steps"):
        lo_v = best_value - band if primary.get("greater_is_better") else best_value
        hi_v = best_value if primary.get("greater_is_better") else best_value + band
        first, last = min(primary["band_steps"]), max(primary["band_steps"])
        # the value band across the whole run (faint), and the equivalent checkpoints' span (stronger)
        parts.append(f'<rect x="{LEFT}" y="{ye(hi_v):.1f}" width="{plot_w}" height="{max(ye(lo_v) - ye(hi_v), 1):.1f}" '
                     'fill="#4c9be8" fill-opacity="0.07"/>')
        left, right = x(first) - 6, x(last) + 6
        parts.append(f'<rect x="{left:.1f}" y="{ye(hi_v):.1f}" width="{right - left:.1f}" '
                     f'height="{max(ye(lo_v) - ye(hi_v), 1):.1f}" fill="#4c9be8" fill-opacity="0.18">'
                     '<title>checkpoints equivalent to the best (within noise)</title></rect>')
    onset = primary.get("onset")
    if onset:
        lo, hi = onset["interval"]
        parts.append(f'<rect x="{x(lo):.1f}" y="{TOP}" width="{max(x(hi) - x(lo), 2):.1f}" height="{plot_h}" '
                     'fill="#e8744c" fill-opacity="0.12"><title>overfitting onset interval</title></rect>')
        parts.append(f'<line x1="{x(onset["step"]):.1f}" y1="{TOP}" x2="{x(onset["step"]):.1f}" y2="{TOP + plot_h}" '
                     'stroke="#e8744c" stroke-dasharray="5,3"/>')
        parts.append(f'<text x="{x(onset["step"]) + 4:.1f}" y="{TOP + 12}" fill="#c0502a">onset {onset["step"]}</text>')
    for tick in _ticks(x_low, x_high):
        parts.append(f'<text x="{x(tick):.1f}" y="{TOP + plot_h + 16}" text-anchor="middle">{tick:g}</text>')
    for tick in _ticks(e_low, e_high):
        parts.append(f'<text x="{LEFT - 6}" y="{ye(tick) + 4:.1f}" text-anchor="end" fill="#1f5fa8">{tick:.4g}</text>')
    if train_points:
        for tick in _ticks(t_low, t_high):
            parts.append(f'<text x="{LEFT + plot_w + 6}" y="{yt(tick) + 4:.1f}" fill="#777">{tick:.3g}</text>')
        path = " ".join(f"{x(s):.1f},{yt(v):.1f}" for s, v in train_points)
        parts.append(f'<polyline points="{path}" fill="none" stroke="#aaa" stroke-width="1"/>')
    if eval_points:
        path = " ".join(f"{x(s):.1f},{ye(v):.1f}" for s, v in eval_points)
        parts.append(f'<polyline points="{path}" fill="none" stroke="#1f5fa8" stroke-width="2"/>')
        for s, v in eval_points:
            parts.append(f'<circle cx="{x(s):.1f}" cy="{ye(v):.1f}" r="2.5" fill="#1f5fa8"/>')
    if primary.get("best_step") is not None and best_value is not None:
        bx, by = x(primary["best_step"]), ye(best_value)
        parts.append(f'<circle cx="{bx:.1f}" cy="{by:.1f}" r="6" fill="none" stroke="#1a9c3c" stroke-width="2"/>')
        parts.append(f'<text x="{bx:.1f}" y="{by + 18:.1f}" text-anchor="middle" fill="#1a9c3c">best {primary["best_step"]}</text>')
    parts.append(f'<text x="{LEFT + plot_w / 2:.1f}" y="{HEIGHT - 10}" text-anchor="middle">step</text>')
    parts.append(f'<text x="{LEFT}" y="{TOP - 6}" fill="#1f5fa8">{metric} (left)</text>')
    if train_points:
        parts.append(f'<text x="{LEFT + plot_w}" y="{TOP - 6}" text-anchor="end" fill="#777">train loss (right)</text>')
    parts.append("</svg>")
    return "".join(parts)


def render_html(result: dict[str, Any], report_text: str) -> str:
    return ("<!doctype html><html><head><meta charset='utf-8'><title>training curve analysis</title></head><body>"
            f"{render_svg(result)}<pre>{escape(report_text)}</pre></body></html>")
