// One service: a header, tabs, and the tab's content. The overview polls the object every
// 2 s and redraws its sections in place (fixed table layouts: nothing jumps).
import { get, itemPath, kindOf, mergePatch, call } from "./api.js";
import { age, confirmAction, h } from "./dom.js";
import { chartsTab } from "./charts.js";
import { replicasTab } from "./replicas.js";
import { requestsTab } from "./requests.js";
import { tryTab } from "./tryit.js";
import { yamlTab } from "./yaml.js";

const TABS = [
  ["overview", "Overview"], ["charts", "Charts"], ["replicas", "Replicas"],
  ["requests", "Request log"], ["try", "Try it"], ["yaml", "YAML"],
];

export async function servicePage(view, ctx) {
  const kind = kindOf(ctx.plural);
  if (!kind) throw new Error(`Unknown kind ${ctx.plural}`);
  const path = itemPath(ctx.plural, ctx.namespace, ctx.name);
  const obj = await get(path);
  const base = `#/s/${ctx.plural}/${encodeURIComponent(ctx.namespace)}/${encodeURIComponent(ctx.name)}`;
  document.title = `${ctx.name} · ${TABS.find(([t]) => t === ctx.tab)?.[1] || ""} · mlservice console`;
  view.append(
    h("p", { class: "crumbs" }, h("a", { href: "#/" }, "Services"), " / ", ctx.namespace, " / "),
    h("h1", {}, `${ctx.name} `, h("span", { class: "kind" }, kind.kind)),
    h("nav", { class: "tabs", "aria-label": "Service pages" },
      ...TABS.map(([tab, label]) => h("a", { href: `${base}/${tab}`, "aria-current": tab === ctx.tab ? "page" : null }, label))));
  const section = h("section", { class: "tab", "aria-label": TABS.find(([t]) => t === ctx.tab)?.[1] });
  view.append(section);
  const args = { ...ctx, kind, path, obj, section };
  switch (ctx.tab) {
    case "charts": return chartsTab(args);
    case "replicas": return replicasTab(args);
    case "requests": return requestsTab(args);
    case "try": return tryTab(args);
    case "yaml": return yamlTab(args);
    default: return overview(args);
  }
}

function overview({ kind, path, obj, section, signal }) {
  const slots = {
    summary: h("div", { class: "summary" }),
    actions: h("div", { class: "actions" }),
    releases: h("div", {}),
    shadow: h("div", { id: "shadow" }),
    conditions: h("div", {}),
    transformer: h("div", {}),
    events: h("div", {}),
  };
  section.append(
    slots.summary,
    h("h2", {}, "Actions"), slots.actions,
    h("h2", {}, kind.kind === "InferenceService" ? "Components" : "Releases"), slots.releases,
    slots.shadow,
    h("div", { class: "columns" },
      h("div", {}, h("h2", {}, "Conditions"), slots.conditions, h("h2", {}, "Transformer"), slots.transformer),
      h("div", {}, h("h2", {}, "Events"), slots.events)));
  let latest = obj;
  const draw = () => {
    slots.summary.replaceChildren(summary(kind, latest));
    slots.releases.replaceChildren(releasesTable(kind, latest));
    slots.shadow.replaceChildren(...shadow(latest));
    slots.conditions.replaceChildren(conditionsTable(latest));
    slots.transformer.replaceChildren(transformer(latest));
    const pause = slots.actions.querySelector("#pause");
    if (pause) pause.textContent = latest.spec?.paused ? "Resume" : "Pause";
  };
  draw();
  slots.actions.append(actions(kind, path, () => latest, async () => { latest = await get(path); draw(); }));
  const refresh = async () => {
    try {
      latest = await get(path);
      draw();
      slots.events.replaceChildren(await events(latest));
    } catch { /* shown next time; a deleted service ends in a 404 */ }
  };
  refresh();
  const timer = setInterval(refresh, 2000);
  signal.addEventListener("abort", () => clearInterval(timer));
}

function summary(kind, obj) {
  const cond = (obj.status?.conditions || []).find((c) => c.type === "Ready");
  const ready = cond ? cond.status : "Unknown";
  return h("dl", { class: "facts" },
    h("dt", {}, "Namespace"), h("dd", {}, obj.metadata.namespace),
    h("dt", {}, "Ready"), h("dd", {}, h("span", { class: `badge ${ready === "True" ? "ok" : "wait"}`, id: "ready" }, ready)),
    h("dt", {}, "URL"), h("dd", { class: "url" }, obj.status?.address?.url || obj.status?.url || "—"),
    ...(kind.kind === "MLService" ? [
      h("dt", {}, "Paused"), h("dd", {}, obj.spec?.paused ? "yes" : "no"),
      h("dt", {}, "Default / canary"), h("dd", {}, [obj.spec?.default, obj.spec?.canary].filter(Boolean).join(" / ") || "—"),
    ] : []),
    h("dt", {}, "Age"), h("dd", {}, age(obj.metadata.creationTimestamp)));
}

