// The console's entry: sign-in, navigation between pages (hash routes), sign-out.
import { h, api, token, whenSignedOut } from './dom.js';
import { camerasPage, cameraPage } from './cameras.js';
import { eventsPage, clipsPage } from './review.js';
import { facesPage } from './faces.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const pages = {
  cameras: camerasPage,
  camera: cameraPage,
  events: eventsPage,
  clips: clipsPage,
  faces: facesPage,
};
let leave = null;

function route() {
  if (leave) leave();
  leave = null;
  const [name, arg] = location.hash.replace(/^#\/?/, '').split('/');
  const page = pages[name] ? name : 'cameras';
  for (const a of nav.querySelectorAll('a')) {
    a.toggleAttribute('aria-current', a.getAttribute('href') === `#/${page === 'camera' ? 'cameras' : page}`);
  }
  main.replaceChildren();
  leave = pages[page](main, arg === undefined ? undefined : decodeURIComponent(arg)) || null;
}

function signIn(message) {
  if (leave) leave();
  leave = null;
  nav.hidden = true;
  const input = h('input', { id: 'token', type: 'password', autocomplete: 'current-password', required: true });
  const status = h('p', { id: 'sign-in-error', class: 'error', role: 'alert' }, message || '');
  const form = h('form', { id: 'sign-in', class: 'card' },
    h('h1', {}, 'Sign in'),
    h('label', { for: 'token' }, 'API token'), input,
    h('button', { type: 'submit' }, 'Sign in'), status);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    status.textContent = '';
    const r = await fetch('/api/login', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ token: input.value }),
      credentials: 'same-origin',
    });
    if (r.status === 204) {
      token.set(input.value);
      open();
    } else {
      status.textContent = r.status === 401 ? 'Wrong token.' : `Sign-in failed (${r.status}).`;
    }
  });
  main.replaceChildren(form);
  input.focus();
}

async function open() {
  const state = await (await fetch('/api/login', { credentials: 'same-origin' })).json();
  if (state.token_required && (!token.get() || !state.signed_in)) return signIn();
  nav.hidden = false;
  document.getElementById('sign-out').hidden = !state.token_required;
  route();
}

whenSignedOut((message) => {
  token.clear();
  signIn(message);
});
document.getElementById('sign-out').addEventListener('click', async () => {
  await fetch('/api/login', { method: 'DELETE', credentials: 'same-origin' });
  token.clear();
  signIn('Signed out.');
});
window.addEventListener('hashchange', () => {
  if (!nav.hidden) route();
});
open().catch((e) => main.replaceChildren(h('p', { class: 'error' }, `The console could not start: ${e.message}`)));
