// The panel: sign-in, overview with live charts, models and their actions, try-it, log.
// The registry and instances pages live in registry.js and instances.js.
"use strict";

const $ = (id) => document.getElementById(id);
const REFRESH_MS = 2000;
const state = { timer: null, previous: null, charts: null, models: [], services: null };
const pages = {}; // page name -> { enter, leave }: pages that poll while they are shown

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const child of children) node.append(child);
  return node;
}

// ---- the session's action log ----
function logAction(action, target, outcome, ok) {
  const row = el("tr", { class: ok ? "ok" : "failed" },
    el("td", {}, new Date().toLocaleTimeString()), el("td", {}, action),
    el("td", {}, target), el("td", {}, outcome));
  $("log-table").querySelector("tbody").prepend(row);
}

// ---- sign-in ----
async function signIn(event) {
  event.preventDefault();
  credential.set($("cred-kind").value, $("cred-value").value.trim());
  $("cred-value").value = "";
  try {
    await api("/v2/repository/index", { method: "POST", json: {} });
  } catch (error) {
    credential.clear();
    $("signin-error").textContent = "Sign-in refused: " + error.message;
    return;
  }
  $("signin-error").textContent = "";
  logAction("sign in", $("cred-kind").selectedOptions[0].text, "ok", true);
  showSignedIn();
}

function signOut() {
  credential.clear();
  clearInterval(state.timer);
  location.reload();
}

function showSignedIn() {
  $("signin").hidden = true;
  $("nav").hidden = false;
  const c = credential.get();
  $("who").replaceChildren(el("span", {}, c.kind === "jwt" ? "JWT" : "API key"),
    el("button", { class: "secondary", id: "signout", onclick: signOut }, "Sign out"));
  show("overview");
  loadServices();
  refreshModels();
  refreshOverview();
  state.timer = setInterval(refreshOverview, REFRESH_MS);
}

function show(page) {
  for (const section of document.querySelectorAll(".page")) section.hidden = section.id !== "page-" + page;
  for (const button of document.querySelectorAll("#nav button")) {
    button.classList.toggle("active", button.dataset.page === page);
  }
  if (page === "models") refreshModels();
  for (const [name, hooks] of Object.entries(pages)) {
    if (name === page) hooks.enter(); else hooks.leave();
  }
}

// ---- overview ----
async function refreshOverview() {
  try {
    const [ready, text, index] = await Promise.all([
      fetch("/v2/health/ready", { headers: credential.headers(), cache: "no-store" }),
      api("/metrics", { raw: true }),
      api("/v2/repository/index", { method: "POST", json: {} }),
    ]);
    $("t-health").textContent = ready.ok ? "ready" : "not ready";
    $("t-health").className = ready.ok ? "state-READY" : "state-UNAVAILABLE";
    const readyCount = index.filter((m) => m.state === "READY").length;
    $("t-ready").textContent = readyCount + " / " + index.length;
    updateRates(parseMetrics(text));
    refreshServices();
    $("refreshed").textContent = "Refreshed " + new Date().toLocaleTimeString() +
      " from this server's /metrics (every 2 s).";
  } catch (error) {
    $("refreshed").textContent = "Refresh failed: " + error.message;
  }
}

function updateRates(samples) {
  const now = performance.now();
  const isInference = (l) => l.protocol !== "http" || /infer/.test(l.route || "");
  const snapshot = {
    at: now,
    requests: sumOf(samples, "mlinfer_requests_total", isInference),
    latency: buckets(samples, "mlinfer_request_duration_seconds", isInference),
    queueUs: sumOf(samples, "nv_inference_queue_duration_us"),
    successes: sumOf(samples, "nv_inference_request_success"),
    hits: sumOf(samples, "nv_cache_num_hits_per_model"),
    misses: sumOf(samples, "nv_cache_num_misses_per_model"),
  };
  const before = state.previous;
  state.previous = snapshot;
  if (!before) return;
  const seconds = (now - before.at) / 1000;
  const rate = snapshot.requests < before.requests ? null : (snapshot.requests - before.requests) / seconds;
  const p50 = quantileBetween(before.latency, snapshot.latency, 0.5);
  const p99 = quantileBetween(before.latency, snapshot.latency, 0.99);
  const done = snapshot.successes - before.successes;
  const queueMs = done > 0 ? (snapshot.queueUs - before.queueUs) / done / 1000 : null;
  const lookups = snapshot.hits + snapshot.misses;
  $("t-rate").textContent = rate === null ? "-" : rate.toFixed(1);
  $("t-latency").textContent = p50 === null ? "-" :
    (p50 * 1000).toFixed(1) + " / " + (p99 * 1000).toFixed(1) + " ms";
  $("t-queue").textContent = queueMs === null ? "-" : queueMs.toFixed(2) + " ms";
  $("t-cache").textContent = lookups > 0 ? ((100 * snapshot.hits) / lookups).toFixed(0) + " %" : "no lookups";
  state.charts.rate.push([rate]);
  state.charts.latency.push([p50 === null ? null : p50 * 1000, p99 === null ? null : p99 * 1000]);
}

