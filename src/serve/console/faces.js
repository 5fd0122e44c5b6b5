// Faces: the gallery (people, sample crops), enrolling a photo, renaming and deleting people,
// and the remembered unknown people — name one (its samples join the gallery) or dismiss it.
import { h, api, enc, time } from './dom.js';

export function facesPage(main) {
  const people = h('ul', { class: 'people', id: 'people' });
  const unknown = h('ul', { class: 'people', id: 'unknown' });
  const status = h('p', { class: 'status', role: 'status', id: 'faces-status' });
  const name = h('input', { id: 'enroll-name', required: true, autocomplete: 'off' });
  const file = h('input', { id: 'enroll-file', type: 'file', accept: 'image/jpeg,image/png', required: true });
  const form = h('form', { class: 'card', id: 'enroll' }, h('h2', {}, 'Enroll a photo'),
    h('div', { class: 'field' }, h('label', { for: 'enroll-name' }, 'Name'), name),
    h('div', { class: 'field' }, h('label', { for: 'enroll-file' }, 'Photo (one face)'), file),
    h('button', { type: 'submit' }, 'Enroll'));
  main.append(h('h1', {}, 'Faces'), status, form, h('h2', {}, 'People'), people, h('h2', {}, 'Unknown people'), unknown);
  const say = (m) => { status.textContent = m; };
  const refresh = async () => {
    let gallery;
    try {
      gallery = await api('/api/faces');
    } catch (e) {
      say(e.status === 404 ? 'This service recognizes no faces (its pipeline has no [recognize] table).' : e.message);
      form.hidden = true;
      return;
    }
    people.replaceChildren(...gallery.map((p) => {
      const del = h('button', { type: 'button' }, 'Delete');
      del.addEventListener('click', async () => {
        if (!confirm(`Delete ${p.name} and every sample?`)) return;
        await api(`/api/faces/${enc(p.name)}`, { method: 'DELETE' }).catch((e) => say(e.message));
        refresh();
      });
      return h('li', { class: 'person' }, h('strong', {}, p.name), ` ${p.samples.length} sample(s) `,
        p.samples.map((s) => h('img', { class: 'crop', alt: `${p.name} sample`, src: s.url })), del);
    }));
    const strangers = await api('/api/faces/unknown');
    unknown.replaceChildren(...strangers.map((u) => {
      const input = h('input', { 'aria-label': `Name unknown #${u.unknown_id}`, autocomplete: 'off' });
      const nameIt = h('button', { type: 'button' }, 'Name');
      nameIt.addEventListener('click', async () => {
        try {
          await api(`/api/faces/unknown/${u.unknown_id}/name`, { method: 'POST', json: { name: input.value } });
          say(`unknown #${u.unknown_id} is now ${input.value}`);
        } catch (e) {
          say(e.message);
        }
        refresh();
      });
      const dismiss = h('button', { type: 'button' }, 'Dismiss');
      dismiss.addEventListener('click', async () => {
        await api(`/api/faces/unknown/${u.unknown_id}`, { method: 'DELETE' }).catch((e) => say(e.message));
        refresh();
      });
      return h('li', { class: 'person' }, h('strong', {}, `unknown #${u.unknown_id}`),
        ` seen ${u.count} time(s) on ${u.cameras.join(', ')}, last ${time(u.last_seen)} `,
        u.samples.map((s) => h('img', { class: 'crop', alt: `unknown #${u.unknown_id}`, src: s.url })),
        input, nameIt, dismiss);
    }));
  };
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = file.files[0];
    if (!f) return;
    try {
      await api(`/api/faces/${enc(name.value)}`, { method: 'POST', body: f, type: f.type || 'image/jpeg' });
      say(`${name.value} enrolled.`);
      form.reset();
    } catch (err) {
      say(err.message);
    }
    refresh();
  });
  refresh().catch((e) => say(e.message));
}
