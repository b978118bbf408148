// An evaluation's report: the combined line, each layer's verdict, and each layer's figure
// (judge win rates, benchmark forest plot with regressions marked, training curves, overlap rates).
import { api, h, $, header, showError, hashParams, ci, setPage } from "./app.js";
import { intervalPlot } from "./charts.js";

header();
const evalId = hashParams().get("id");
const STATUS_CLASS = { better: "pass", ok: "pass", equivalent: "muted", worse: "fail", concern: "fail", inconclusive: "caution", cannot_judge: "caution" };
const est = (label, e, extra = {}) => ({ label, estimate: e ? e.estimate : null, ci_low: e ? e.ci_low : null, ci_high: e ? e.ci_high : null, ...extra });
const figure = (id, title, ...body) => h("figure", { class: "card", id }, h("h2", {}, title), ...body);

async function judgeFigure(runId) {
  const report = await api(`/v1/runs/${runId}/report`);
  const pw = report.pairwise;
  const rows = pw ? [est("win rate", pw.win_rate), est("LC win rate", pw.length_controlled_win_rate),
    ...(report.judges || []).map((j) => est(`judge ${j.judge}`, j.win_rate))] : [];
  return figure("layer-judge", "Judge layer", h("p", {}, report.verdict, " · ", h("a", { href: `run.html#id=${runId}` }, "the run's report →")),
    rows.length ? intervalPlot(rows, { title: "judge win rates", reference: 0.5, domain: [0, 1], axisLabel: "P(candidate better)" }) : null);
}

async function benchmarkFigure(id) {
  const c = await api(`/v1/benchmark-comparisons/${id}`);
  return figure("layer-benchmarks", "Benchmarks: tuned − base per task and metric (95% CI)", ...c.comparisons.map((pair) => {
    const rows = pair.rows.map((r) => est(`${r.task} ${r.metric}`, r.difference, {
      color: r.status === "regressed" ? "#b3261e" : r.status === "improved" ? "#1b7f3b" : "#5b6673",
      note: r.status === "regressed" ? "▼ regression" : r.status === "improved" ? "▲ improved" : r.status }));
    return h("div", {}, h("p", { class: "muted" }, `${pair.tuned} vs ${pair.base}: `, Object.entries(pair.counts).map(([k, v]) => `${v} ${k}`).join(", "),
      pair.gate_failed ? h("strong", { class: "fail" }, " · regression gate failed") : ""),
      intervalPlot(rows, { title: "benchmark forest plot", reference: 0, axisLabel: "difference (tuned − base)" }),
      pair.warnings.map((w) => h("p", { class: "note" }, w.message)));
  }));
}

// The training chart is drawn by the service (training/chart.py, the one home of that figure); it is
// fetched with the page's key and inserted as parsed SVG, with anything active stripped.
async function trainingFigure(id) {
  const a = await api(`/v1/training-logs/analyses/${id}`);
  const text = await api(`/v1/training-logs/analyses/${id}/chart.svg`);
  const doc = new DOMParser().parseFromString(text, "image/svg+xml");
  const svg = doc.documentElement;
  svg.querySelectorAll("script, foreignObject").forEach((n) => n.remove());
  svg.querySelectorAll("*").forEach((n) => [...n.attributes].forEach((at) => { if (at.name.startsWith("on") || at.name.includes("href")) n.removeAttribute(at.name); }));
  svg.setAttribute("class", "chart");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `training curves: ${a.verdict}`);
  const p = a.primary || {};
  return figure("layer-training", "Training curves", document.importNode(svg, true),
    h("p", {}, `verdict: ${a.verdict}`, p.best_step !== undefined ? ` · best checkpoint at step ${p.best_step}` : "",
      p.onset ? ` · overfitting onset at step ${p.onset.step}` : " · no overfitting onset"),
    a.reasons.map((r) => h("p", { class: "muted" }, r)));
}

async function overlapFigure(refs) {
  const rows = [];
  if (refs.regurgitation_id) {
    const r = await api(`/v1/regurgitation/${refs.regurgitation_id}`);
    rows.push(est("tuned: copies training text", r.tuned.any_copy, { color: "#b3261e" }), est("tuned: regurgitation (≥ 50 tokens)", r.tuned.regurgitation, { color: "#b3261e" }));
    if (r.base) rows.push(est("base: copies training text", r.base.any_copy, { color: "#5b6673" }), est("base: regurgitation", r.base.regurgitation, { color: "#5b6673" }));
  }
  if (refs.contamination_id) {
    const c = await api(`/v1/contamination/${refs.contamination_id}`);
    rows.push(est("eval items in training data", c.contamination_rate, { color: "#9a6700" }));
  }
  return figure("layer-overlap", "Overlap rates (95% CI)", intervalPlot(rows, { title: "overlap rates", domain: [0, 1], axisLabel: "share" }));
}

async function load() {
  try {
    const ev = await api(`/v1/evaluations/${evalId}`);
    const refs = ev.references;
    setPage(
      h("h1", {}, `Evaluation ${ev.name || ev.id}: ${ev.baseline} → ${ev.candidate}`),
      h("section", { class: "card", id: "verdict" }, h("p", { class: "verdict" }, ev.summary.line),
        h("p", { class: "muted" }, `verdict: ${ev.summary.verdict} · status: ${ev.status}`, ev.eval_set ? ` · eval set ${ev.eval_set.name} v${ev.eval_set.version}` : ""),
        ev.summary.concerns.map((c) => h("p", { class: "note" }, c)),
        ev.summary.missing.length ? h("p", { class: "muted" }, `layers not given: ${ev.summary.missing.join(", ")}`) : null,
        h("details", {}, h("summary", {}, "The rule"), h("p", {}, ev.summary.rule))),
      h("div", { class: "scroll" }, h("table", { id: "layers" }, h("thead", {}, h("tr", {}, ["Layer", "Status", "Headline", "Why / what to do"].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, ev.layers.map((l) => h("tr", {}, h("td", {}, l.layer), h("td", { class: STATUS_CLASS[l.status] || "" }, l.status), h("td", {}, l.headline),
          h("td", {}, l.reason || "", l.action ? h("div", { class: "muted" }, l.action) : "")))))),
      h("div", { id: "figures" }));
    const jobs = [];
    if (refs.judge) jobs.push(judgeFigure(refs.judge));
    if (refs.benchmarks) jobs.push(benchmarkFigure(refs.benchmarks));
    if (refs.training) jobs.push(trainingFigure(refs.training));
    if (refs.regurgitation_id || refs.contamination_id) jobs.push(overlapFigure(refs));
    for (const fig of await Promise.allSettled(jobs)) {
      if (fig.status === "fulfilled") $("#figures").append(fig.value); else showError(fig.reason);
    }
    if (ev.status === "running") setTimeout(load, 3000);
  } catch (e) { if (e.status !== 401) showError(e); }
}
load();
