// Shared by every page: the API call (with the API key, if the service needs one), DOM building
// without innerHTML (every text from the service is inserted as text, never as markup), and formatting.

const KEY = "judge-api-key";
const RATER_TOKEN_PREFIX = "jrt_";  // judge_service/ui/rating.py TOKEN_PREFIX

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export const $ = (sel, root = document) => root.querySelector(sel);
export const hashParams = () => new URLSearchParams(location.hash.slice(1));
export const fmt = (x, digits = 3) => (x === null || x === undefined || Number.isNaN(x) ? "—" : Number(x).toFixed(digits));
export const ci = (e, digits = 3) => (e && e.estimate !== null && e.estimate !== undefined
  ? `${fmt(e.estimate, digits)} [${fmt(e.ci_low, digits)}, ${fmt(e.ci_high, digits)}], n = ${e.n}` : "—");

export class ApiError extends Error {
  constructor(status, body) {
    const err = body && body.error;
    super(err ? err.message : `HTTP ${status}`);
    this.status = status;
    this.code = err ? err.code : null;
  }
}

export function apiKey() { return sessionStorage.getItem(KEY); }

export async function api(path, { method = "GET", body, key = true } = {}) {
  const headers = {};
  if (key && apiKey()) headers["X-API-Key"] = apiKey();
  let payload = body;
  if (body !== undefined && !(body instanceof FormData)) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  const r = await fetch(path, { method, headers, body: payload });
  const type = r.headers.get("content-type") || "";
  const data = type.includes("json") ? await r.json() : await r.text();
  if (!r.ok) {
    const e = new ApiError(r.status, data);
    if (r.status === 401 && key) askForKey(e.message);
    throw e;
  }
  return data;
}

// With API keys on, the service answers 401; the page then asks for a key and keeps it for this tab only.
export function askForKey(message) {
  const box = $("#auth");
  if (!box || box.dataset.open) return;
  box.dataset.open = "1";
  const input = h("input", { type: "password", id: "api-key", autocomplete: "off", size: 40, "aria-describedby": "auth-why" });
  box.replaceChildren(h("form", {
    class: "card", onsubmit: (ev) => {
      ev.preventDefault();
      const value = input.value.trim();
      // A rater's token is no API key: it opens that rater's own page, and is not kept as a key.
      if (value.startsWith(RATER_TOKEN_PREFIX)) { location.href = `rate.html#token=${encodeURIComponent(value)}`; return; }
      sessionStorage.setItem(KEY, value);
      location.reload();
    },
  }, h("h2", {}, "This service needs an API key"),
     h("p", { id: "auth-why", class: "muted" }, message, " A read key shows runs and reports; a write key also starts runs and rating tasks; ",
       "a rater's token (jrt_…) opens that rater's pairs. The key stays in this browser tab (session storage) and is sent only to this service."),
     h("label", { for: "api-key" }, "API key or rater token "), input, " ", h("button", { class: "primary", type: "submit" }, "Use this key")));
  input.focus();
}

export function showError(e) {
  const box = $("#messages");
  const text = e instanceof ApiError ? `${e.status}${e.code ? " " + e.code : ""}: ${e.message}` : String(e);
  if (box) box.append(h("div", { class: "alert", role: "alert" }, text));
}

export function header() {
  const key = apiKey();
  const who = key
    ? h("span", { class: "who" }, "API key set · ", h("a", { href: "#", onclick: (ev) => { ev.preventDefault(); sessionStorage.removeItem(KEY); location.reload(); } }, "forget it"))
    : h("span", { class: "who" }, "");
  document.body.prepend(h("header", { class: "top" },
    h("strong", {}, "judge-service"), h("a", { href: "index.html" }, "Runs & evaluations"), h("a", { href: "/docs" }, "API docs"), who));
}

export function statusBadge(status) { return h("span", { class: `badge status-${status}` }, status); }

export function progressBar(done, total) {
  const pct = total ? Math.round((100 * done) / total) : 0;
  return h("div", { class: "progress", role: "progressbar", "aria-valuemin": 0, "aria-valuemax": total, "aria-valuenow": done,
                    "aria-label": `${done} of ${total}` }, h("span", { style: `width:${pct}%` }));
}

// replaceChildren would print a null child as the text "null": optional parts are left out instead.
export function setPage(...children) {
  $("#page").replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
}
