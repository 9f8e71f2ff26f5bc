// The registry page: versions, aliases, deploy, split, canary, promote, rollback.
// Every call goes through this server's relay (/admin/api/registry/...) with the signed-in
// credential; the registry checks it again and records the caller in its audit log.
"use strict";

const REGISTRY = "/admin/api/registry/";
const ARM_COLORS = ["#1f6feb", "#bf8700", "#8250df", "#1a7f37"];
const registry = { model: null, timer: null, charts: null, previous: null, detail: null, status: null };

function registryApi(path, options) { return api(REGISTRY + path, options); }
function modelPath(model, rest = "") { return "models/" + encodeURIComponent(model) + rest; }

async function registryAction(label, path, json, method = "POST") {
  const model = registry.model;
  $("reg-error").textContent = "";
  $("reg-notice").textContent = label + " " + model + "...";
  // One action at a time from this page: a deploy takes a while (load, converge, drain).
  const page = $("page-registry");
  page.classList.add("busy");
  try {
    const result = await registryApi(modelPath(model, path), { method, json });
    logAction(label, model, "ok", true);
    $("reg-notice").textContent = label + " " + model + ": done";
    return result;
  } catch (error) {
    logAction(label, model, error.status + ": " + error.message, false);
    $("reg-notice").textContent = "";
    $("reg-error").textContent = label + " " + model + " refused: " + error.message;
    return null;
  } finally {
    page.classList.remove("busy");
    await refreshRegistry();
  }
}

function enterRegistry() {
  refreshRegistry(true);
  clearInterval(registry.timer);
  registry.timer = setInterval(() => refreshRegistry(false), REFRESH_MS);
}

function leaveRegistry() { clearInterval(registry.timer); registry.timer = null; }

async function refreshRegistry(listModels = true) {
  let services;
  try { services = await api("/admin/services"); } catch (error) {
    $("reg-error").textContent = error.message;
    return;
  }
  $("reg-off").hidden = Boolean(services.registry);
  $("reg-on").hidden = !services.registry;
  if (!services.registry) { leaveRegistry(); return; }
  $("reg-url").textContent = services.registry;
  if (listModels || !registry.model) {
    try {
      const models = await registryApi("models");
      const select = $("reg-model");
      select.replaceChildren(...models.map((m) => el("option", { value: m.name }, m.name)));
      if (registry.model && models.some((m) => m.name === registry.model)) select.value = registry.model;
      registry.model = select.value || null;
      select.closest("label").hidden = models.length === 0;
      $("reg-empty").hidden = models.length > 0;
    } catch (error) {
      const scope = error.status === 403 ? " (the registry shows its models to models:admin only)" : "";
      $("reg-error").textContent = "Registry refused: " + error.message + scope;
      $("reg-detail").hidden = true;
      $("reg-model").closest("label").hidden = true;
      return;
    }
  }
  $("reg-detail").hidden = !registry.model;
  if (registry.model) await refreshModelDetail(registry.model);
}

async function refreshModelDetail(model) {
  try {
    const [detail, status, audit, index, metrics] = await Promise.all([
      registryApi(modelPath(model)),
      registryApi(modelPath(model, "/status")),
      registryApi("audit?" + new URLSearchParams({ model, limit: "200" })),
      api("/v2/repository/index", { method: "POST", json: {} }),
      api("/metrics", { raw: true }).catch(() => ""),
    ]);
    if (model !== registry.model) return; // the user picked another model meanwhile
    registry.detail = detail;
    registry.status = status;
    const loaded = new Set(index.filter((m) => m.name === model && m.state === "READY").map((m) => String(m.version)));
    renderVersions(detail, loaded);
    renderSplit(detail, false);
    renderRollout(status.rollout);
    renderLastRollback(audit);
    renderDeployments(status.deployments || []);
    if (metrics) updateArmCharts(model, status.rollout, parseMetrics(metrics));
    $("reg-refreshed").textContent = "Refreshed " + new Date().toLocaleTimeString() + " (every 2 s).";
  } catch (error) {
    $("reg-error").textContent = "Registry: " + error.message;
  }
}

