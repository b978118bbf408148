"""The evaluation as one self-contained HTML file: opens with no network (no script, no CDN, charts inline)."""

from __future__ import annotations

from html import escape
from typing import Any

_STATUS_COLOUR = {"better": "#1a7f37", "worse": "#c62828", "concern": "#b26a00", "cannot_judge": "#666",
                  "inconclusive": "#666", "equivalent": "#1f5fbf", "ok": "#1a7f37"}


def render(report: dict[str, Any], charts: dict[str, str]) -> str:
    summary = report["summary"]
    rows = "".join(
        f"<tr><td>{escape(l['layer'])}</td><td style='color:{_STATUS_COLOUR.get(l['status'], '#000')}'>"
        f"<b>{escape(l['status'])}</b></td><td>{escape(l['headline'])}</td>"
        f"<td>{escape(l.get('reason') or '')}</td><td>{escape(l.get('action') or '')}</td></tr>"
        for l in report["layers"])
    chart_html = "".join(f"<h2>{escape(name)}</h2>{svg}" for name, svg in charts.items())
    eval_set = report.get("eval_set")
    eval_set_line = (f"<p>Eval set: {escape(eval_set['name'])} v{eval_set['version']} "
                     f"(<code>{escape(eval_set.get('content_hash', '')[:12])}</code>)</p>") if eval_set else ""
    return (
        "<!doctype html><html lang='en'><meta charset='utf-8'>"
        f"<title>{escape(report['candidate'])} vs {escape(report['baseline'])}: {escape(summary['verdict'])}</title>"
        "<body style='font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;padding:0 1em'>"
        f"<h1>Did {escape(report['candidate'])} beat {escape(report['baseline'])}?</h1>"
        f"<p style='font-size:1.2em'><b>{escape(summary['verdict'])}</b>: {escape(summary['line'])}</p>"
        f"{eval_set_line}<p><small>Rule: {escape(summary['rule'])}</small></p>"
        "<table border='1' cellpadding='6' style='border-collapse:collapse'>"
        "<tr><th>layer</th><th>status</th><th>figures</th><th>why</th><th>what to do</th></tr>"
        f"{rows}</table>{chart_html}"
        f"<p><small>evaluation {escape(report['id'])}, status {escape(report['status'])}</small></p></body></html>")
