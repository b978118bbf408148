// Runs and evaluations, with live status and progress while anything is running; and a form to start a run.
import { api, h, $, header, showError, statusBadge, progressBar, setPage } from "./app.js";

header();
let timer = null;

function runsTable(runs) {
  if (!runs.length) return h("p", { class: "muted" }, "No runs yet. Start one below, with curl (POST /v1/runs), the client or `judge run create`.");
  return h("div", { class: "scroll" }, h("table", { id: "runs" },
    h("thead", {}, h("tr", {}, ["Run", "Status", "Progress", "Baseline → candidate", "Rubric", "Judges", "Created"].map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, runs.map((r) => h("tr", { "data-run": r.id },
      h("td", {}, h("a", { href: `run.html#id=${encodeURIComponent(r.id)}` }, r.id)),
      h("td", {}, statusBadge(r.status)),
      h("td", {}, progressBar(r.done + r.failed, r.total), h("span", { class: "muted" }, ` ${r.done + r.failed} / ${r.total}`, r.failed ? ` (${r.failed} failed)` : "")),
      h("td", {}, `${r.baseline} → ${r.candidate}`), h("td", {}, r.rubric), h("td", {}, r.judges.join(", ")),
      h("td", { class: "muted" }, r.created_at.replace("T", " ").slice(0, 19)))))));
}

function evaluationsTable(evs) {
  if (!evs.length) return h("p", { class: "muted" }, "No evaluations yet (POST /v1/evaluations or `judge evaluate eval.yaml`).");
  return h("div", { class: "scroll" }, h("table", { id: "evaluations" },
    h("thead", {}, h("tr", {}, ["Evaluation", "Baseline → candidate", "Layers", "Created"].map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, evs.map((e) => h("tr", {},
      h("td", {}, h("a", { href: `evaluation.html#id=${encodeURIComponent(e.id)}` }, e.name || e.id)),
      h("td", {}, `${e.baseline} → ${e.candidate}`), h("td", {}, e.layers.join(", ")),
      h("td", { class: "muted" }, e.created_at.replace("T", " ").slice(0, 19)))))));
}

function startForm() {
  const out = h("div", { id: "start-result", "aria-live": "polite" });
  const form = h("form", { id: "start-run", class: "card", onsubmit: async (ev) => {
    ev.preventDefault();
    const data = new FormData(form);
    const spec = { rubric: data.get("rubric"), baseline: data.get("baseline"), candidate: data.get("candidate"), mode: data.get("mode") };
    const body = new FormData();
    body.append("spec", JSON.stringify(spec));
    body.append("file", data.get("file"));
    out.replaceChildren();
    try {
      const run = await api("/v1/runs/upload", { method: "POST", body });
      out.append(h("p", {}, "Started ", h("a", { href: `run.html#id=${run.id}` }, run.id), "."));
      refresh();
    } catch (e) { out.append(h("div", { class: "alert", role: "alert" }, `${e.status}: ${e.message}`)); }
  } },
  h("h2", {}, "Start a run"),
  h("p", { class: "muted" }, "A JSONL or CSV file of items (needs a write key when API keys are on)."),
  h("div", { class: "controls" },
    h("label", {}, "Items file ", h("input", { type: "file", name: "file", required: true, accept: ".jsonl,.csv,.json" })),
    h("label", {}, "Rubric ", h("input", { name: "rubric", value: "helpfulness", size: 14 })),
    h("label", {}, "Baseline ", h("input", { name: "baseline", value: "base", size: 10 })),
    h("label", {}, "Candidate ", h("input", { name: "candidate", value: "tuned", size: 10 })),
    h("label", {}, "Mode ", h("select", { name: "mode" }, ["pairwise", "absolute", "both"].map((m) => h("option", {}, m)))),
    h("button", { class: "primary", type: "submit" }, "Start run")), out);
  return form;
}

async function refresh() {
  try {
    const [runs, evs] = await Promise.all([api("/v1/reader/runs"), api("/v1/reader/evaluations")]);
    const runsBox = $("#runs-box"), evBox = $("#evaluations-box");
    if (runsBox.contains(document.activeElement) || evBox.contains(document.activeElement)) {  // keep keyboard focus
      clearTimeout(timer); timer = setTimeout(refresh, 1500); return;
    }
    runsBox.replaceChildren(runsTable(runs));
    evBox.replaceChildren(evaluationsTable(evs));
    // Fast while something runs, slower when idle (so a run started elsewhere still shows up).
    clearTimeout(timer);
    timer = setTimeout(refresh, runs.some((r) => r.status === "queued" || r.status === "running") ? 1500 : 5000);
  } catch (e) { if (e.status !== 401) showError(e); }
}

setPage(h("h1", {}, "Runs and evaluations"), h("h2", {}, "Runs"), h("div", { id: "runs-box" }),
  h("h2", {}, "Evaluations"), h("div", { id: "evaluations-box" }), startForm());
refresh();