function modelUri(obj, release) {
  const spec = (obj.spec?.releases || []).find((r) => r.name === release);
  const model = spec?.predictor?.model;
  return model?.modelUri || obj.spec?.storage?.pvc?.name || "";
}

// An InferenceService has components, not releases: each with its revisions' traffic.
function componentsTable(obj) {
  const components = Object.entries(obj.status?.components || {});
  if (!components.length) return h("p", { class: "muted" }, "No components reported yet.");
  return h("table", { class: "grid", id: "releases", "aria-label": "Components" },
    h("thead", {}, h("tr", {}, ...["Component", "Traffic", "Latest ready revision", "Rolled out", "URL"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, ...components.map(([name, c]) => h("tr", { "data-release": name },
      h("td", {}, name),
      h("td", { class: "traffic" }, (c.traffic || []).map((t) => `${t.revisionName || t.tag}: ${t.percent} %`).join(", ")),
      h("td", {}, c.latestReadyRevision || ""),
      h("td", {}, c.latestRolledoutRevision || ""),
      h("td", { class: "url" }, c.url || "")))));
}

function releasesTable(kind, obj) {
  if (kind.kind === "InferenceService") return componentsTable(obj);
  const rows = obj.status?.releases || [];
  if (!rows.length) return h("p", { class: "muted" }, "No releases reported yet.");
  return h("table", { class: "grid", id: "releases", "aria-label": "Releases" },
    h("thead", {}, h("tr", {}, ...["Release", "Role", "Traffic", "Ready / total", "Revision", "Model URI"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, ...rows.map((r) => h("tr", { "data-release": r.name },
      h("td", {}, r.name),
      h("td", {}, r.name === obj.spec?.default ? "default" : r.name === obj.spec?.canary ? "canary" : r.name === obj.spec?.shadow?.release ? "shadow" : ""),
      h("td", { class: "num traffic" }, `${r.trafficPercent ?? 0} %`),
      h("td", { class: "num" }, `${r.readyReplicas ?? 0} / ${r.totalReplicas ?? 0}`),
      h("td", {}, r.readyRevision || r.latestRevision || ""),
      h("td", { class: "url" }, modelUri(obj, r.name))))));
}

// spec.shadow's copies over the recent window (status.shadow; docs/shadow.md); nothing without one.
function shadow(obj) {
  const spec = obj.spec?.shadow;
  if (!spec) return [];
  const s = obj.status?.shadow || {};
  const compared = (s.agree ?? 0) + (s.disagree ?? 0);
  const agreement = s.agreement == null ? "—" : `${(s.agreement * 100).toFixed(1)} % (${s.agree} of ${compared})`;
  return [h("h2", {}, "Shadow"), h("dl", { class: "facts" },
    h("dt", {}, "Release"), h("dd", {}, `${spec.release} (${spec.percent ?? 100} % copied)`),
    h("dt", {}, "Agreement"), h("dd", { id: "shadow-agreement" }, agreement),
    h("dt", {}, `Copies, last ${s.window || "—"}`), h("dd", {}, `${s.sent ?? 0} sent, ${s.dropped ?? 0} dropped, ${s.errors ?? 0} errors, ${s.incomparable ?? 0} incomparable`),
    h("dt", {}, "Mean latency"), h("dd", {}, s.meanLatencyMs == null ? "—" : `${s.meanLatencyMs} ms`))];
}

function conditionsTable(obj) {
  const rows = obj.status?.conditions || [];
  if (!rows.length) return h("p", { class: "muted" }, "None yet.");
  return h("table", { class: "grid" },
    h("thead", {}, h("tr", {}, ...["Type", "Status", "Reason", "Message", "Since"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, ...rows.map((c) => h("tr", {}, h("td", {}, c.type), h("td", {}, c.status), h("td", {}, c.reason || ""), h("td", {}, c.message || ""), h("td", { class: "num" }, age(c.lastTransitionTime))))));
}

function transformer(obj) {
  const t = obj.spec?.transformer;
  if (!t) return h("p", { class: "muted" }, "No transformer.");
  const container = t.template?.spec?.containers?.[0] || t.containers?.[0] || {};
  const status = obj.status?.transformer || obj.status?.components?.transformer || {};
  return h("dl", { class: "facts" },
    h("dt", {}, "Image / command"), h("dd", {}, container.image || (container.command || []).join(" ") || "—"),
    h("dt", {}, "Replicas"), h("dd", {}, `${status.readyReplicas ?? "?"} ready of ${status.totalReplicas ?? "?"} (bounds ${t.minReplicas ?? 1} – ${t.maxReplicas ?? "∞"})`),
    h("dt", {}, "Revision"), h("dd", {}, status.readyRevision || status.latestReadyRevision || "—"),
    h("dt", {}, "URL"), h("dd", { class: "url" }, status.url || "—"));
}

async function events(obj) {
  const ns = encodeURIComponent(obj.metadata.namespace);
  const selector = encodeURIComponent(`involvedObject.name=${obj.metadata.name}`);
  const list = await get(`/api/v1/namespaces/${ns}/events?fieldSelector=${selector}`);
  const items = list.items.filter((e) => e.involvedObject?.kind === obj.kind)
    .sort((a, b) => Date.parse(b.lastTimestamp || b.eventTime) - Date.parse(a.lastTimestamp || a.eventTime))
    .slice(0, 30);
  if (!items.length) return h("p", { class: "muted" }, "No events.");
  return h("ol", { class: "timeline", "aria-label": "Events, newest first" }, ...items.map((e) =>
    h("li", { class: e.type === "Warning" ? "warn" : "" },
      h("span", { class: "when" }, `${age(e.lastTimestamp || e.eventTime)} ago`),
      h("strong", {}, e.reason), e.count > 1 ? ` ×${e.count}` : "", h("br"), e.message)));
}

function actions(kind, path, current, reload) {
  const box = h("div", { class: "action-bar" });
  const result = h("p", { class: "result", role: "status", id: "action-result" });
  const run = async (text, patch, callText) => {
    if (!(await confirmAction(text, callText))) return;
    try {
      if (patch === null) {
        await call("DELETE", path);
        location.hash = "#/";
        return;
      }
      await mergePatch(path, patch);
      result.textContent = "Done.";
      await reload();
    } catch (err) {
      result.textContent = `Refused: ${err.message}`;
    }
  };
  const patchText = (patch) => `mls patch: PATCH ${path}\nContent-Type: application/merge-patch+json\n${JSON.stringify(patch)}`;
  const obj = current();
  if (kind.kind === "MLService" && obj.spec?.canary) {
    const input = h("input", { id: "canary-percent", type: "number", min: 0, max: 100, step: 1, value: obj.spec.canaryTrafficPercent ?? 0 });
    box.append(
      h("form", { class: "inline", onsubmit: (e) => {
        e.preventDefault();
        const percent = Number(input.value);
        const patch = { spec: { canaryTrafficPercent: percent } };
        run(`Send ${percent} % of traffic to the canary ${current().spec.canary}?`, patch, patchText(patch));
      } },
        h("label", { for: "canary-percent" }, "Canary traffic %"), input,
        h("button", { type: "submit", id: "set-canary" }, "Set")),
      h("button", { type: "button", id: "promote", onclick: () => {
        const spec = current().spec;
        const patch = { spec: { default: spec.canary, canary: null, canaryTrafficPercent: null } };
        run(`Promote ${spec.canary}: it becomes the default release and gets all traffic?`, patch, patchText(patch));
      } }, "Promote canary"),
      h("button", { type: "button", id: "rollback", onclick: () => {
        const patch = { spec: { canaryTrafficPercent: 0 } };
        run("Roll back: no traffic to the canary?", patch, patchText(patch));
      } }, "Roll back"));
  }
  if (kind.kind === "InferenceService") {
    const input = h("input", { id: "canary-percent", type: "number", min: 0, max: 100, step: 1, value: obj.spec?.predictor?.canaryTrafficPercent ?? 100 });
    const predictor = (value) => ({ spec: { predictor: { canaryTrafficPercent: value } } });
    box.append(
      h("form", { class: "inline", onsubmit: (e) => {
        e.preventDefault();
        const patch = predictor(Number(input.value));
        run(`Send ${input.value} % of traffic to the latest revision?`, patch, patchText(patch));
      } },
        h("label", { for: "canary-percent" }, "Latest revision traffic %"), input,
        h("button", { type: "submit", id: "set-canary" }, "Set")),
      h("button", { type: "button", id: "promote", onclick: () => {
        const patch = predictor(null);
        run("Promote: the latest revision takes all traffic?", patch, patchText(patch));
      } }, "Promote latest"),
      h("button", { type: "button", id: "rollback", onclick: () => {
        const patch = predictor(0);
        run("Roll back: no traffic to the latest revision?", patch, patchText(patch));
      } }, "Roll back"));
  } else if (kind.kind === "MLService") {
    box.append(h("button", { type: "button", id: "pause", onclick: () => {
      const paused = !current().spec?.paused;
      const patch = { spec: { paused } };
      run(paused ? "Pause: stop every replica (requests are refused)?" : "Resume: start the replicas again?", patch, patchText(patch));
    } }, obj.spec?.paused ? "Resume" : "Pause"));
  }
  box.append(h("button", { type: "button", id: "delete", class: "danger", onclick: () =>
    run(`Delete ${kind.kind} ${obj.metadata.namespace}/${obj.metadata.name}?`, null, `mls delete: DELETE ${path}`) }, "Delete"));
  return h("div", {}, box, result);
}
