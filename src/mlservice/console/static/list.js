// The service list: every MLService, SimpleMLService and InferenceService, kept current by
// the API's watch (one stream per kind). Rows are updated in place: no layout shift.
import { ApiError, KINDS, get, watch } from "./api.js";
import { age, h } from "./dom.js";

function ready(obj) {
  const cond = (obj.status?.conditions || []).find((c) => c.type === "Ready");
  if (cond) return cond.status === "True" ? "True" : cond.status;
  return obj.status?.ready === undefined ? "Unknown" : String(obj.status.ready === true ? "True" : "False");
}

function releases(obj) {
  const rows = obj.status?.releases;
  if (rows && rows.length) {
    return rows.map((r) => `${r.name} ${r.trafficPercent ?? 0}% (${r.readyReplicas ?? 0}/${r.totalReplicas ?? 0})`).join(", ");
  }
  const components = obj.status?.components;
  if (components?.predictor?.traffic) {
    return components.predictor.traffic.map((t) => `${t.tag || t.revisionName || "latest"} ${t.percent}%`).join(", ");
  }
  return "";
}

function row(kind, obj) {
  const meta = obj.metadata;
  const href = `#/s/${kind.plural}/${encodeURIComponent(meta.namespace)}/${encodeURIComponent(meta.name)}`;
  const state = ready(obj);
  return h("tr", { "data-key": `${kind.plural}/${meta.namespace}/${meta.name}` },
    h("td", {}, h("a", { href }, meta.name)),
    h("td", {}, meta.namespace),
    h("td", {}, kind.kind),
    h("td", {}, h("span", { class: `badge ${state === "True" ? "ok" : "wait"}` }, state)),
    h("td", { class: "url" }, obj.status?.address?.url || obj.status?.url || ""),
    h("td", {}, releases(obj)),
    h("td", { class: "num" }, age(meta.creationTimestamp)));
}

export async function serviceList(view, { signal }) {
  const body = h("tbody", {});
  const empty = h("p", { class: "muted", id: "empty" }, "No services yet: apply one with `mls apply -f service.yaml`.");
  view.append(
    h("h1", {}, "Services"),
    h("table", { class: "grid services", "aria-label": "Services" },
      h("colgroup", {}, ...Array.from({ length: 7 }, () => h("col"))),
      h("thead", {}, h("tr", {}, ...["Name", "Namespace", "Kind", "Ready", "URL", "Releases (traffic, ready/total)", "Age"].map((t) => h("th", { scope: "col" }, t)))),
      body),
    empty);
  const objects = new Map();
  const render = () => {
    const keys = [...objects.keys()].sort();
    const rows = keys.map((key) => { const [kind, obj] = objects.get(key); return row(kind, obj); });
    body.replaceChildren(...rows);
    empty.hidden = rows.length > 0;
  };
  const live = document.getElementById("live");
  for (const kind of KINDS) {
    const collection = `${kind.prefix}/${kind.plural}`;
    let list;
    try {
      list = await get(collection);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) continue; // a kind this API lacks
      throw err;
    }
    for (const obj of list.items) objects.set(`${kind.plural}/${obj.metadata.namespace}/${obj.metadata.name}`, [kind, obj]);
    follow(collection, list.metadata.resourceVersion, kind, objects, render, signal);
  }
  render();
  live.textContent = "live";
  const timer = setInterval(render, 10000); // ages
  signal.addEventListener("abort", () => clearInterval(timer));
}

async function follow(collection, resourceVersion, kind, objects, render, signal) {
  let version = resourceVersion;
  while (!signal.aborted) {
    try {
      await watch(collection, version, (event) => {
        const obj = event.object;
        if (event.type === "ERROR") throw new Error("relist");
        if (event.type === "BOOKMARK") { version = obj.metadata.resourceVersion || version; return; }
        const key = `${kind.plural}/${obj.metadata.namespace}/${obj.metadata.name}`;
        version = obj.metadata.resourceVersion || version;
        if (event.type === "DELETED") objects.delete(key); else objects.set(key, [kind, obj]);
        render();
      }, signal);
    } catch (err) {
      if (signal.aborted) return;
      // Expired or cut: list again, then watch on.
      await new Promise((r) => setTimeout(r, 1000));
      try {
        const list = await get(collection);
        for (const key of [...objects.keys()]) if (key.startsWith(`${kind.plural}/`)) objects.delete(key);
        for (const obj of list.items) objects.set(`${kind.plural}/${obj.metadata.namespace}/${obj.metadata.name}`, [kind, obj]);
        version = list.metadata.resourceVersion;
        render();
      } catch { /* the API is restarting: try again */ }
    }
  }
}