// ---- optional services, discovered by configured URL ----
async function loadServices() {
  let services;
  try { services = await api("/admin/services"); } catch (error) { return; }
  state.services = services;
  for (const name of ["exporter", "registry", "autoscaler"]) {
    const box = $("svc-" + name), url = services[name];
    if (!url) {
      box.className = "svc off";
      box.textContent = "not configured (" + (name === "registry" ? "MLINFER_REGISTRY_EMBEDDED=true or " : "") +
        "MLINFER_ADMIN_" + name.toUpperCase() + "_URL)";
      continue;
    }
    box.className = "svc";
    box.replaceChildren(el("div", { class: "hint" }, url), el("pre", {}, "loading..."));
    const show = (text) => { box.querySelector("pre").textContent = text; };
    serviceSummary(name, url).then(show).catch((e) => show("unreachable: " + e.message));
  }
}

// Later refreshes of the cards loadServices filled in, each summary in its own time.
function refreshServices() {
  for (const [name, url] of Object.entries(state.services || {})) {
    const pre = url && $("svc-" + name).querySelector("pre");
    if (pre) serviceSummary(name, url).then((t) => { pre.textContent = t; }).catch((e) => { pre.textContent = "unreachable: " + e.message; });
  }
}

// Every service answers through this server's relay (/admin/api/...): none speaks CORS.
async function serviceSummary(name, url) {
  if (name === "registry") {
    const models = await api("/admin/api/registry/models");
    return models.map((m) => m.name + ": versions " + m.versions.join(", ") + "; traffic " +
      (Object.entries(m.traffic).map(([v, w]) => "v" + v + " " + w + "%").join(", ") || "-")).join("\n") || "no models yet";
  }
  if (name === "autoscaler") {
    const doc = await api("/admin/api/autoscaler");
    return Object.entries(doc.models).map(([m, c]) => m + ": " + c.current + " instances, wants " + c.desired).join("\n") || "no models managed";
  }
  return deviceSummary(parseMetrics(await api("/admin/api/exporter", { raw: true })));
}

// The exporter's series that say how the device is doing (NVML, Jetson or host names).
function deviceSummary(samples) {
  const values = (name) => samples.filter((s) => s.name === name).map((s) => s.value);
  const max = (name) => { const v = values(name); return v.length ? Math.max(...v) : null; };
  const sum = (name) => { const v = values(name); return v.length ? v.reduce((a, b) => a + b, 0) : null; };
  const lines = [];
  const gpu = max("nv_gpu_utilization");
  if (gpu !== null) lines.push("GPU use      " + (100 * gpu).toFixed(0) + " %");
  const used = sum("nv_gpu_memory_used_bytes"), total = sum("nv_gpu_memory_total_bytes");
  if (used !== null && total) lines.push("GPU memory   " + (used / 2 ** 30).toFixed(1) + " / " + (total / 2 ** 30).toFixed(1) + " GiB");
  const power = sum("nv_gpu_power_usage") ?? sum("mlinfer_device_rail_power_watts");
  if (power !== null) lines.push("Power        " + power.toFixed(1) + " W");
  const hottest = samples.filter((s) => s.name === "mlinfer_device_temperature_celsius").sort((a, b) => b.value - a.value)[0];
  if (hottest) lines.push("Temperature  " + hottest.value.toFixed(1) + " °C (" + (hottest.labels.sensor || hottest.labels.gpu_uuid || "max") + ")");
  const throttled = max("mlinfer_device_throttled");
  if (throttled !== null) lines.push("Throttled    " + (throttled > 0 ? "yes" : "no"));
  const cpu = max("mlinfer_host_cpu_utilization");
  if (cpu !== null) lines.push("Host CPU     " + (100 * cpu).toFixed(0) + " %");
  return lines.join("\n") || "no device series in the exporter's metrics";
}

