// The ITMS API from the browser: JSON requests, the signed-in user, live streams.

const TOKEN_KEY = "itms.auth";
let auth = loadAuth();
const authListeners = [];

function loadAuth() {
  try {
    const a = JSON.parse(localStorage.getItem(TOKEN_KEY) || "null");
    if (a && new Date(a.expires_at) > new Date()) return a;
  } catch {
    /* ignore a corrupt entry */
  }
  localStorage.removeItem(TOKEN_KEY);
  return null;
}

export class ApiError extends Error {
  constructor(status, detail) {
    super(typeof detail === "string" ? detail : JSON.stringify(detail));
    this.status = status;
  }
}

/**
 * GET a JSON reply. `lenient`: read bare NaN / Infinity values (not JSON, but Python's encoder
 * writes them for undefined KPIs) as null instead of failing.
 */
export async function getJSON(path, { authed = false, lenient = false } = {}) {
  const headers = { Accept: "application/json" };
  if (authed && auth) headers.Authorization = `Bearer ${auth.token}`;
  const reply = await fetch(path, { headers });
  if (reply.status === 401 && authed) setAuth(null);
  if (!reply.ok) throw new ApiError(reply.status, await detail(reply));
  if (!lenient) return reply.json();
  const text = await reply.text();
  return JSON.parse(text.replace(/([:,[]\s*)-?(?:NaN|Infinity)(?=\s*[,}\]])/g, "$1null"));
}

export async function postJSON(path, body, method = "POST") {
  const headers = { "Content-Type": "application/json", Accept: "application/json" };
  if (auth) headers.Authorization = `Bearer ${auth.token}`;
  const reply = await fetch(path, { method, headers, body: JSON.stringify(body || {}) });
  if (reply.status === 401) setAuth(null);
  if (!reply.ok) throw new ApiError(reply.status, await detail(reply));
  return reply.json();
}

async function detail(reply) {
  try {
    return (await reply.json()).detail;
  } catch {
    return reply.statusText;
  }
}

export function currentUser() {
  return auth;
}

export function isOperator() {
  return !!auth && (auth.role === "operator" || auth.role === "admin");
}

export function onAuth(fn) {
  authListeners.push(fn);
}

function setAuth(value) {
  auth = value;
  if (value) localStorage.setItem(TOKEN_KEY, JSON.stringify(value));
  else localStorage.removeItem(TOKEN_KEY);
  authListeners.forEach((fn) => fn(auth));
}

export async function signIn(username, password) {
  const body = new URLSearchParams({ username, password, grant_type: "password" });
  const reply = await fetch("/v1/auth/token", { method: "POST", body });
  if (!reply.ok) throw new ApiError(reply.status, await detail(reply));
  const tok = await reply.json();
  setAuth({ token: tok.access_token, expires_at: tok.expires_at, role: tok.role, username });
  return auth;
}

export function signOut() {
  setAuth(null);
}

/**
 * An SSE stream that reconnects by itself; EventSource resends Last-Event-ID, so nothing is
 * missed across a reconnect. `onState(true|false)` reports whether it is connected.
 */
export function stream(path, event, onData, onState) {
  const source = new EventSource(path);
  source.addEventListener(event, (e) => onData(JSON.parse(e.data)));
  source.onopen = () => onState && onState(true);
  source.onerror = () => onState && onState(false);
  return source;
}
