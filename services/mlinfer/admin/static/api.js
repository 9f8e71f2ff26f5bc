// The signed-in credential (this tab's sessionStorage only) and calls to the server's API.
// Credentials travel in a header on every call, never in a URL or a cookie.
"use strict";

const CREDENTIAL_KEY = "mlinfer.credential";

const credential = {
  get() {
    const raw = sessionStorage.getItem(CREDENTIAL_KEY);
    return raw ? JSON.parse(raw) : null;
  },
  set(kind, value) { sessionStorage.setItem(CREDENTIAL_KEY, JSON.stringify({ kind, value })); },
  clear() { sessionStorage.removeItem(CREDENTIAL_KEY); },
  headers() {
    const c = this.get();
    if (!c) return {};
    return c.kind === "jwt" ? { Authorization: "Bearer " + c.value } : { "X-API-Key": c.value };
  },
};

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(path, { method = "GET", body, json, raw = false, headers = {} } = {}) {
  const init = { method, headers: { ...credential.headers(), ...headers }, cache: "no-store",
                 credentials: "omit" };
  if (json !== undefined) {
    init.body = JSON.stringify(json);
    init.headers["Content-Type"] = "application/json";
  } else if (body !== undefined) {
    init.body = body;
  }
  const response = await fetch(path, init);
  if (!response.ok) {
    let message = response.status + " " + response.statusText;
    try { const doc = await response.json(); if (doc.error) message = doc.error; } catch (_) {}
    throw new ApiError(response.status, message);
  }
  if (raw) return response.text();
  const text = await response.text();
  return text ? JSON.parse(text) : {};
}
