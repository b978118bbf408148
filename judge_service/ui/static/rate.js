// The blind rater's page. The token in the link is the only credential; the page shows no system
// names, no judge verdicts and no other rater's votes (the /rater-api answer carries none of them).
import { api, h, $, hashParams, showError, setPage } from "./app.js";

const token = hashParams().get("token");
let page = null;
let index = 0;

// What this rater rates: pairs (pairwise tasks) or single outputs (absolute tasks), in their own order.
const units = () => (page.mode === "absolute" ? page.units : page.pairs);
const idOf = (u) => u.unit_id || u.item_id;
const given = (u) => (page.mode === "absolute" ? u.score : u.vote);
const rated = () => units().filter(given).length;
const nextUnrated = (from) => {
  const all = units();
  for (let k = 0; k < all.length; k++) { const i = (from + k) % all.length; if (!given(all[i])) return i; }
  return -1;
};

async function vote(choice) {
  const unit = units()[index];
  if (page.mode === "absolute" ? !page.scale.map(String).includes(String(choice)) : !["left", "right", "tie"].includes(choice)) return;
  try {
    await api(`/rater-api/${encodeURIComponent(token)}/votes`, { method: "POST", body: { item_id: idOf(unit), vote: String(choice) }, key: false });
    if (page.mode === "absolute") unit.score = String(choice); else unit.vote = choice;
    const next = nextUnrated(index + 1);
    if (next >= 0) index = next;
    render(next < 0);
  } catch (e) { showError(e); }
}

function scale() {
  return h("details", { class: "card", id: "scale" }, h("summary", {}, `How to judge (${page.rubric})`),
    page.criteria.map((c) => h("div", {}, h("strong", {}, c.name), h("p", {}, c.description),
      h("dl", {}, Object.entries(c.anchors).map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])))));
}

// Absolute tasks: one output, and a button per score of the rubric's scale with its anchor text.
function scoreButtons(unit) {
  const anchors = (page.criteria[0] || { anchors: {} }).anchors;
  return h("div", { class: "scores", role: "group", "aria-label": "your score" }, page.scale.map((v) => h("button", {
    type: "button", class: unit.score === String(v) ? "chosen" : "", "aria-pressed": unit.score === String(v) ? "true" : "false",
    "data-score": v, title: anchors[String(v)] || "", onclick: () => vote(v) },
    h("strong", {}, String(v)), anchors[String(v)] ? h("span", { class: "anchor" }, anchors[String(v)]) : null)));
}

function renderAbsolute(finished) {
  const unit = page.units[index];
  const n = page.units.length;
  setPage(
    h("h1", {}, page.task),
    h("p", { id: "progress", "aria-live": "polite" }, `${rated()} of ${n} answers scored`, h("span", { class: "muted" }, ` · answer ${index + 1} of ${n} · rating as ${page.rater}`)),
    h("div", { class: "progress", role: "progressbar", "aria-valuemin": 0, "aria-valuemax": n, "aria-valuenow": rated() }, h("span", { style: `width:${(100 * rated()) / n}%` })),
    finished ? h("p", { class: "card pass", id: "done" }, `All ${n} answers scored. Thank you! You can go back to any answer and change your score.`) : null,
    h("article", { class: "card", id: "pair", "data-item": unit.unit_id },
      h("div", { class: "conversation" }, unit.conversation.map(([role, text]) => h("div", { class: "turn" }, h("strong", {}, role), h("div", { class: "output" }, text)))),
      h("h2", {}, "The answer"), h("div", { class: "output", id: "response" }, unit.response),
      h("h2", {}, `Your score (${page.criteria.map((c) => c.name).join(", ")})`), scoreButtons(unit),
      h("div", { class: "controls" },
        h("button", { type: "button", id: "prev", disabled: index === 0, onclick: () => { index -= 1; render(); } }, "← Previous ", h("kbd", {}, "p")),
        h("button", { type: "button", id: "next", disabled: index === n - 1, onclick: () => { index += 1; render(); } }, "Next → ", h("kbd", {}, "n")))),
    h("p", { class: "muted" }, "Keys: ", h("kbd", {}, "1"), "–", h("kbd", {}, "9"), " score, ", h("kbd", {}, "0"), " for 10, ", h("kbd", {}, "n"), "/", h("kbd", {}, "p"),
      " next/previous. Scores are saved as you go: come back with the same link to continue."),
    scale());
}

