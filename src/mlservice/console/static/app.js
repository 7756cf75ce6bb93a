// The console's entry: log in (the `mls ui` link's fragment, or a pasted token), then route
// `#/...` to a view. Each view gets an AbortSignal that ends its watches and timers.
import { call, whenUnauthorized } from "./api.js";
import { serviceList } from "./list.js";
import { servicePage } from "./service.js";

const main = () => document.getElementById("main");
let current = null;

function showLogin(message) {
  if (current) current.abort();
  current = null;
  main().hidden = true;
  document.getElementById("logout").hidden = true;
  const login = document.getElementById("login");
  login.hidden = false;
  document.getElementById("login-error").textContent = message || "";
  document.getElementById("login-token").focus();
}

async function trade(token) {
  const answer = await fetch("/ui/session", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ token }),
    credentials: "same-origin",
  });
  return answer.ok;
}

async function route() {
  if (current) current.abort();
  current = new AbortController();
  const signal = current.signal;
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  const view = main();
  view.hidden = false;
  document.getElementById("login").hidden = true;
  document.getElementById("logout").hidden = false;
  view.replaceChildren();
  try {
    if (parts[0] === "s" && parts.length >= 4) {
      await servicePage(view, { plural: parts[1], namespace: parts[2], name: parts[3], tab: parts[4] || "overview", signal });
    } else {
      document.title = "Services · mlservice console";
      await serviceList(view, { signal });
    }
  } catch (err) {
    if (signal.aborted) return;
    view.append(Object.assign(document.createElement("p"), { className: "error", role: "alert", textContent: String(err.message || err) }));
  }
  view.focus({ preventScroll: true });
}

async function boot() {
  whenUnauthorized(() => showLogin("Your session has ended: log in again."));
  const fragment = new URLSearchParams(location.hash.replace(/^#/, ""));
  const token = fragment.get("token");
  if (token) {
    // The token leaves the address bar (and history) at once, whatever happens next.
    history.replaceState(null, "", location.pathname + "#/");
    if (!(await trade(token))) { showLogin("That link's token is not this console's."); return; }
  }
  const session = await fetch("/console/v1/session", { credentials: "same-origin" });
  if (!session.ok) { showLogin(); return; }
  window.addEventListener("hashchange", route);
  await route();
}

document.getElementById("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = document.getElementById("login-token");
  if (await trade(input.value.trim())) {
    input.value = "";
    window.removeEventListener("hashchange", route);
    window.addEventListener("hashchange", route);
    await route();
  } else {
    document.getElementById("login-error").textContent = "That token does not match.";
  }
});

document.getElementById("logout").addEventListener("click", async () => {
  await call("DELETE", "/ui/session");
  showLogin("Logged out.");
});

boot();
