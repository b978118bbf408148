// Inline SVG figures, drawn from the service's JSON: an interval plot (also the forest plot), a
// scatter, a histogram and a line chart. Marks that stand for items are links to those items.

const NS = "http://www.w3.org/2000/svg";

function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined) el.setAttribute(k, v);
  for (const c of children.flat()) if (c !== null && c !== undefined) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

function link(href, label, ...children) {
  return href ? s("a", { href, "aria-label": label }, s("title", {}, label), ...children) : s("g", {}, s("title", {}, label), ...children);
}

function ticks(lo, hi, count = 5) {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((v) => v >= raw) || raw;
  const out = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + 1e-9; t += step) out.push(+t.toFixed(10));
  return out;
}

function extent(values, pad = 0.06) {
  const v = values.filter((x) => x !== null && x !== undefined && Number.isFinite(x));
  if (!v.length) return [0, 1];
  let lo = Math.min(...v), hi = Math.max(...v);
  const p = (hi - lo) * pad || Math.abs(hi) * 0.1 || 1;
  return [lo - p, hi + p];
}

function frame(width, height, title) {
  return s("svg", { class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": title }, s("title", {}, title));
}

// rows: [{label, estimate, ci_low, ci_high, href?, color?, note?}]; reference: the "no difference" line.
export function intervalPlot(rows, { title, reference = null, domain = null, axisLabel = "" } = {}) {
  const W = 760, left = 200, right = 90, rowH = 26, top = 18, H = top + rows.length * rowH + 34;
  const values = rows.flatMap((r) => [r.estimate, r.ci_low, r.ci_high]).concat(reference === null ? [] : [reference]);
  const [lo, hi] = domain || extent(values);
  const x = (v) => left + ((v - lo) / (hi - lo)) * (W - left - right);
  const svg = frame(W, H, title);
  for (const t of ticks(lo, hi)) {
    svg.append(s("line", { x1: x(t), x2: x(t), y1: top - 6, y2: H - 28, stroke: "#eee" }),
               s("text", { x: x(t), y: H - 14, "text-anchor": "middle" }, +t.toFixed(3)));
  }
  if (reference !== null) svg.append(s("line", { x1: x(reference), x2: x(reference), y1: top - 8, y2: H - 28, stroke: "#888", "stroke-dasharray": "4 3" }));
  svg.append(s("text", { x: W - right, y: H - 2, "text-anchor": "end" }, axisLabel));
  rows.forEach((r, i) => {
    const y = top + i * rowH + rowH / 2;
    const color = r.color || "#1f5fbf";
    const label = `${r.label}: ${r.estimate === null || r.estimate === undefined ? "no estimate" : (+r.estimate).toFixed(3)}` +
      (r.ci_low !== null && r.ci_low !== undefined ? ` [${(+r.ci_low).toFixed(3)}, ${(+r.ci_high).toFixed(3)}]` : "") + (r.note ? ` ${r.note}` : "");
    const marks = [s("text", { x: left - 8, y: y + 4, "text-anchor": "end" }, r.label.length > 30 ? r.label.slice(0, 29) + "…" : r.label)];
    if (r.estimate !== null && r.estimate !== undefined) {
      if (r.ci_low !== null && r.ci_low !== undefined) marks.push(s("line", { x1: x(r.ci_low), x2: x(r.ci_high), y1: y, y2: y, stroke: color, "stroke-width": 2 }));
      marks.push(s("circle", { cx: x(r.estimate), cy: y, r: 5, fill: color }));
    }
    if (r.note) marks.push(s("text", { x: W - right + 6, y: y + 4, fill: color }, r.note));
    svg.append(link(r.href, label, ...marks));
  });
  return svg;
}

// points: [{x, y, id, href, color}]
export function scatter(points, { title, xLabel, yLabel, yDomain = null, yReference = null } = {}) {
  const W = 760, H = 360, left = 56, right = 16, top = 16, bottom = 44;
  const [x0, x1] = extent(points.map((p) => p.x).concat([0]));
  const [y0, y1] = yDomain || extent(points.map((p) => p.y));
  const x = (v) => left + ((v - x0) / (x1 - x0)) * (W - left - right);
  const y = (v) => top + ((y1 - v) / (y1 - y0)) * (H - top - bottom);
  const svg = frame(W, H, title);
  for (const t of ticks(x0, x1)) svg.append(s("line", { x1: x(t), x2: x(t), y1: top, y2: H - bottom, stroke: "#eee" }),
                                             s("text", { x: x(t), y: H - bottom + 14, "text-anchor": "middle" }, +t.toFixed(2)));
  for (const t of ticks(y0, y1)) svg.append(s("line", { x1: left, x2: W - right, y1: y(t), y2: y(t), stroke: "#eee" }),
                                             s("text", { x: left - 6, y: y(t) + 4, "text-anchor": "end" }, +t.toFixed(2)));
  svg.append(s("line", { x1: x(0), x2: x(0), y1: top, y2: H - bottom, stroke: "#888", "stroke-dasharray": "4 3" }));
  if (yReference !== null) svg.append(s("line", { x1: left, x2: W - right, y1: y(yReference), y2: y(yReference), stroke: "#888", "stroke-dasharray": "4 3" }));
  svg.append(s("text", { x: (left + W - right) / 2, y: H - 8, "text-anchor": "middle" }, xLabel),
             s("text", { x: 12, y: (top + H - bottom) / 2, transform: `rotate(-90 12 ${(top + H - bottom) / 2})`, "text-anchor": "middle" }, yLabel));
  for (const p of points) {
    if (p.y === null || p.y === undefined) continue;
    svg.append(link(p.href, `item ${p.id}: ${xLabel} ${p.x}, ${yLabel} ${(+p.y).toFixed(3)}`,
      s("circle", { cx: x(p.x), cy: y(p.y), r: 5, fill: p.color || "#1f5fbf", "fill-opacity": 0.7, "data-item": p.id })));
  }
  return svg;
}

// series: [{name, values: [{v, id}], color}]; bars link to the items in them (hrefFor(ids)).
export function histogram(series, { title, bins = 10, xLabel = "", hrefFor = null } = {}) {
  const W = 760, H = 260, left = 44, right = 16, top = 16, bottom = 44;
  const all = series.flatMap((sr) => sr.values.map((p) => p.v)).filter((v) => v !== null && v !== undefined);
  const svg = frame(W, H, title);
  if (!all.length) { svg.append(s("text", { x: left, y: H / 2 }, "no scores to draw")); return svg; }
  let lo = Math.min(...all), hi = Math.max(...all);
  if (hi === lo) { lo -= 0.5; hi += 0.5; }
  const width = (hi - lo) / bins;
  const counts = series.map((sr) => Array.from({ length: bins }, (_, b) => sr.values.filter((p) => p.v !== null && p.v !== undefined &&
    Math.min(bins - 1, Math.floor((p.v - lo) / width)) === b)));
  const max = Math.max(1, ...counts.flat().map((c) => c.length));
  const bw = (W - left - right) / bins;
  const y = (n) => top + (1 - n / max) * (H - top - bottom);
  for (const t of ticks(0, max, 4)) svg.append(s("text", { x: left - 6, y: y(t) + 4, "text-anchor": "end" }, t));
  counts.forEach((perBin, si) => perBin.forEach((items, b) => {
    if (!items.length) return;
    const bx = left + b * bw + (si * bw) / series.length + 1;
    const label = `${series[si].name}: ${items.length} item(s) with ${xLabel} in [${(lo + b * width).toFixed(2)}, ${(lo + (b + 1) * width).toFixed(2)})`;
    svg.append(link(hrefFor ? hrefFor(items.map((p) => p.id)) : null, label,
      s("rect", { x: bx, y: y(items.length), width: bw / series.length - 2, height: H - bottom - y(items.length), fill: series[si].color, "fill-opacity": 0.8 })));
  }));
  for (let b = 0; b <= bins; b += Math.max(1, Math.floor(bins / 5))) svg.append(s("text", { x: left + b * bw, y: H - bottom + 14, "text-anchor": "middle" }, (lo + b * width).toFixed(1)));
  svg.append(s("text", { x: (left + W - right) / 2, y: H - 8, "text-anchor": "middle" }, xLabel));
  series.forEach((sr, i) => svg.append(s("rect", { x: W - right - 150, y: top + i * 16, width: 10, height: 10, fill: sr.color }),
                                         s("text", { x: W - right - 135, y: top + i * 16 + 9 }, sr.name)));
  return svg;
}

// series: [{name, points: [[x, y]], color}]; markers: [{x, label, color}]; band: {x0, x1} shaded.
export function lineChart(series, { title, xLabel = "step", yLabel = "", markers = [], band = null } = {}) {
  const W = 760, H = 320, left = 60, right = 16, top = 24, bottom = 44;
  const xs = series.flatMap((sr) => sr.points.map((p) => p[0]));
  const ys = series.flatMap((sr) => sr.points.map((p) => p[1]));
  const [x0, x1] = extent(xs, 0.02), [y0, y1] = extent(ys);
  const x = (v) => left + ((v - x0) / (x1 - x0)) * (W - left - right);
  const y = (v) => top + ((y1 - v) / (y1 - y0)) * (H - top - bottom);
  const svg = frame(W, H, title);
  if (band) svg.append(s("rect", { x: x(band.x0) - 3, y: top, width: Math.max(6, x(band.x1) - x(band.x0) + 6), height: H - top - bottom, fill: "#4c9be8", "fill-opacity": 0.15 }));
  for (const t of ticks(x0, x1)) svg.append(s("text", { x: x(t), y: H - bottom + 14, "text-anchor": "middle" }, +t.toFixed(2)));
  for (const t of ticks(y0, y1)) svg.append(s("line", { x1: left, x2: W - right, y1: y(t), y2: y(t), stroke: "#eee" }),
                                             s("text", { x: left - 6, y: y(t) + 4, "text-anchor": "end" }, +t.toFixed(3)));
  for (const sr of series) {
    if (!sr.points.length) continue;
    svg.append(s("polyline", { points: sr.points.map((p) => `${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(" "), fill: "none", stroke: sr.color, "stroke-width": 2 },
                 s("title", {}, sr.name)));
  }
  markers.forEach((m, i) => svg.append(s("g", {}, s("title", {}, `${m.label} at ${xLabel} ${m.x}`),
    s("line", { x1: x(m.x), x2: x(m.x), y1: top, y2: H - bottom, stroke: m.color, "stroke-width": 2, "stroke-dasharray": "5 3" }),
    s("text", { x: x(m.x) + 4, y: top + 10 + i * 13, fill: m.color }, m.label))));
  series.forEach((sr, i) => svg.append(s("rect", { x: W - right - 150, y: top + i * 16, width: 10, height: 10, fill: sr.color }),
                                         s("text", { x: W - right - 135, y: top + i * 16 + 9 }, sr.name)));
  svg.append(s("text", { x: (left + W - right) / 2, y: H - 8, "text-anchor": "middle" }, xLabel),
             s("text", { x: 12, y: (top + H - bottom) / 2, transform: `rotate(-90 12 ${(top + H - bottom) / 2})`, "text-anchor": "middle" }, yLabel));
  return svg;
}