// ---- versions and aliases ----
function renderVersions(detail, loaded) {
  const arms = (detail.traffic && detail.traffic.arms) || {};
  const aliasesOf = {};
  for (const [name, v] of Object.entries(detail.aliases || {})) (aliasesOf[v] = aliasesOf[v] || []).push(name);
  const rows = [...detail.versions].reverse().map((v) => el("tr", { "data-version": String(v.version) },
    el("td", {}, String(v.version)),
    el("td", {}, (aliasesOf[v.version] || []).sort().join(", ") || "-"),
    el("td", { class: "num" }, arms[v.version] !== undefined ? arms[v.version] + " %" : "-"),
    el("td", { class: loaded.has(String(v.version)) ? "state-READY" : "" }, loaded.has(String(v.version)) ? "loaded" : "-"),
    el("td", { class: "hint" }, v.created_at.slice(0, 19).replace("T", " ") + " by " + (v.pushed_by || "?")),
    el("td", { class: "hint mono" }, v.sha256.slice(0, 12)),
    el("td", { class: "actions" },
      el("button", { class: "deploy", onclick: () => deployVersion(v.version) }, "Deploy"),
      el("button", { class: "secondary alias", onclick: () => aliasVersion(v.version) }, "Alias..."),
      el("button", { class: "secondary canary", onclick: () => startCanary(v.version) }, "Canary"))));
  $("reg-versions").querySelector("tbody").replaceChildren(...rows);
  const busy = detail.busy_with;
  $("reg-busy").textContent = busy ? "busy: " + busy : "";
}

function deployVersion(version) {
  const keep = $("reg-keep-previous").checked;
  return registryAction("deploy v" + version, "/deploy", { version: String(version), keep_previous: keep });
}

function aliasVersion(version) {
  const alias = $("reg-alias-name").value.trim();
  if (!alias) { $("reg-error").textContent = "Type an alias name (e.g. staging) first."; return null; }
  return registryAction("alias " + alias + " -> v" + version, "/aliases/" + encodeURIComponent(alias),
    { version: String(version) }, "PUT");
}

function startCanary(version) {
  const steps = $("reg-canary-steps").value.split(/[\s,]+/).filter(Boolean).map(Number);
  const interval = Number($("reg-canary-interval").value) || 60;
  const analysis = { min_requests: Number($("reg-canary-min").value) || 20 };
  return registryAction("canary v" + version, "/canary", { version: String(version), steps, interval_s: interval, analysis });
}

// ---- traffic split editor ----
function renderSplit(detail, force) {
  const box = $("reg-split");
  if (box.dataset.editing === "1" && !force) return; // keep what the user is typing
  const arms = (detail.traffic && detail.traffic.arms) || {};
  box.replaceChildren(...detail.versions.map((v) => el("label", { class: "arm" },
    el("span", {}, "v" + v.version),
    splitInput(v.version, arms[v.version] || 0))));
  const sticky = (detail.traffic && detail.traffic.sticky) || "";
  $("reg-sticky").value = sticky;
  updateSplitSum();
}

function splitInput(version, weight) {
  const input = el("input", { type: "number", min: "0", max: "100", step: "1", value: String(weight), "data-version": String(version) });
  input.addEventListener("input", () => { $("reg-split").dataset.editing = "1"; updateSplitSum(); });
  return input;
}

function splitArms() {
  const arms = {};
  for (const input of $("reg-split").querySelectorAll("input")) {
    const weight = Number(input.value);
    if (weight > 0) arms[input.dataset.version] = weight;
  }
  return arms;
}

function updateSplitSum() {
  const total = Object.values(splitArms()).reduce((a, b) => a + b, 0);
  $("reg-split-sum").textContent = "Sum: " + total + " %" + (total === 100 ? "" : " (must be 100)");
  $("reg-split-sum").className = total === 100 ? "hint" : "error";
}

