// The service's replicas (its Pods), polled every 2 s, and a log tail that follows
// (`/log?follow=true`, streamed).
import { get } from "./api.js";
import { age, h } from "./dom.js";

const LABEL = "serving.mlservice.dev/service";

function state(pod) {
  const c = pod.status?.containerStatuses?.[0];
  if (c?.state?.running) return c.ready ? "Running, ready" : "Running";
  if (c?.state?.waiting) return c.state.waiting.reason || "Waiting";
  if (c?.state?.terminated) return c.state.terminated.reason || "Terminated";
  return pod.status?.phase || "";
}

function megabytes(bytes) {
  return bytes === undefined || bytes === null ? "—" : `${(bytes / 1048576).toFixed(0)} MB`;
}

function address(pod) {
  const port = pod.spec?.containers?.[0]?.ports?.find((p) => p.name === "http1" || p.name === "http");
  return port ? `${pod.status?.podIP || "127.0.0.1"}:${port.containerPort}` : "";
}

export async function replicasTab({ namespace, name, section, signal }) {
  const ns = encodeURIComponent(namespace);
  const selector = encodeURIComponent(`${LABEL}=${name}`);
  const body = h("tbody", {});
  const logBox = h("pre", { class: "log", id: "log", tabindex: 0, "aria-label": "Log tail" });
  const logTitle = h("h2", {}, "Log: choose a replica");
  section.append(
    h("table", { class: "grid replicas", "aria-label": "Replicas" },
      h("colgroup", {}, ...Array.from({ length: 10 }, () => h("col"))),
      h("thead", {}, h("tr", {}, ...["Replica", "Release", "Revision", "State", "Restarts", "Address", "Process", "RSS", "Age", ""].map((t) => h("th", { scope: "col" }, t)))),
      body),
    logTitle, logBox);
  let following = null;
  const follow = async (pod) => {
    if (following) following.abort();
    following = new AbortController();
    signal.addEventListener("abort", () => following.abort());
    logTitle.textContent = `Log: ${pod} (following)`;
    logBox.textContent = "";
    try {
      const answer = await fetch(`/api/v1/namespaces/${ns}/pods/${encodeURIComponent(pod)}/log?follow=true&tailLines=200`, { credentials: "same-origin", signal: following.signal });
      const reader = answer.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        const atEnd = logBox.scrollTop + logBox.clientHeight >= logBox.scrollHeight - 4;
        logBox.textContent = (logBox.textContent + value).slice(-200000);
        if (atEnd) logBox.scrollTop = logBox.scrollHeight;
      }
    } catch { /* aborted or the replica went away */ }
  };
  const draw = async () => {
    const [list, memory] = await Promise.all([
      get(`/api/v1/namespaces/${ns}/pods?labelSelector=${selector}`),
      get(`/console/v1/rss?namespace=${ns}&service=${encodeURIComponent(name)}`),
    ]);
    const rss = new Map(memory.items.map((m) => [m.name, m.rssBytes]));
    body.replaceChildren(...list.items.map((pod) => {
      const labels = pod.metadata.labels || {};
      const restarts = (pod.status?.containerStatuses || []).reduce((n, c) => n + (c.restartCount || 0), 0);
      return h("tr", {},
        h("td", { title: pod.metadata.name }, pod.metadata.name),
        h("td", {}, labels["serving.mlservice.dev/release"] || labels["serving.mlservice.dev/component"] || ""),
        h("td", {}, labels["serving.mlservice.dev/revision"] || ""),
        h("td", {}, state(pod)),
        h("td", { class: "num" }, restarts),
        h("td", {}, address(pod)),
        h("td", {}, (pod.status?.containerStatuses?.[0]?.containerID || "").replace("mls://", "pid ")),
        h("td", { class: "num" }, megabytes(rss.get(pod.metadata.name))),
        h("td", { class: "num" }, age(pod.metadata.creationTimestamp)),
        h("td", {}, h("button", { type: "button", onclick: () => follow(pod.metadata.name) }, "Log")));
    }));
    if (!list.items.length) body.replaceChildren(h("tr", {}, h("td", { colspan: 10, class: "muted" }, "No replicas.")));
  };
  await draw();
  const timer = setInterval(() => draw().catch(() => {}), 2000);
  signal.addEventListener("abort", () => clearInterval(timer));
}
