// A run's report: the verdict and its decision checks, the figures (each linked to the items behind
// it), cost, and the human-rating tasks of this run. Refreshes itself while the run is working.
import { api, h, $, header, showError, hashParams, fmt, ci, statusBadge, progressBar, setPage } from "./app.js";
import { intervalPlot, scatter, histogram } from "./charts.js";

header();
const runId = hashParams().get("id");
const itemsLink = (params) => `items.html#${new URLSearchParams({ run: runId, ...params })}`;
const est = (label, e, extra = {}) => ({ label, estimate: e ? e.estimate : null, ci_low: e ? e.ci_low : null, ci_high: e ? e.ci_high : null, ...extra });
const figure = (id, title, svg, caption) => h("figure", { class: "card", id }, h("h2", {}, title), svg, caption ? h("figcaption", { class: "muted" }, caption) : null);

function decision(report) {
  const d = report.decision || { checks: [] };
  return h("section", { class: "card", id: "verdict" },
    h("p", { class: "verdict" }, report.verdict),
    h("p", { class: "muted" }, `headline: ${report.headline_metric || "—"} ${ci(report.headline)}`, d.outcome ? ` · outcome: ${d.outcome}` : ""),
    d.checks.length ? h("div", { class: "scroll" }, h("table", { id: "checks" },
      h("thead", {}, h("tr", {}, ["Decision check", "Result", "Detail"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, d.checks.map((c) => h("tr", {},
        h("td", {}, c.name, c.blocking === false ? h("span", { class: "muted" }, " (caution)") : ""),
        h("td", { class: c.passed === true ? "pass" : c.passed === false ? (c.blocking === false ? "caution" : "fail") : "muted" },
          c.passed === true ? "✓ passed" : c.passed === false ? "✗ failed" : "—"),
        h("td", {}, c.detail || "")))))) : null,
    d.rule ? h("details", {}, h("summary", {}, "The rule"), h("p", {}, d.rule)) : null,
    (report.warnings || []).map((w) => h("p", { class: "note" }, w)));
}

function pairwiseFigures(report, points) {
  const pw = report.pairwise;
  if (!pw) return [];
  const judges = report.judges || [];
  const rows = [est("win rate", pw.win_rate, { href: itemsLink({ filter: "all" }) }),
    est("LC win rate", pw.length_controlled_win_rate, { href: itemsLink({ filter: "longest" }) }),
    ...(pw.style_controlled_win_rate ? [est("style-controlled", pw.style_controlled_win_rate)] : []),
    ...Object.entries(pw.win_rate_by_order || {}).map(([o, e]) => est(`win rate, order ${o}`, e, { href: itemsLink({ filter: "orders_disagree" }) })),
    ...judges.map((j) => est(`judge ${j.judge}`, j.win_rate, { href: itemsLink({ filter: "judges_disagree" }),
      color: j.excluded || j.informative === false ? "#b3261e" : "#1f5fbf", note: j.informative === false ? "uninformative" : j.excluded ? "excluded" : "" }))];
  const bias = judges.flatMap((j) => [
    est(`${j.judge}: first-position share`, j.first_position_share, { href: itemsLink({ filter: "orders_disagree" }), color: "#9a6700" }),
    est(`${j.judge}: position consistency`, j.position_consistency, { href: itemsLink({ filter: "orders_disagree" }) })]);
  const pts = points.filter((p) => p.prob_candidate !== null).map((p) => ({ x: p.length_difference, y: p.prob_candidate, id: p.id,
    href: itemsLink({ ids: p.id }), color: p.winner === "candidate" ? "#1b7f3b" : p.winner === "baseline" ? "#b3261e" : "#888" }));
  return [
    figure("fig-winrate", "Win rate, LC win rate and per judge (95% CI)", intervalPlot(rows, { title: "win rates", reference: 0.5, domain: [0, 1], axisLabel: "P(candidate better)" }),
      "A row links to the items behind it. Red: a judge kept out of the headline."),
    figure("fig-position", "Position bias per judge", intervalPlot(bias, { title: "position bias", reference: 0.5, domain: [0, 1] }),
      "First-position share 0.5 = no position bias; consistency = both orders named the same winner."),
    figure("fig-length", "Length difference vs preference", scatter(pts, { title: "length difference vs preference", xLabel: "candidate − baseline length (characters)",
      yLabel: "P(candidate better)", yDomain: [-0.05, 1.05], yReference: 0.5 }),
      "One point per item (green: candidate won, red: baseline won); a point opens its item. A rising cloud means the judges track length."),
  ];
}

function absoluteFigures(report, points) {
  const ab = report.absolute;
  if (!ab) return [];
  const rows = [est("score difference", ab.score_difference, { href: itemsLink({ filter: "candidate_lost" }) }),
    ...Object.entries(ab.criteria || {}).map(([c, e]) => est(c, e)),
    ...(ab.length && ab.length.adjusted ? [est("length-adjusted", ab.length.adjusted)] : [])];
  const hrefFor = (ids) => itemsLink({ ids: ids.join(",") });
  return [
    figure("fig-scores", "Score distributions", histogram([
      { name: report.baseline, color: "#b3261e", values: points.map((p) => ({ v: p.baseline_score, id: p.id })) },
      { name: report.candidate, color: "#1b7f3b", values: points.map((p) => ({ v: p.candidate_score, id: p.id })) }],
      { title: "score distributions", xLabel: "score", hrefFor }), "A bar links to its items."),
    figure("fig-score-diff", "Score differences (candidate − baseline, 95% CI)", intervalPlot(rows, { title: "score differences", reference: 0 })),
  ];
}

function cost(status) {
  const c = status.cost;
  if (!c) return null;
  const usd = (v) => (v === null || v === undefined ? "unknown" : `$${fmt(v, 4)}`);
  return h("section", { class: "card", id: "cost" }, h("h2", {}, "Cost"),
    h("p", {}, `${usd(c.usd)} · ${c.calls} calls (${c.cached_calls} cached, ${c.failed_calls} failed${c.unpriced_calls ? `, ${c.unpriced_calls} unpriced` : ""}) · `,
      `${c.input_tokens} tokens in, ${c.output_tokens} out`),
    h("div", { class: "scroll" }, h("table", {}, h("thead", {}, h("tr", {}, ["Judge", "USD", "Calls", "Cached", "Tokens in", "Tokens out"].map((x) => h("th", { scope: "col" }, x)))),
      h("tbody", {}, Object.entries(c.by_judge || {}).map(([j, v]) => h("tr", {}, h("td", {}, j), h("td", {}, usd(v.usd)), h("td", {}, v.calls),
        h("td", {}, v.cached_calls), h("td", {}, v.input_tokens), h("td", {}, v.output_tokens)))))));
}

function ratingSection(tasks) {
  const out = h("div", { id: "task-created", "aria-live": "polite" });
  const names = h("input", { id: "raters", name: "raters", value: "ann, bob", size: 30 });
  const count = h("input", { id: "n-items", type: "number", min: 1, placeholder: "all", size: 6 });
  const mode = h("select", { id: "rating-mode" }, h("option", { value: "pairwise" }, "pairwise: which answer is better"),
    h("option", { value: "absolute" }, "absolute: score each answer on the rubric's scale"));
  const form = h("form", { class: "controls", onsubmit: async (ev) => {
    ev.preventDefault();
    out.replaceChildren();
    const body = { run_id: runId, mode: mode.value, raters: names.value.split(",").map((x) => x.trim()).filter(Boolean) };
    if (count.value) body.n_items = Number(count.value);
    try {
      const t = await api("/v1/rating-tasks", { method: "POST", body });
      out.append(h("p", {}, "Task ", h("a", { href: `task.html#id=${t.id}` }, t.id), ` (${t.mode}) over ${t.n_items} items. Send each rater their link (shown once):`),
        h("ul", { id: "rater-links" }, t.raters.map((r) => h("li", {}, `${r.rater}: `, h("a", { href: r.link, "data-rater": r.rater }, new URL(r.link, location.href).href)))));
    } catch (e) { out.append(h("div", { class: "alert", role: "alert" }, `${e.status}: ${e.message}`)); }
  } }, h("label", { for: "raters" }, "Raters"), names, h("label", { for: "n-items" }, "Items"), count, h("label", { for: "rating-mode" }, "Mode"), mode,
     h("button", { class: "primary", type: "submit" }, "Create a blind rating task"));
  return h("section", { class: "card", id: "ratings" }, h("h2", {}, "Human ratings"),
    h("p", { class: "muted" }, "Raters see the pairs in a random order, positions randomised, with no system names and no judge verdicts."),
    tasks.length ? h("ul", {}, tasks.map((t) => h("li", {}, h("a", { href: `task.html#id=${t.id}` }, t.name),
      ` (${t.mode}) · ${t.raters.map((r) => `${r.rater} ${r.rated}/${t.n_units}`).join(", ")}`))) : null, form, out);
}

async function load() {
  try {
    const [status, report, points, tasks] = await Promise.all([api(`/v1/runs/${runId}`), api(`/v1/runs/${runId}/report`),
      api(`/v1/reader/runs/${runId}/points`), api(`/v1/rating-tasks?run_id=${encodeURIComponent(runId)}`)]);
    const p = status.progress;
    setPage(
      h("h1", {}, `Run ${runId}: ${status.baseline} → ${status.candidate}`),
      h("p", {}, statusBadge(status.status), " ", `${status.rubric.name}@${status.rubric.version} · ${status.mode} · judges ${status.judges.join(", ")} · `,
        `${p.done} done, ${p.failed} failed of ${p.total}`, progressBar(p.done + p.failed, p.total)),
      h("p", {}, h("a", { href: itemsLink({}), id: "read-items" }, "Read the items side by side →")),
      decision(report), h("div", { class: "figures" }, ...pairwiseFigures(report, points), ...absoluteFigures(report, points)),
      cost(status), ratingSection(tasks));
    if (status.status === "queued" || status.status === "running") setTimeout(load, 2000);
  } catch (e) { if (e.status !== 401) showError(e); }
}
load();
