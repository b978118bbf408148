// The side-by-side reader: what was asked, both outputs, each judge's verdict and rationale for each
// order, flags; filters, search and paging run on the server (GET /v1/reader/runs/{id}/items).
import { api, h, $, header, showError, hashParams, fmt, setPage } from "./app.js";

header();
const FILTERS = { all: "All items", judges_disagree: "Judges disagree", orders_disagree: "Orders disagree",
  candidate_lost: "Candidate lost", longest: "Longest answers", flagged: "Flagged", failed: "Failed" };
const PAGE = 20;
let run = null;

function setParams(changes) {
  const p = hashParams();
  for (const [k, v] of Object.entries(changes)) { if (v === null || v === "" || v === undefined) p.delete(k); else p.set(k, v); }
  location.hash = p.toString();
}

function controls(total) {
  const p = hashParams();
  const offset = Number(p.get("offset") || 0);
  const filter = h("select", { id: "filter", "aria-label": "filter", onchange: (ev) => setParams({ filter: ev.target.value, offset: null }) },
    Object.entries(FILTERS).map(([k, label]) => h("option", { value: k, selected: (p.get("filter") || "all") === k }, label)));
  const search = h("input", { id: "search", type: "search", placeholder: "search prompts and outputs", value: p.get("q") || "", "aria-label": "search" });
  const form = h("form", { role: "search", onsubmit: (ev) => { ev.preventDefault(); setParams({ q: search.value, offset: null }); } }, search, " ", h("button", { type: "submit" }, "Search"));
  return h("div", { class: "controls" }, h("label", { for: "filter" }, "Show"), filter, form,
    p.get("ids") ? h("span", { id: "selection" }, h("span", { class: "badge" }, `${p.get("ids").split(",").length} item(s) from a figure`), " ",
      h("button", { type: "button", onclick: () => setParams({ ids: null, offset: null }) }, "Show all")) : null,
    h("span", { class: "muted", id: "count" }, `${total} item(s)`, total > PAGE ? ` · ${offset + 1}–${Math.min(total, offset + PAGE)}` : ""),
    offset > 0 ? h("button", { type: "button", onclick: () => setParams({ offset: Math.max(0, offset - PAGE) }) }, "← Previous") : null,
    offset + PAGE < total ? h("button", { type: "button", onclick: () => setParams({ offset: offset + PAGE }) }, "Next →") : null);
}

// A system's own earlier answers (multi-turn items where each system answered the earlier turns itself).
function earlier(history) {
  if (!history || history.length === 0) return null;
  return h("div", { class: "conversation own" }, history.map((text, k) => h("div", { class: "turn" }, h("strong", {}, `its answer to user turn ${k + 1}`), h("div", { class: "output" }, text))));
}

function conversation(item) {
  return h("div", { class: "conversation" }, item.conversation.map(([role, text]) => h("div", { class: "turn" }, h("strong", {}, role), h("div", { class: "output" }, text))),
    item.reference ? h("p", {}, h("strong", {}, "Reference: "), item.reference) : null);
}

function verdicts(item) {
  const r = item.result || {};
  const parts = [];
  if (r.pairwise) {
    const pw = r.pairwise;
    parts.push(h("p", { class: "item-verdict" }, h("strong", {}, "Winner: "), pw.winner || "—", ` · P(candidate better) ${fmt(pw.prob_candidate, 2)}`));
    parts.push(h("ul", {}, (pw.judges || []).map((j) => h("li", {}, `${j.judge}: ${j.winner || "unscored"} (P ${fmt(j.prob_candidate, 2)})`,
      j.consistent === false ? h("span", { class: "badge flag" }, "orders disagree") : ""))));
  }
  if (r.absolute) {
    const ab = r.absolute;
    parts.push(h("p", {}, h("strong", {}, "Scores: "), `${run.baseline} ${fmt((ab.baseline || {}).score, 2)} · ${run.candidate} ${fmt((ab.candidate || {}).score, 2)}`));
  }
  return parts;
}

