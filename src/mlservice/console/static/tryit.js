// "Try it": send V1 or V2 JSON, or a file, to the service (through the API, which forwards
// to the gateway with the service's host) and see the answer, the release and the latency.
import { call } from "./api.js";
import { h } from "./dom.js";

const V1 = { instances: [[6.8, 2.8, 4.8, 1.4]] };
const V2 = { inputs: [{ name: "input-0", shape: [1, 4], datatype: "FP32", data: [6.8, 2.8, 4.8, 1.4] }] };

export async function tryTab({ obj, plural, namespace, name, section }) {
  const releases = (obj.status?.releases || []).map((r) => r.name);
  const release = h("select", { id: "try-release" }, h("option", { value: "" }, "the service (traffic split)"), ...releases.map((r) => h("option", { value: r }, `release ${r} only`)));
  const protocol = h("select", { id: "try-protocol" }, h("option", { value: "v1" }, "V1 JSON"), h("option", { value: "v2" }, "V2 JSON"), h("option", { value: "file" }, "Upload a file"));
  const path = h("input", { id: "try-path", type: "text", size: 48, value: `/v1/models/${name}:predict` });
  const text = h("textarea", { id: "try-body", rows: 8, cols: 70, spellcheck: "false" }, JSON.stringify(V1, null, 2));
  const file = h("input", { id: "try-file", type: "file", hidden: true });
  const fileLabel = h("label", { for: "try-file", hidden: true }, "File");
  const out = h("div", { class: "answer", id: "try-answer", "aria-live": "polite" });
  protocol.addEventListener("change", () => {
    const v = protocol.value;
    path.value = v === "v2" ? `/v2/models/${name}/infer` : `/v1/models/${name}:predict`;
    text.hidden = v === "file";
    file.hidden = fileLabel.hidden = v !== "file";
    if (v !== "file") text.value = JSON.stringify(v === "v2" ? V2 : V1, null, 2);
  });
  const send = async (event) => {
    event.preventDefault();
    out.replaceChildren(h("p", { class: "muted" }, "Sending…"));
    const params = new URLSearchParams({ kind: plural, namespace, name, path: path.value });
    if (release.value) params.set("release", release.value);
    let body = text.value, contentType = "application/json";
    if (protocol.value === "file") {
      const chosen = file.files[0];
      if (!chosen) { out.replaceChildren(h("p", { class: "error" }, "Choose a file.")); return; }
      body = chosen; contentType = chosen.type || "application/octet-stream";
    }
    try {
      const answer = await call("POST", `/console/v1/try?${params}`, { body, contentType });
      let shown = answer.text ?? `(binary, base64) ${answer.base64 || ""}`;
      try { shown = JSON.stringify(JSON.parse(shown), null, 2); } catch { /* as is */ }
      out.replaceChildren(
        h("dl", { class: "facts" },
          h("dt", {}, "Status"), h("dd", { id: "try-status" }, answer.status || answer.error),
          h("dt", {}, "Release"), h("dd", { id: "try-release-answer" }, answer.release || "—"),
          h("dt", {}, "Latency"), h("dd", {}, answer.latencyMs !== undefined ? `${answer.latencyMs} ms` : "—")),
        h("pre", { class: "body" }, shown));
    } catch (err) {
      out.replaceChildren(h("p", { class: "error", role: "alert" }, err.message));
    }
  };
  section.append(h("form", { class: "stack", onsubmit: send },
    h("div", { class: "inline" }, h("label", { for: "try-release" }, "Send to"), release, h("label", { for: "try-protocol" }, "As"), protocol),
    h("div", { class: "inline" }, h("label", { for: "try-path" }, "Path"), path),
    h("label", { for: "try-body" }, "Body"), text, fileLabel, file,
    h("div", {}, h("button", { type: "submit", class: "primary", id: "try-send" }, "Send"))), out);
}
