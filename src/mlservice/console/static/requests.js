// The request log: CloudEvents request/response pairs (the gateway's local file), newest
// first, filtered on the server by release, status and id (event id or trace id).
import { get } from "./api.js";
import { h } from "./dom.js";

function body(event) {
  if (!event) return h("p", { class: "muted" }, "Not logged.");
  const type = event.datacontenttype || "";
  if (event.data_base64 && type.startsWith("image/png")) {
    return h("img", { src: `data:image/png;base64,${event.data_base64}`, alt: "PNG body", class: "png" });
  }
  if (event.data_base64) return h("pre", { class: "body" }, `(${type || "binary"}, base64) ${event.data_base64.slice(0, 4000)}`);
  const data = event.data;
  return h("pre", { class: "body" }, typeof data === "string" ? data : JSON.stringify(data, null, 2));
}

export async function requestsTab({ obj, namespace, name, section, signal }) {
  const releases = (obj.status?.releases || []).map((r) => r.name);
  const release = h("select", { id: "filter-release", name: "release" }, h("option", { value: "" }, "every release"), ...releases.map((r) => h("option", { value: r }, r)));
  const status = h("select", { id: "filter-status", name: "status" },
    h("option", { value: "" }, "any"), h("option", { value: "answered" }, "answered (response logged)"), h("option", { value: "unanswered" }, "no response logged"));
  const search = h("input", { id: "filter-id", name: "q", type: "search", placeholder: "event id or trace id", size: 36 });
  const rows = h("tbody", {});
  const detail = h("div", { class: "detail", id: "request-detail", "aria-live": "polite" });
  let items = [];
  const show = (item) => {
    detail.replaceChildren(
      h("h2", {}, `Request ${item.id}`),
      h("dl", { class: "facts" },
        h("dt", {}, "Time"), h("dd", {}, item.time || ""),
        h("dt", {}, "Release"), h("dd", {}, item.release || ""),
        h("dt", {}, "Path"), h("dd", {}, item.url || ""),
        h("dt", {}, "Trace"), h("dd", { class: "url" }, item.traceparent || "")),
      h("div", { class: "columns" },
        h("div", {}, h("h3", {}, "Request body"), body(item.request)),
        h("div", {}, h("h3", {}, "Response body"), body(item.response))));
  };
  const load = async () => {
    const params = new URLSearchParams({ namespace, service: name, limit: "100" });
    if (release.value) params.set("release", release.value);
    if (status.value) params.set("status", status.value);
    if (search.value.trim()) params.set("q", search.value.trim());
    items = (await get(`/console/v1/requests?${params}`)).items;
    rows.replaceChildren(...items.map((item) => h("tr", {},
      h("td", {}, (item.time || "").replace("T", " ").slice(0, 23)),
      h("td", {}, item.release),
      h("td", {}, item.url),
      h("td", {}, item.response ? "answered" : "—"),
      h("td", {}, h("button", { type: "button", class: "link", onclick: () => show(item) }, item.id)))));
    if (!items.length) rows.replaceChildren(h("tr", {}, h("td", { colspan: 5, class: "muted" }, "No requests match. (Only components with a logger log requests.)")));
  };
  const form = h("form", { class: "filters", onsubmit: (e) => { e.preventDefault(); load(); } },
    h("label", { for: "filter-release" }, "Release"), release,
    h("label", { for: "filter-status" }, "Status"), status,
    h("label", { for: "filter-id" }, "Id"), search,
    h("button", { type: "submit", id: "filter-apply" }, "Filter"));
  section.append(form,
    h("table", { class: "grid requests", "aria-label": "Requests" },
      h("colgroup", {}, ...Array.from({ length: 5 }, () => h("col"))),
      h("thead", {}, h("tr", {}, ...["Time (UTC)", "Release", "Path", "Response", "Event id"].map((t) => h("th", { scope: "col" }, t)))),
      rows),
    detail);
  await load();
  const timer = setInterval(() => load().catch(() => {}), 5000);
  signal.addEventListener("abort", () => clearInterval(timer));
}
