// The object as YAML (status and server-set metadata left out), editable, and applied as
// a replace (PUT) of the object, or a create when it does not exist. The server's field
// errors are listed at their paths.
import { ApiError, call, get, itemPath, KINDS } from "./api.js";
import { h } from "./dom.js";

function editable(obj) {
  const { status, ...rest } = obj;
  const meta = { ...rest.metadata };
  for (const key of ["uid", "resourceVersion", "generation", "creationTimestamp", "managedFields"]) delete meta[key];
  return { ...rest, metadata: meta };
}

export function causes(body) {
  const list = body?.details?.causes || [];
  return list.map((c) => ({ field: c.field || "", message: c.message || c.reason || "" }));
}

export async function yamlTab({ path, obj, section }) {
  const dumped = await call("POST", "/console/v1/yaml/dump", { body: editable(obj) });
  const text = h("textarea", { id: "yaml-text", rows: 24, cols: 90, spellcheck: "false", "aria-label": "YAML" }, dumped.text);
  const errors = h("div", { id: "yaml-errors", role: "alert" });
  const apply = async (event) => {
    event.preventDefault();
    errors.replaceChildren();
    try {
      const parsed = (await call("POST", "/console/v1/yaml", { body: text.value, contentType: "application/yaml" })).object;
      const kind = KINDS.find((k) => k.kind === parsed.kind);
      const ns = parsed.metadata?.namespace || obj.metadata.namespace;
      const target = kind && parsed.metadata?.name ? itemPath(kind.plural, ns, parsed.metadata.name) : path;
      let exists = true;
      try { await get(target); } catch (err) { if (err.status === 404) exists = false; else throw err; }
      if (exists) await call("PUT", target, { body: parsed });
      else await call("POST", target.slice(0, target.lastIndexOf("/")), { body: parsed });
      errors.replaceChildren(h("p", { class: "ok" }, exists ? "Applied (replaced)." : "Applied (created)."));
    } catch (err) {
      const found = err instanceof ApiError ? causes(err.body) : [];
      errors.replaceChildren(
        h("p", { class: "error" }, err.message),
        ...(found.length ? [h("ul", { class: "causes" }, ...found.map((c) => h("li", {}, h("code", { class: "field" }, c.field), ": ", c.message)))] : []));
    }
  };
  section.append(h("form", { class: "stack", onsubmit: apply },
    text, h("div", {}, h("button", { type: "submit", class: "primary", id: "yaml-apply" }, "Apply"))), errors);
}