function render(finished = false) {
  if (page.mode === "absolute") { renderAbsolute(finished); return; }
  const pair = page.pairs[index];
  const n = page.pairs.length;
  const choice = (value, label, key) => h("button", { type: "button", class: pair.vote === value ? "chosen" : "", "aria-pressed": pair.vote === value ? "true" : "false",
    "data-vote": value, onclick: () => vote(value) }, label, " ", h("kbd", {}, key));
  setPage(
    h("h1", {}, page.task),
    h("p", { id: "progress", "aria-live": "polite" }, `${rated()} of ${n} pairs rated`, h("span", { class: "muted" }, ` · pair ${index + 1} of ${n} · rating as ${page.rater}`)),
    h("div", { class: "progress", role: "progressbar", "aria-valuemin": 0, "aria-valuemax": n, "aria-valuenow": rated() }, h("span", { style: `width:${(100 * rated()) / n}%` })),
    finished ? h("p", { class: "card pass", id: "done" }, `All ${n} pairs rated. Thank you! You can go back to any pair and change your vote.`) : null,
    h("article", { class: "card", id: "pair", "data-item": pair.item_id },
      h("div", { class: "conversation" }, pair.conversation.map(([role, text]) => h("div", { class: "turn" }, h("strong", {}, role), h("div", { class: "output" }, text)))),
      h("div", { class: "side" },
        h("section", {}, h("h2", {}, "Response 1"), ownTurns(pair.conversation, pair.left_history), h("div", { class: "output", id: "left" }, pair.left)),
        h("section", {}, h("h2", {}, "Response 2"), ownTurns(pair.conversation, pair.right_history), h("div", { class: "output", id: "right" }, pair.right))),
      h("div", { class: "controls", role: "group", "aria-label": "your vote" },
        choice("left", "Response 1 is better", "1"), choice("tie", "About the same", "3"), choice("right", "Response 2 is better", "2")),
      h("div", { class: "controls" },
        h("button", { type: "button", id: "prev", disabled: index === 0, onclick: () => { index -= 1; render(); } }, "← Previous ", h("kbd", {}, "p")),
        h("button", { type: "button", id: "next", disabled: index === n - 1, onclick: () => { index += 1; render(); } }, "Next → ", h("kbd", {}, "n")))),
    h("p", { class: "muted" }, "Keys: ", h("kbd", {}, "1"), " response 1 better, ", h("kbd", {}, "2"), " response 2 better, ", h("kbd", {}, "3"), " or ", h("kbd", {}, "t"),
      " about the same, ", h("kbd", {}, "n"), "/", h("kbd", {}, "p"), " next/previous. Your votes are saved as you go: close the page and come back with the same link to continue."),
    scale());
}

// Multi-turn items whose systems answered the earlier turns themselves: this side's own conversation
// (each user turn but the last followed by its own answer), shown above its response.
function ownTurns(conversation, history) {
  if (!history || history.length === 0) return null;
  const users = conversation.filter(([role]) => role === "user").length;
  const turns = [];
  let seen = 0;
  for (const [role, text] of conversation) {
    turns.push([role, text]);
    if (role === "user" && ++seen < users) turns.push(["assistant", history[seen - 1]]);
  }
  return h("div", { class: "conversation own" }, turns.map(([role, text]) => h("div", { class: "turn" }, h("strong", {}, role), h("div", { class: "output" }, text))));
}

document.addEventListener("keydown", (ev) => {
  if (!page || ev.ctrlKey || ev.metaKey || ev.altKey || ["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement.tagName)) return;
  const move = { n: () => { if (index < units().length - 1) { index += 1; render(); } }, p: () => { if (index > 0) { index -= 1; render(); } } };
  const votes = page.mode === "absolute"
    ? (/^[0-9]$/.test(ev.key) ? { [ev.key]: () => vote(ev.key === "0" ? 10 : Number(ev.key)) } : {})
    : { 1: () => vote("left"), 2: () => vote("right"), 3: () => vote("tie"), t: () => vote("tie") };
  const action = { ...move, ...votes }[ev.key];
  if (action) { ev.preventDefault(); action(); }
});

async function load() {
  if (!token) { setPage(h("p", { class: "alert" }, "This page needs the rating link you were sent (it ends in #token=…).")); return; }
  try {
    page = await api(`/rater-api/${encodeURIComponent(token)}`, { key: false });
    if (!units().length) { setPage(h("p", {}, "This task has nothing to rate.")); return; }
    const first = nextUnrated(0);  // resume where this rater stopped
    index = first < 0 ? 0 : first;
    render(first < 0);
  } catch (e) { setPage(); showError(e); }
}
load();