// ---- models ----
async function refreshModels() {
  try {
    state.models = await api("/v2/repository/index", { method: "POST", json: {} });
    $("models-error").textContent = "";
  } catch (error) {
    $("models-error").textContent = error.message;
    return;
  }
  const body = $("models-table").querySelector("tbody");
  body.replaceChildren(...state.models.map((m) => el("tr", { "data-model": m.name },
    el("td", {}, el("a", { class: "model", onclick: () => showModel(m.name) }, m.name)),
    el("td", {}, m.version || "-"),
    el("td", { class: "state-" + (m.state || "") }, m.state || "not loaded"),
    el("td", {}, m.reason || ""),
    el("td", { class: "actions" },
      el("button", { onclick: () => modelAction("load", m.name) }, m.state === "READY" ? "Reload" : "Load"),
      unloadButton(m)))));
  for (const select of document.querySelectorAll(".model-select")) {
    const chosen = select.value;
    select.replaceChildren(...state.models.filter((m) => m.state === "READY")
      .map((m) => el("option", { value: m.name }, m.name)));
    if (chosen) select.value = chosen;
  }
}

function unloadButton(model) {
  const button = el("button", { class: "danger", onclick: () => modelAction("unload", model.name) }, "Unload");
  button.disabled = model.state !== "READY";
  return button;
}

async function modelAction(action, model) {
  const label = action === "load" && state.models.find((m) => m.name === model)?.state === "READY" ? "reload" : action;
  let problem = "";
  try {
    await api("/v2/repository/models/" + encodeURIComponent(model) + "/" + action, { method: "POST", json: {} });
    logAction(label, model, "ok", true);
  } catch (error) {
    logAction(label, model, error.status + ": " + error.message, false);
    problem = label + " " + model + " refused: " + error.message;
  }
  await refreshModels();
  if (problem) $("models-error").textContent = problem;
}

async function showModel(model) {
  $("model-detail").hidden = false;
  $("detail-title").textContent = model;
  const path = "/v2/models/" + encodeURIComponent(model);
  const fill = (id, promise) => promise
    .then((doc) => { $(id).textContent = JSON.stringify(doc, null, 2); })
    .catch((error) => { $(id).textContent = error.message; });
  await Promise.all([fill("detail-config", api(path + "/config")), fill("detail-stats", api(path + "/stats"))]);
}

// ---- try it ----
async function tryImage(event) {
  event.preventDefault();
  const model = $("try-image-model").value, file = $("try-image-file").files[0];
  const form = new FormData();
  form.append("image", file);
  const query = new URLSearchParams({ model, top_k: $("try-image-topk").value || "3" });
  await showResult("infer image", model, api("/infer/image?" + query, { method: "POST", body: form }));
}

async function tryJson(event) {
  event.preventDefault();
  const model = $("try-json-model").value;
  let doc;
  try { doc = JSON.parse($("try-json-body").value); } catch (error) {
    $("try-result").textContent = "The body is not JSON: " + error.message;
    return;
  }
  await showResult("infer", model, api("/v2/models/" + encodeURIComponent(model) + "/infer", { method: "POST", json: doc }));
}

async function showResult(action, model, promise) {
  try {
    $("try-result").textContent = JSON.stringify(await promise, null, 2);
    logAction(action, model, "ok", true);
  } catch (error) {
    $("try-result").textContent = error.status + ": " + error.message;
    logAction(action, model, error.status + ": " + error.message, false);
  }
}

async function exampleBody() {
  const model = $("try-json-model").value;
  if (!model) return;
  try {
    const meta = await api("/v2/models/" + encodeURIComponent(model));
    const inputs = meta.inputs.map((t) => {
      const shape = t.shape.map((d) => (d < 0 ? 1 : d));
      const size = shape.reduce((a, b) => a * b, 1);
      return { name: t.name, datatype: t.datatype, shape, data: Array(size).fill(t.datatype === "BYTES" ? "x" : 0) };
    });
    $("try-json-body").value = JSON.stringify({ inputs }, null, 1);
  } catch (_) {}
}

document.addEventListener("DOMContentLoaded", () => {
  state.charts = {
    rate: new LineChart($("chart-rate"), [{ label: "req/s", color: "#1f6feb" }]),
    latency: new LineChart($("chart-latency"), [{ label: "p50", color: "#1a7f37" }, { label: "p99", color: "#cf222e" }]),
  };
  $("signin-form").addEventListener("submit", signIn);
  for (const button of document.querySelectorAll("#nav button")) {
    button.addEventListener("click", () => show(button.dataset.page));
  }
  $("try-image").addEventListener("submit", tryImage);
  $("try-json").addEventListener("submit", tryJson);
  $("try-json-model").addEventListener("change", exampleBody);
  document.querySelector('[data-page="tryit"]').addEventListener("click", exampleBody);
  if (credential.get()) showSignedIn();
});
