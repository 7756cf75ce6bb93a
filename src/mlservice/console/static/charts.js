// Live charts per release from `GET /console/v1/metrics` (the last 15 minutes `mls up` keeps):
// requests/s, p50/p99 latency, 4xx/5xx. Plain SVG drawn here: a polyline per series.
import { get } from "./api.js";
import { h } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 360, HEIGHT = 120, PAD = 28;
const SPAN = 15 * 60;
const MIN_SPAN = 2 * 60;

function svg(tag, attrs = {}) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

// One chart: series of [time, value|null]; the time axis spans the data kept (at least
// 2 minutes, at most the 15 `mls up` keeps), so a fresh service's first points are readable.
export function lineChart(title, unit, series, now) {
  const all = series.flatMap((s) => s.points.map(([, v]) => v)).filter((v) => v !== null);
  const highest = Math.max(0, ...all);
  const top = highest > 0 ? highest * 1.1 : 1;
  const first = Math.min(now, ...series.flatMap((s) => s.points.map(([t]) => t)));
  const span = Math.min(SPAN, Math.max(MIN_SPAN, now - first));
  const x = (t) => PAD + ((t - (now - span)) / span) * (WIDTH - PAD - 4);
  const y = (v) => HEIGHT - 16 - (v / top) * (HEIGHT - 26);
  const root = svg("svg", { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, width: WIDTH, height: HEIGHT, role: "img", "aria-label": `${title}, last ${Math.round(span / 60)} minutes` });
  root.append(svg("line", { x1: PAD, y1: HEIGHT - 16, x2: WIDTH - 4, y2: HEIGHT - 16, class: "axis" }));
  const label = svg("text", { x: 2, y: 12, class: "tick" });
  label.textContent = `${formatValue(highest > 0 ? highest : 1)} ${unit}`;
  const zero = svg("text", { x: 2, y: HEIGHT - 18, class: "tick" });
  zero.textContent = "0";
  const ago = svg("text", { x: PAD, y: HEIGHT - 3, class: "tick" });
  ago.textContent = `−${Math.round(span / 60)} min`;
  const nowText = svg("text", { x: WIDTH - 30, y: HEIGHT - 3, class: "tick" });
  nowText.textContent = "now";
  root.append(label, zero, ago, nowText);
  series.forEach((s, i) => {
    // A gap (no requests: no latency) breaks the line rather than drawing a false zero.
    let run = [];
    const flush = () => {
      if (run.length === 1) {
        const [cx, cy] = run[0].split(",");
        root.append(svg("circle", { cx, cy, r: 2.5, class: `dot s${i}` }));
      } else if (run.length) {
        root.append(svg("polyline", { points: run.join(" "), class: `line s${i}`, fill: "none" }));
      }
      run = [];
    };
    for (const [t, v] of s.points) {
      if (v === null) { flush(); continue; }
      run.push(`${x(t).toFixed(1)},${y(v).toFixed(1)}`);
    }
    flush();
  });
  const legend = h("p", { class: "legend" }, ...series.map((s, i) => h("span", { class: `key s${i}` }, s.name)));
  return h("figure", { class: "chart" }, h("figcaption", {}, title), root, legend);
}

function formatValue(v) {
  if (v >= 100) return v.toFixed(0);
  if (v >= 1) return v.toFixed(1);
  return v.toPrecision(2);
}

export async function chartsTab({ namespace, name, section, signal }) {
  const note = h("p", { class: "muted" }, "From the gateway, every 2 s, kept 15 minutes in memory by mls up.");
  const body = h("div", { class: "charts", id: "charts" });
  section.append(note, body);
  const draw = async () => {
    const data = await get(`/console/v1/metrics?namespace=${encodeURIComponent(namespace)}&service=${encodeURIComponent(name)}`);
    const now = Date.now() / 1000;
    const names = Object.keys(data.releases).sort();
    if (!names.length) {
      body.replaceChildren(h("p", { class: "muted" }, "No traffic recorded yet: send some requests (Try it)."));
      return;
    }
    body.replaceChildren(...names.map((release) => {
      const points = data.releases[release];
      const total = points.reduce((n, p) => n + p.requests, 0);
      const pick = (f) => points.map((p) => [p.time, f(p)]);
      const ms = (v) => (v === null ? null : v * 1000);
      return h("section", { class: "release-charts", "data-release": release, "aria-label": `Release ${release}` },
        h("h2", {}, release, " ", h("span", { class: "total", "data-total": total }, `${total} requests in 15 min`)),
        h("div", { class: "row" },
          lineChart("Requests/s", "/s", [{ name: "requests/s", points: pick((p) => p.rps) }], now),
          lineChart("Latency", "ms", [
            { name: "p50", points: pick((p) => ms(p.p50)) },
            { name: "p99", points: pick((p) => ms(p.p99)) },
          ], now),
          lineChart("Errors", "/interval", [
            { name: "4xx", points: pick((p) => p.errors_4xx) },
            { name: "5xx", points: pick((p) => p.errors_5xx) },
          ], now)));
    }));
  };
  await draw();
  const timer = setInterval(() => draw().catch(() => {}), 2000);
  signal.addEventListener("abort", () => clearInterval(timer));
}
