// The owner's view of a blind rating task: each rater's progress and the agreement between raters,
// live as votes arrive; the votes as a rating set, and a calibration of the run's judges, one click each.
import { api, h, $, header, showError, hashParams, fmt, progressBar, setPage } from "./app.js";

header();
const taskId = hashParams().get("id");
let timer = null;

async function calibrate(task) {
  const out = $("#calibration");
  out.replaceChildren(h("p", {}, "Storing the votes as a rating set…"));
  try {
    const set = await api(`/v1/rating-tasks/${taskId}/rating-set`, { method: "POST" });
    const run = await api(`/v1/runs/${task.run_id}`);
    const cal = await api("/v1/calibrations", { method: "POST", body: { rating_set: set.id, judges: run.judges } });
    out.replaceChildren(h("p", {}, `Rating set ${set.id} (${set.n_items} items). Calibration `, h("code", { id: "calibration-id" }, cal.id), " started…"));
    const poll = async () => {
      const c = await api(`/v1/calibrations/${cal.id}`);
      out.replaceChildren(h("div", {}, h("p", {}, `Rating set `, h("code", { id: "rating-set-id" }, set.id), ` · calibration `, h("code", { id: "calibration-id" }, cal.id), ": ",
        h("strong", { id: "calibration-status" }, c.status)), c.error ? h("p", { class: "alert" }, c.error) : null,
        c.report ? h("details", {}, h("summary", {}, "Calibration report"), h("pre", {}, JSON.stringify(c.report, null, 1))) : null));
      if (c.status === "running") setTimeout(poll, 1000);
    };
    poll();
  } catch (e) { out.replaceChildren(h("div", { class: "alert", role: "alert" }, `${e.status}: ${e.message}`)); }
}

function progressSection(t) {
  return h("section", { class: "card", id: "progress" }, h("h2", {}, "Progress"), h("table", { id: "raters" }, h("tbody", {}, t.raters.map((r) =>
    h("tr", {}, h("td", {}, r.rater), h("td", {}, progressBar(r.rated, t.n_units)), h("td", {}, `${r.rated} / ${t.n_units}`))))));
}

function agreementSection(t) {
  const a = t.agreement;
  return h("section", { class: "card", id: "agreement" }, h("h2", {}, "Agreement between raters"),
    a.alpha === null || a.alpha === undefined ? h("p", { class: "muted" }, `Not yet: ${a.reason} (${a.n_items} items rated by two or more).`)
      : h("p", {}, `Krippendorff's alpha (${a.level}) ${fmt(a.alpha)} [${fmt(a.ci_low)}, ${fmt(a.ci_high)}] on ${a.n_items} ${t.mode === "absolute" ? "answers" : "items"}`),
    a.pairs.length ? h("ul", {}, a.pairs.map((p) => h("li", {}, `${p.raters.join(" vs ")}: Cohen's kappa ${fmt(p.cohen_kappa)}`))) : null,
    h("p", { class: "muted" }, "Raters do not see this, nor each other's votes."));
}

// The first load draws the page; later ones (every 3 s) replace only progress and agreement, so
// keyboard focus and the calibration's status stay where they are.
async function load() {
  try {
    const t = await api(`/v1/rating-tasks/${taskId}`);
    if ($("#progress")) {
      $("#progress").replaceWith(progressSection(t));
      $("#agreement").replaceWith(agreementSection(t));
      if (t.rating_set_id) $("#latest-set").replaceChildren("Latest rating set: ", h("code", {}, t.rating_set_id));
    } else {
      setPage(
        h("h1", {}, t.name), h("p", { class: "muted" }, t.mode === "absolute" ? `${t.n_units} answers (${t.n_items} items, both systems) from run ` : `${t.n_items} pairs from run `, h("a", { href: `run.html#id=${t.run_id}` }, t.run_id)),
        progressSection(t), agreementSection(t),
        h("section", { class: "card" }, h("h2", {}, "Use the ratings"),
          h("p", { id: "latest-set" }, t.rating_set_id ? ["Latest rating set: ", h("code", {}, t.rating_set_id)] : "No rating set yet."),
          h("button", { class: "primary", id: "calibrate", type: "button", onclick: () => calibrate(t) }, "Make a rating set and calibrate the judges"),
          h("div", { id: "calibration", "aria-live": "polite" })));
    }
    clearTimeout(timer);
    timer = setTimeout(load, 3000);
  } catch (e) { if (e.status !== 401) showError(e); }
}
load();
