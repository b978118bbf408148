// The blind rater's page. The token in the link is the only credential; the page shows no system
// names, no judge verdicts and no other rater's votes (the /rater-api answer carries none of them).
import { api, h, $, hashParams, showError } from "./app.js";

const token = hashParams().get("token");
let page = null;
let index = 0;

const rated = () => page.pairs.filter((p) => p.vote).length;
const nextUnrated = (from) => {
  for (let k = 0; k < page.pairs.length; k++) { const i = (from + k) % page.pairs.length; if (!page.pairs[i].vote) return i; }
  return -1;
};

async function vote(choice) {
  const pair = page.pairs[index];
  try {
    await api(`/rater-api/${encodeURIComponent(token)}/votes`, { method: "POST", body: { item_id: pair.item_id, vote: choice }, key: false });
    pair.vote = choice;
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

function render(finished = false) {
  const pair = page.pairs[index];
  const n = page.pairs.length;
  const choice = (value, label, key) => h("button", { type: "button", class: pair.vote === value ? "chosen" : "", "aria-pressed": pair.vote === value ? "true" : "false",
    "data-vote": value, onclick: () => vote(value) }, label, " ", h("kbd", {}, key));
  $("#page").replaceChildren(
    h("h1", {}, page.task),
    h("p", { id: "progress", "aria-live": "polite" }, `${rated()} of ${n} pairs rated`, h("span", { class: "muted" }, ` · pair ${index + 1} of ${n} · rating as ${page.rater}`)),
    h("div", { class: "progress", role: "progressbar", "aria-valuemin": 0, "aria-valuemax": n, "aria-valuenow": rated() }, h("span", { style: `width:${(100 * rated()) / n}%` })),
    finished ? h("p", { class: "card pass", id: "done" }, `All ${n} pairs rated. Thank you! You can go back to any pair and change your vote.`) : null,
    h("article", { class: "card", id: "pair", "data-item": pair.item_id },
      h("div", { class: "conversation" }, pair.conversation.map(([role, text]) => h("div", {}, h("strong", {}, `${role}: `), h("span", { class: "output" }, text)))),
      h("div", { class: "side" },
        h("section", {}, h("h2", {}, "Response 1"), h("div", { class: "output", id: "left" }, pair.left)),
        h("section", {}, h("h2", {}, "Response 2"), h("div", { class: "output", id: "right" }, pair.right))),
      h("div", { class: "controls", role: "group", "aria-label": "your vote" },
        choice("left", "Response 1 is better", "1"), choice("tie", "About the same", "3"), choice("right", "Response 2 is better", "2")),
      h("div", { class: "controls" },
        h("button", { type: "button", id: "prev", disabled: index === 0, onclick: () => { index -= 1; render(); } }, "← Previous ", h("kbd", {}, "p")),
        h("button", { type: "button", id: "next", disabled: index === n - 1, onclick: () => { index += 1; render(); } }, "Next → ", h("kbd", {}, "n")))),
    h("p", { class: "muted" }, "Keys: ", h("kbd", {}, "1"), " response 1 better, ", h("kbd", {}, "2"), " response 2 better, ", h("kbd", {}, "3"), " or ", h("kbd", {}, "t"),
      " about the same, ", h("kbd", {}, "n"), "/", h("kbd", {}, "p"), " next/previous. Your votes are saved as you go: close the page and come back with the same link to continue."),
    scale());
}

document.addEventListener("keydown", (ev) => {
  if (!page || ev.ctrlKey || ev.metaKey || ev.altKey || ["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement.tagName)) return;
  const action = { 1: () => vote("left"), 2: () => vote("right"), 3: () => vote("tie"), t: () => vote("tie"),
    n: () => { if (index < page.pairs.length - 1) { index += 1; render(); } }, p: () => { if (index > 0) { index -= 1; render(); } } }[ev.key];
  if (action) { ev.preventDefault(); action(); }
});

async function load() {
  if (!token) { $("#page").replaceChildren(h("p", { class: "alert" }, "This page needs the rating link you were sent (it ends in #token=…).")); return; }
  try {
    page = await api(`/rater-api/${encodeURIComponent(token)}`, { key: false });
    if (!page.pairs.length) { $("#page").replaceChildren(h("p", {}, "This task has no pairs.")); return; }
    const first = nextUnrated(0);  // resume where this rater stopped
    index = first < 0 ? 0 : first;
    render(first < 0);
  } catch (e) { $("#page").replaceChildren(); showError(e); }
}
load();
