// Cameras: a tile per stream (live video, state, FPS, drops, reconnects, last error), a form
// to add one, removal with confirmation; a camera's page with its live view, its zones and
// lines drawn over it, and an editor for them (saved with PATCH, applied live).
import { h, api, enc, every, field, svg } from './dom.js';
import { editor } from './editor.js';
import { playLive } from './live.js';

function tile(stream) {
  const name = stream.name;
  const video = h('video', { class: 'live', muted: true, autoplay: true, playsinline: true, 'aria-label': `Live view of ${name}` });
  video.muted = true;
  const badge = h('span', { class: 'badge' });
  const stats = h('p', { class: 'stats' });
  const error = h('p', { class: 'error' });
  const remove = h('button', { type: 'button', class: 'remove', 'aria-label': `Remove ${name}` }, 'Remove');
  remove.addEventListener('click', async () => {
    if (!confirm(`Remove camera ${name}?`)) return;
    try {
      await api(`/api/streams/${enc(name)}`, { method: 'DELETE' });
    } catch (e) {
      error.textContent = e.message;
    }
  });
  const el = h('article', { class: 'tile', 'data-name': name },
    h('a', { href: `#/camera/${enc(name)}`, class: 'view' }, video),
    h('header', {}, h('h2', {}, name), badge), stats, error, remove);
  let stop = null;
  return {
    el,
    update(s) {
      badge.textContent = s.state;
      badge.className = `badge ${s.state}`;
      stats.textContent = `${s.fps.toFixed(1)} fps · ${s.drops} drops · ${s.reconnects} reconnects`;
      error.textContent = s.last_error || '';
      if (!stop && s.state === 'streaming') stop = playLive(video, name);
    },
    stop: () => stop && stop(),
  };
}

function addForm(added) {
  const name = field('add-name', 'Name', { required: true, autocomplete: 'off', placeholder: 'door' });
  const input = field('add-input', 'Input', { required: true, autocomplete: 'off', placeholder: 'rtsp://camera/stream' });
  // The main stream, recorded while the input (the substream) is detected on.
  const record = field('add-record-input', 'Record input (main stream, optional)', { autocomplete: 'off', placeholder: 'rtsp://camera/main' });
  const general = h('p', { class: 'error', role: 'alert' });
  const form = h('form', { class: 'card add', id: 'add-camera' },
    h('h2', {}, 'Add a camera'), name.row, input.row, record.row,
    h('button', { type: 'submit' }, 'Add camera'), general);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    for (const x of [name.error, input.error, record.error, general]) x.textContent = '';
    const json = { name: name.input.value, input: input.input.value };
    if (record.input.value) json.record_input = record.input.value;
    try {
      await api('/api/streams', { method: 'POST', json });
      form.reset();
      added();
    } catch (err) {
      // The API names the field first ("input …", "record_input …", "name …", "a stream named …").
      const m = err.message;
      const target = /record_input/i.test(m) ? record.error
        : /^(input|the input|files? )/i.test(m) || /scheme/i.test(m) ? input.error
        : /^(name|a stream named)/i.test(m) ? name.error : general;
      target.textContent = m;
    }
  });
  return form;
}

export function camerasPage(main) {
  const grid = h('section', { class: 'grid', id: 'grid', 'aria-label': 'Cameras' });
  const tiles = new Map();
  const refresh = async () => {
    const streams = await api('/api/streams');
    const names = new Set(streams.map((s) => s.name));
    for (const [n, t] of tiles) {
      if (!names.has(n)) {
        t.stop();
        t.el.remove();
        tiles.delete(n);
      }
    }
    for (const s of streams) {
      let t = tiles.get(s.name);
      if (!t) {
        t = tile(s);
        tiles.set(s.name, t);
        grid.append(t.el);
      }
      t.update(s);
    }
  };
  main.append(h('h1', {}, 'Cameras'), grid, addForm(refresh));
  const stop = every(2000, refresh);
  return () => {
    stop();
    for (const t of tiles.values()) t.stop();
  };
}

export function cameraPage(main, name) {
  const video = h('video', { class: 'live big', muted: true, autoplay: true, playsinline: true, 'aria-label': `Live view of ${name}` });
  video.muted = true;
  const layer = svg('svg', { viewBox: '0 0 1000 1000', preserveAspectRatio: 'none', class: 'overlay', id: 'overlay' });
  const stage = h('div', { class: 'stage' }, video, layer);
  // The stage takes the picture's shape, so the overlay's 0..1 coordinates are the frame's,
  // and is no taller than the window (a 4:3 picture must fit to be edited whole).
  video.addEventListener('loadedmetadata', () => {
    const [w, ht] = [video.videoWidth, video.videoHeight];
    if (!w || !ht) return;
    stage.style.aspectRatio = `${w} / ${ht}`;
    stage.style.maxWidth = `min(1000px, calc((100vh - 9rem) * ${w / ht}))`;
  });
  const info = h('p', { class: 'stats' });
  const countsLine = h('p', { class: 'counts', id: 'counts', 'aria-live': 'polite' });
  const side = h('div', { class: 'side' });
  main.append(h('h1', {}, name), h('div', { class: 'camera' }, h('div', {}, stage, info, countsLine), side));
  let stopLive = null;
  let ed = null;
  const load = async () => {
    const s = await api(`/api/streams/${enc(name)}`);
    const records = s.record_input ? ` · records ${s.record_input} (${s.record_input_state || 'opening'})` : '';
    info.textContent = `${s.state} · ${s.fps.toFixed(1)} fps · ${s.drops} drops · ${s.input}${records}`;
    const counts = s.counts || {};
    const parts = [
      ...Object.entries(counts.zones || {}).map(([z, by]) => `${z}: ${Object.values(by).reduce((a, b) => a + b, 0)} inside`),
      ...Object.entries(counts.lines || {}).map(([l, c]) => `${l}: ${c.in} in, ${c.out} out`),
    ];
    countsLine.textContent = parts.join(' · ');
    if (!ed) {
      ed = editor(layer, s);
      side.append(ed);
      stopLive = playLive(video, name);
    }
  };
  const stop = every(1000, load);
  return () => {
    stop();
    if (stopLive) stopLive();
  };
}
