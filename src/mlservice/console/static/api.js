// Every call the console makes: same-origin, with the session cookie. Writes carry the
// X-MLS-Console header the server asks of cookie-authenticated writes (CSRF defence).

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

let onUnauthorized = () => {};
export function whenUnauthorized(callback) { onUnauthorized = callback; }

export async function call(method, path, { body, contentType, raw } = {}) {
  const headers = { Accept: "application/json" };
  if (method !== "GET" && method !== "HEAD") headers["X-MLS-Console"] = "1";
  let payload;
  if (body !== undefined) {
    headers["Content-Type"] = contentType || "application/json";
    payload = typeof body === "string" || body instanceof Blob || body instanceof ArrayBuffer
      ? body : JSON.stringify(body);
  }
  const answer = await fetch(path, { method, headers, body: payload, credentials: "same-origin" });
  if (answer.status === 401) onUnauthorized();
  if (raw) return answer;
  const text = await answer.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = { message: text }; }
  if (!answer.ok) throw new ApiError(answer.status, data);
  return data;
}

export const get = (path) => call("GET", path);

export function mergePatch(path, patch) {
  return call("PATCH", path, { body: patch, contentType: "application/merge-patch+json" });
}

// `?watch=1` from `resourceVersion`: one JSON event a line, until `signal` aborts.
export async function watch(path, resourceVersion, onEvent, signal) {
  const sep = path.includes("?") ? "&" : "?";
  const url = `${path}${sep}watch=1&resourceVersion=${encodeURIComponent(resourceVersion)}`;
  const answer = await fetch(url, { credentials: "same-origin", signal });
  if (answer.status === 401) { onUnauthorized(); return; }
  if (!answer.ok || !answer.body) throw new ApiError(answer.status, null);
  const reader = answer.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let newline;
    while ((newline = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, newline).trim();
      buffer = buffer.slice(newline + 1);
      if (line) onEvent(JSON.parse(line));
    }
  }
}

// The kinds the console lists: MLService, SimpleMLService, InferenceService.
export const KINDS = [
  { kind: "MLService", plural: "mlservices", prefix: "/apis/tensorstack.dev/v1beta1" },
  { kind: "SimpleMLService", plural: "simplemlservices", prefix: "/apis/tensorstack.dev/v1beta1" },
  { kind: "InferenceService", plural: "inferenceservices", prefix: "/apis/serving.kserve.io/v1beta1" },
];

export const kindOf = (plural) => KINDS.find((k) => k.plural === plural);

export function itemPath(plural, namespace, name) {
  const kind = kindOf(plural);
  return `${kind.prefix}/namespaces/${encodeURIComponent(namespace)}/${plural}/${encodeURIComponent(name)}`;
}
