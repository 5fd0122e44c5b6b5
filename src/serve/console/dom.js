// DOM and API helpers. Elements are built from text nodes only: a user's string (a camera
// name, a label, an error) never becomes HTML.

export const enc = encodeURIComponent;

export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (v === true) el.setAttribute(k, '');
    else if (v !== false && v != null) el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const KEY = 'ovstream.token';
export const token = {
  get: () => sessionStorage.getItem(KEY),
  set: (t) => sessionStorage.setItem(KEY, t),
  clear: () => sessionStorage.removeItem(KEY),
};

export function authHeaders() {
  const t = token.get();
  return t ? { Authorization: `Bearer ${t}` } : {};
}

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

let onSignedOut = () => {};
export function whenSignedOut(f) {
  onSignedOut = f;
}

// `fetch` of an `/api` path with the bearer token; JSON in (`json`) and out; `{"error"}`
// bodies become an ApiError with the API's message.
export async function api(path, { method = 'GET', json, body, type, signal } = {}) {
  const headers = authHeaders();
  if (json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(json);
  } else if (type) {
    headers['Content-Type'] = type;
  }
  const r = await fetch(path, { method, headers, body, signal, credentials: 'same-origin' });
  if (r.status === 401) {
    onSignedOut('Signed out: the token was refused.');
    throw new ApiError(401, 'missing or wrong token');
  }
  if (!r.ok) {
    let message = `${r.status} ${r.statusText}`;
    try {
      message = (await r.json()).error || message;
    } catch (_) { /* not JSON */ }
    throw new ApiError(r.status, message);
  }
  if (r.status === 204) return null;
  return (r.headers.get('content-type') || '').includes('json') ? r.json() : r;
}

// Runs `f` now and every `ms`, until the returned function is called.
export function every(ms, f) {
  let stopped = false;
  const tick = async () => {
    if (stopped) return;
    try {
      await f();
    } catch (e) {
      console.warn(e);
    }
    if (!stopped) timer = setTimeout(tick, ms);
  };
  let timer = setTimeout(tick, 0);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

export function time(t) {
  return t ? new Date(t).toLocaleString() : '';
}

// A labelled input with its error line (`${id}-error`, announced).
export function field(id, label, props) {
  const input = h('input', { id, name: id, ...props });
  const error = h('span', { class: 'field-error', id: `${id}-error`, role: 'alert' });
  input.setAttribute('aria-describedby', error.id);
  return { input, error, row: h('div', { class: 'field' }, h('label', { for: id }, label), input, error) };
}

const SVG_NS = 'http://www.w3.org/2000/svg'; // the SVG namespace: a name, not a URL fetched

// An SVG element with `attrs` set (values as text).
export function svg(tag, attrs = {}) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}