function rationales(item) {
  const name = (x) => (x.order === "AB" ? `order AB (${run.baseline} shown first)` : x.order === "BA" ? `order BA (${run.candidate} shown first)`
    : `grading ${x.system === "candidate" ? run.candidate : run.baseline}`);
  const rank = (x) => ({ AB: 0, BA: 1 }[x.order] ?? (x.system === "baseline" ? 2 : 3));
  const sorted = [...item.rationales].sort((a, b) => a.judge.localeCompare(b.judge) || rank(a) - rank(b));
  return h("details", { class: "rationales" }, h("summary", {}, `Judges' rationales (${item.rationales.length})`),
    sorted.map((x) => h("div", { class: "rationale", "data-judge": x.judge, "data-order": x.order || "" },
      h("strong", {}, `${x.judge}, ${name(x)}: `), x.error ? h("span", { class: "fail" }, `error: ${x.error}`) : (x.rationale || h("span", { class: "muted" }, "no rationale given")))));
}

// An output with each highlighted span marked: judge-directed text, and text copied from training data.
function marked(text, spans) {
  const hits = [];
  for (const sp of spans) {
    for (let at = text.indexOf(sp.text); sp.text && at >= 0; at = text.indexOf(sp.text, at + sp.text.length)) hits.push([at, at + sp.text.length, sp.kind]);
  }
  hits.sort((a, b) => a[0] - b[0]);
  const parts = [];
  let pos = 0;
  for (const [start, end, kind] of hits) {
    if (start < pos) continue;
    parts.push(text.slice(pos, start), h("mark", { class: kind === "copied" ? "copied" : "directed", title: kind === "copied" ? "copied from training data" : "addresses the judge" }, text.slice(start, end)));
    pos = end;
  }
  parts.push(text.slice(pos));
  return parts;
}

function card(item) {
  const spans = (side) => (item.highlights || []).filter((x) => x.side === side);
  return h("article", { class: "card item", id: `item-${item.id}`, "data-item": item.id },
    h("div", { class: "pair-head" }, h("h2", {}, `Item ${item.id}`),
      h("span", {}, item.flags.map((f) => h("span", { class: "badge flag" }, f)), item.status !== "done" ? h("span", { class: "badge status-failed" }, item.status) : null)),
    item.error ? h("p", { class: "alert" }, item.error) : null,
    conversation(item),
    h("div", { class: "side" },
      h("section", {}, h("h3", {}, `${run.baseline} (baseline)`, h("span", { class: "muted" }, ` ${item.baseline.length} chars`)), earlier(item.baseline_history), h("div", { class: "output", "data-side": "baseline" }, marked(item.baseline, spans("baseline")))),
      h("section", {}, h("h3", {}, `${run.candidate} (candidate)`, h("span", { class: "muted" }, ` ${item.candidate.length} chars`)), earlier(item.candidate_history), h("div", { class: "output", "data-side": "candidate" }, marked(item.candidate, spans("candidate"))))),
    verdicts(item), rationales(item));
}

let latest = 0; // the newest load: an older one's answer arriving later must not replace its page

async function load() {
  const mine = ++latest;
  const p = hashParams();
  const runId = p.get("run");
  try {
    if (!run) run = (await api("/v1/reader/runs?limit=1000")).find((r) => r.id === runId) || await api(`/v1/runs/${runId}`);
    const q = new URLSearchParams({ filter: p.get("filter") || "all", q: p.get("q") || "", offset: p.get("offset") || 0, limit: PAGE });
    if (p.get("ids")) q.set("ids", p.get("ids"));
    const page = await api(`/v1/reader/runs/${runId}/items?${q}`);
    if (mine !== latest) return; // the filter, search or page changed while this was loading
    setPage(h("h1", {}, "Items of ", h("a", { href: `run.html#id=${runId}` }, runId), `: ${run.baseline} vs ${run.candidate}`),
      controls(page.total), h("div", { id: "items" }, page.items.length ? page.items.map(card) : h("p", { class: "muted" }, "No item matches.")));
  } catch (e) { if (e.status !== 401 && mine === latest) showError(e); }
}
window.addEventListener("hashchange", load);
load();
