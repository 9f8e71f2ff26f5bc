// The instances page: each ready model's instance count on this server, and what the
// autoscaler (when one is configured) wants and decided, read through /admin/api/autoscaler.
"use strict";

const instances = { timer: null, counts: null, seen: [] };

function enterInstances() {
  refreshInstances();
  clearInterval(instances.timer);
  instances.timer = setInterval(refreshInstances, REFRESH_MS);
}

function leaveInstances() { clearInterval(instances.timer); instances.timer = null; }

async function refreshInstances() {
  let index, scaler;
  try {
    [index, scaler] = await Promise.all([
      api("/v2/repository/index", { method: "POST", json: {} }),
      api("/admin/api/autoscaler").catch((error) => ({ configured: true, error: error.message })),
    ]);
  } catch (error) {
    $("inst-error").textContent = error.message;
    return;
  }
  const names = [...new Set(index.filter((m) => m.state === "READY").map((m) => m.name))].sort();
  const served = await Promise.all(names.map((name) =>
    api("/v2/admin/models/" + encodeURIComponent(name) + "/instances")
      .then((doc) => doc.instances).catch((error) => "? (" + error.status + ")")));
  const wanted = (scaler.models) || {};
  $("inst-table").querySelector("tbody").replaceChildren(...names.map((name, i) => el("tr", { "data-model": name },
    el("td", {}, name),
    el("td", { class: "num served" }, String(served[i])),
    el("td", { class: "num" }, wanted[name] && wanted[name].desired !== undefined ? String(wanted[name].desired) : "-"),
    el("td", { class: "num" }, wanted[name] && wanted[name].current !== undefined ? String(wanted[name].current) : "-"),
    el("td", {}, lastDecision(scaler, name)),
    el("td", { class: "actions" }, countInput(name, served[i]),
      el("button", { class: "set", onclick: () => setInstances(name) }, "Set")))));
  renderAutoscaler(scaler);
  $("inst-refreshed").textContent = "Refreshed " + new Date().toLocaleTimeString() + " (every 2 s).";
}

// An input the user is typing in keeps its value across refreshes.
function countInput(model, served) {
  const id = "inst-count-" + model;
  const typed = document.getElementById(id);
  const input = el("input", { type: "number", min: "1", max: "64", id, class: "count" });
  input.value = typed && typed.dataset.edited ? typed.value : String(served);
  if (typed && typed.dataset.edited) input.dataset.edited = "1";
  input.addEventListener("input", () => { input.dataset.edited = "1"; });
  return input;
}

async function setInstances(model) {
  const input = document.getElementById("inst-count-" + model);
  const count = Number(input.value);
  try {
    const doc = await api("/v2/admin/models/" + encodeURIComponent(model) + "/instances",
      { method: "PUT", json: { instances: count } });
    logAction("instances " + count, model, "ok", true);
    $("inst-error").textContent = "";
    $("inst-notice").textContent = model + ": " + doc.instances + " instances";
  } catch (error) {
    logAction("instances " + count, model, error.status + ": " + error.message, false);
    $("inst-notice").textContent = "";
    $("inst-error").textContent = "instances of " + model + " refused: " + error.message;
  }
  delete input.dataset.edited;
  await refreshInstances();
}

function lastDecision(scaler, model) {
  const seen = instances.seen.find((d) => d.model === model);
  return seen ? seen.direction + " (" + seen.reason + ")" : "-";
}

function renderAutoscaler(scaler) {
  const box = $("inst-autoscaler");
  if (!scaler.configured) {
    box.replaceChildren(el("p", { class: "svc off", id: "inst-off" },
      "No autoscaler configured: instance counts change only by hand (Set above, or PUT /v2/admin/models/{model}/instances) " +
      "or by the model's config. Run `mlinfer autoscaler` and set MLINFER_ADMIN_AUTOSCALER_URL to its /metrics URL " +
      "to see its decisions here."));
    return;
  }
  if (scaler.error) { box.replaceChildren(el("p", { class: "error" }, "Autoscaler: " + scaler.error)); return; }
  noteNewDecisions(scaler.decisions);
  const failures = Object.entries(scaler.failures || {}).filter(([, n]) => n > 0);
  box.replaceChildren(
    el("p", { class: "hint" }, "Reading " + scaler.url),
    el("h3", {}, "Decisions while this page was open"),
    instances.seen.length ? el("table", { id: "inst-seen" },
      el("thead", {}, el("tr", {}, ...["Seen", "Model", "Direction", "Reason"].map((h) => el("th", {}, h)))),
      el("tbody", {}, ...instances.seen.slice(0, 20).map((d) => el("tr", { class: "dir-" + d.direction },
        el("td", {}, d.at), el("td", {}, d.model), el("td", { class: "dir" }, d.direction), el("td", {}, d.reason)))))
      : el("p", { class: "hint" }, "None yet: the autoscaler decides once per interval."),
    el("h3", {}, "All decisions since the autoscaler started"),
    el("table", { id: "inst-decisions" },
      el("thead", {}, el("tr", {}, ...["Model", "Direction", "Reason", "Count"].map((h) => el("th", {}, h)))),
      el("tbody", {}, ...[...scaler.decisions].sort((a, b) => b.count - a.count).map((d) => el("tr", { class: "dir-" + d.direction },
        el("td", {}, d.model), el("td", { class: "dir" }, d.direction), el("td", {}, d.reason), el("td", { class: "num" }, String(d.count)))))),
    failures.length ? el("p", { class: "error" }, "Failures: " + failures.map(([s, n]) => s + " " + n).join(", ")) : "");
}

// Decision counters that grew since the last read are the decisions made in between.
function noteNewDecisions(decisions) {
  const counts = new Map(decisions.map((d) => [d.model + "\u0000" + d.direction + "\u0000" + d.reason, d]));
  if (instances.counts) {
    for (const [key, d] of counts) {
      if (d.count > (instances.counts.get(key) || 0)) {
        instances.seen.unshift({ at: new Date().toLocaleTimeString(), model: d.model, direction: d.direction, reason: d.reason });
      }
    }
    instances.seen = instances.seen.slice(0, 100);
  }
  instances.counts = new Map([...counts].map(([k, d]) => [k, d.count]));
}

document.addEventListener("DOMContentLoaded", () => {
  pages.instances = { enter: enterInstances, leave: leaveInstances };
});
