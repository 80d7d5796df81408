// The console's connection to the API: the access token lives only in this
// module's memory; the refresh token is an HttpOnly cookie the page never
// sees (POST /console/session/refresh turns it into a fresh access token).

const SESSION = { 'X-Landpatrol-Console': '1', 'Content-Type': 'application/json' };
let access = null; // { token, until (ms), user }
let refreshing = null;
const listeners = new Set();

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.error && body.error.message) || `HTTP ${status}`);
    this.status = status;
    this.code = body && body.error && body.error.code;
    this.details = body && body.error && body.error.details;
  }
}

export function user() { return access && access.user; }
export function onSession(f) { listeners.add(f); }

function keep(session) {
  access = session && {
    token: session.access_token,
    until: Date.now() + (session.expires_in - 30) * 1000,
    user: session.user,
  };
  for (const f of listeners) f(access && access.user);
  return access;
}

async function sessionCall(path, body) {
  const res = await fetch(path, { method: 'POST', headers: SESSION, credentials: 'same-origin',
    body: body ? JSON.stringify(body) : undefined });
  const json = res.status === 204 ? null : await res.json().catch(() => null);
  if (!res.ok) throw new ApiError(res.status, json);
  return json;
}

export async function signIn(username, password) {
  return keep(await sessionCall('/console/session', { username, password })).user;
}

/// A fresh access token from the cookie; null when there is no session.
export function resume() {
  // The marker cookie (no secret) says whether a refresh cookie exists.
  if (!document.cookie.split(';').some((c) => c.trim() === 'lp_console=1')) return Promise.resolve(keep(null));
  if (!refreshing) {
    refreshing = sessionCall('/console/session/refresh')
      .then(keep)
      .catch(() => keep(null))
      .finally(() => { refreshing = null; });
  }
  return refreshing;
}

export async function signOut() {
  try { await sessionCall('/console/session/logout'); } finally { keep(null); }
}

async function token() {
  if (access && Date.now() < access.until) return access.token;
  const a = await resume();
  if (!a) throw new ApiError(401, { error: { code: 'unauthenticated', message: 'signed out' } });
  return a.token;
}

/// A request to the API with the bearer token; JSON in, JSON out.
export async function api(path, { method = 'GET', body, raw = false, headers = {} } = {}) {
  for (let attempt = 0; ; attempt++) {
    const h = { Authorization: `Bearer ${await token()}`, ...headers };
    if (body !== undefined && !(body instanceof Blob)) h['Content-Type'] = 'application/json';
    const res = await fetch(path, { method, headers: h,
      body: body === undefined ? undefined : body instanceof Blob ? body : JSON.stringify(body) });
    if (res.status === 401 && attempt === 0) {
      access = null; // expired early (or revoked): one refresh, then give up
      continue;
    }
    if (raw) {
      if (!res.ok) throw new ApiError(res.status, await res.json().catch(() => null));
      return res;
    }
    const json = res.status === 204 ? null : await res.json().catch(() => null);
    if (!res.ok) throw new ApiError(res.status, json);
    return json;
  }
}

/// An object URL for an authenticated image (photos need the bearer token,
/// which an <img src> can not send).
const blobs = new Map();
export async function imageUrl(path) {
  if (!blobs.has(path)) {
    blobs.set(path, api(path, { raw: true }).then((r) => r.blob()).then((b) => URL.createObjectURL(b))
      .catch((e) => { blobs.delete(path); throw e; }));
  }
  return blobs.get(path);
}

/// Downloads an authenticated file (a CSV report) without a token in any URL.
export async function download(path, filename) {
  const blob = await (await api(path, { raw: true })).blob();
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
}

/// Follows a Server-Sent Events stream with the bearer token (EventSource
/// can not send one), resuming with Last-Event-ID after a drop or a token
/// expiry. Calls onEvent(type, data, id); returns a stop function.
export function follow(path, onEvent, onState = () => {}) {
  let lastId = null;
  let stopped = false;
  let ctrl = null;
  (async () => {
    let delay = 500;
    while (!stopped) {
      try {
        ctrl = new AbortController();
        const headers = { Authorization: `Bearer ${await token()}`, Accept: 'text/event-stream' };
        if (lastId !== null) headers['Last-Event-ID'] = String(lastId);
        const res = await fetch(path, { headers, signal: ctrl.signal });
        if (res.status === 401) { access = null; continue; }
        if (!res.ok) throw new ApiError(res.status, null);
        onState('live');
        delay = 500;
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          let end;
          while ((end = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, end);
            buf = buf.slice(end + 2);
            let type = 'message', data = '', id = null;
            for (const line of block.split('\n')) {
              if (line.startsWith('id:')) id = line.slice(3).trim();
              else if (line.startsWith('event:')) type = line.slice(6).trim();
              else if (line.startsWith('data:')) data += line.slice(5).trim();
            }
            if (id !== null) lastId = id;
            if (data) onEvent(type, JSON.parse(data), id);
          }
        }
      } catch (e) {
        if (stopped) return;
      }
      onState('reconnecting');
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 15000);
    }
  })();
  return () => { stopped = true; if (ctrl) ctrl.abort(); };
}