async function applySplit(event) {
  event.preventDefault();
  const sticky = $("reg-sticky").value.trim() || null;
  $("reg-split").dataset.editing = "";
  await registryAction("split", "/traffic", { arms: splitArms(), sticky }, "PUT");
  if (registry.detail) renderSplit(registry.detail, true);
}

function resetSplit() {
  $("reg-split").dataset.editing = "";
  if (registry.detail) renderSplit(registry.detail, true);
}

// ---- rollout: progress, checks, actions ----
function renderRollout(report) {
  const box = $("reg-rollout");
  const rollout = report && report.rollout;
  const active = rollout && (rollout.state === "running" || rollout.state === "paused");
  for (const id of ["reg-promote", "reg-pause", "reg-abort"]) $(id).disabled = !active;
  $("reg-pause").textContent = rollout && rollout.state === "paused" ? "Resume" : "Pause";
  if (!rollout) { box.replaceChildren(el("p", { class: "hint" }, "No rollout yet for this model.")); return; }
  const stepClass = (i) => {
    if (rollout.kind !== "canary") return "";
    if (i < rollout.step || rollout.state === "promoted") return "done";
    if (i !== rollout.step) return "";
    return active ? "now" : rollout.state === "rolled_back" ? "failed" : "";
  };
  const steps = el("ol", { class: "steps" }, ...rollout.steps.map((w, i) => el("li", { class: stepClass(i) }, w + " %")));
  const check = rollout.last_check;
  const threshold = (rollout.analysis && rollout.analysis.threshold) || "?";
  box.replaceChildren(
    el("p", {}, el("strong", { id: "reg-rollout-state", class: "rollout-" + rollout.state, "data-state": rollout.state },
      rollout.state.replace("_", " ")),
      " " + rollout.kind + " #" + rollout.id + ": v" + rollout.baseline + " (baseline) -> v" + rollout.candidate +
      " (candidate), by " + (rollout.created_by || "?")),
    steps,
    el("p", {}, "Failed checks: " + rollout.failed_checks + " of " + threshold +
      (rollout.kind === "canary" ? " - every " + rollout.interval_s + " s" : "")),
    el("p", { class: "hint", id: "reg-last-check" }, check && check.result ? "Last check (step " + (check.step + 1) + ", " +
      check.weight + " %): " + check.result + " - " + check.reason : "No check yet."),
    rollout.reason ? el("p", { id: "reg-rollout-reason" }, "Reason: " + rollout.reason) : "",
    armsTable(report.arms || {}, rollout));
}

function armsTable(arms, rollout) {
  const role = (v) => (String(v) === String(rollout.baseline) ? "baseline" : "candidate");
  return el("table", { class: "arms" },
    el("thead", {}, el("tr", {}, ...["Arm", "Requests", "Errors", "Success %", "p50 ms", "p99 ms"].map((h) => el("th", {}, h)))),
    el("tbody", {}, ...Object.entries(arms).map(([v, a]) => el("tr", {},
      el("td", {}, "v" + v + " (" + role(v) + ")"), el("td", {}, String(a.requests)), el("td", {}, String(a.errors)),
      el("td", {}, String(a.success_rate)), el("td", {}, String(a.p50_ms)), el("td", {}, String(a.p99_ms))))));
}

function rolloutAction(action) {
  const state = registry.status && registry.status.rollout && registry.status.rollout.rollout.state;
  if (action === "pause" && state === "paused") action = "resume";
  return registryAction(action, "/" + action, {});
}

function rollback() {
  const to = $("reg-rollback-to").value.trim();
  return registryAction("rollback" + (to ? " to " + to : ""), "/rollback", to ? { to } : {});
}

// The reason of the most recent rollback in the audit log (a rollout's, or one by hand).
function renderLastRollback(audit) {
  const events = [...audit].reverse();
  const last = events.find((e) => e.action === "rolled-back" || e.action === "aborted" || e.action === "rollback");
  const box = $("reg-last-rollback");
  if (!last) { box.textContent = "No rollback recorded for this model."; return; }
  let reason = last.after && last.after.reason;
  if (!reason) {
    const arms = (last.after && last.after.arms) || {};
    reason = "by " + last.actor + ": traffic back to " + Object.keys(arms).map((v) => "v" + v).join(", ");
  }
  box.replaceChildren(el("strong", {}, last.at.slice(0, 19).replace("T", " ")), " ", el("span", { id: "reg-rollback-reason" }, reason));
}

function renderDeployments(deployments) {
  $("reg-deployments").querySelector("tbody").replaceChildren(...deployments.map((d) => el("tr", {},
    el("td", {}, "#" + d.id), el("td", {}, "v" + d.version), el("td", {}, (d.previous || []).map((v) => "v" + v).join(", ") || "-"),
    el("td", { class: d.state === "succeeded" ? "state-READY" : d.state === "failed" ? "state-UNAVAILABLE" : "" }, d.state),
    el("td", {}, d.reason || ""), el("td", { class: "hint" }, (d.created_by || "") + " " + d.started_at.slice(0, 19).replace("T", " ")))));
}

// ---- per-arm charts from this server's own metrics (label version) ----
function updateArmCharts(model, report, samples) {
  // The latest rollout's arms and the split's: a chart keeps its history when a rollout ends.
  const rollout = report && report.rollout;
  const traffic = Object.keys((registry.detail.traffic && registry.detail.traffic.arms) || {});
  const arms = [...new Set([...(rollout ? [rollout.baseline, rollout.candidate].map(String) : []), ...traffic])]
    .sort((a, b) => Number(a) - Number(b)).slice(0, ARM_COLORS.length);
  const now = performance.now();
  const snapshot = { at: now, model, arms: {} };
  for (const v of arms) {
    const mine = (l) => l.model === model && l.version === v && l.outcome !== "client_error";
    snapshot.arms[v] = { count: sumOf(samples, "mlinfer_model_request_duration_seconds_count", mine),
                         buckets: buckets(samples, "mlinfer_model_request_duration_seconds", mine) };
  }
  const key = model + ":" + arms.join(",");
  if (!registry.charts || registry.charts.key !== key) {
    const role = (v) => (!rollout ? "" : v === String(rollout.baseline) ? " baseline" : v === String(rollout.candidate) ? " candidate" : "");
    const series = arms.map((v, i) => ({ label: "v" + v + role(v), color: ARM_COLORS[i], dash: i % 2 === 1 }));
    registry.charts = { key, rate: new LineChart($("chart-arm-rate"), series), p99: new LineChart($("chart-arm-p99"), series) };
    registry.previous = null;
  }
  const before = registry.previous;
  registry.previous = snapshot;
  if (!before) return;
  const seconds = (now - before.at) / 1000;
  // A count that went down was reset (the version unloaded, the server restarted): no
  // rate for that interval, as Prometheus' rate() treats a reset.
  const reset = (v) => snapshot.arms[v].count < before.arms[v].count;
  registry.charts.rate.push(arms.map((v) => (reset(v) ? null : (snapshot.arms[v].count - before.arms[v].count) / seconds)));
  registry.charts.p99.push(arms.map((v) => {
    const q = reset(v) ? null : quantileBetween(before.arms[v].buckets, snapshot.arms[v].buckets, 0.99);
    return q === null ? null : q * 1000;
  }));
}

document.addEventListener("DOMContentLoaded", () => {
  $("reg-model").addEventListener("change", () => {
    registry.model = $("reg-model").value;
    $("reg-split").dataset.editing = "";
    refreshModelDetail(registry.model);
  });
  $("reg-split-form").addEventListener("submit", applySplit);
  $("reg-split-reset").addEventListener("click", resetSplit);
  $("reg-promote").addEventListener("click", () => rolloutAction("promote"));
  $("reg-pause").addEventListener("click", () => rolloutAction("pause"));
  $("reg-abort").addEventListener("click", () => rolloutAction("abort"));
  $("reg-rollback").addEventListener("click", rollback);
  pages.registry = { enter: enterRegistry, leave: leaveRegistry };
});
