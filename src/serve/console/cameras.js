// Cameras: a tile per stream (live video, state, FPS, drops, reconnects, last error), a form
// to add one, removal with confirmation; a camera's page with its live view, its zones and
// lines drawn over it, and an editor for them (saved with PATCH, applied live).
import { h, api, enc, every } from './dom.js';
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

function field(id, label, props) {
  const input = h('input', { id, name: id, ...props });
  const error = h('span', { class: 'field-error', id: `${id}-error`, role: 'alert' });
  input.setAttribute('aria-describedby', error.id);
  return { input, error, row: h('div', { class: 'field' }, h('label', { for: id }, label), input, error) };
}

function addForm(added) {
  const name = field('add-name', 'Name', { required: true, autocomplete: 'off', placeholder: 'door' });
  const input = field('add-input', 'Input', { required: true, autocomplete: 'off', placeholder: 'rtsp://camera/stream' });
  const general = h('p', { class: 'error', role: 'alert' });
  const form = h('form', { class: 'card add', id: 'add-camera' },
    h('h2', {}, 'Add a camera'), name.row, input.row,
    h('button', { type: 'submit' }, 'Add camera'), general);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    for (const x of [name.error, input.error, general]) x.textContent = '';
    try {
      await api('/api/streams', { method: 'POST', json: { name: name.input.value, input: input.input.value } });
      form.reset();
      added();
    } catch (err) {
      // The API names the field first ("input …", "name …", "a stream named …").
      const m = err.message;
      const target = /^(input|the input|files? )/i.test(m) || /scheme/i.test(m) ? input.error
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

// The editor's drawing: SVG over the video, coordinates normalized to the frame (0..1).
const SVG = 'http://www.w3.org/2000/svg'; // the SVG namespace: a name, not a URL fetched
function svg(tag, attrs) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

function draw(layer, zones, lines, pending) {
  layer.replaceChildren();
  const pts = (p) => p.map(([x, y]) => `${x * 1000},${y * 1000}`).join(' ');
  for (const z of zones) {
    layer.append(svg('polygon', { points: pts(z.polygon), class: 'zone' }));
    const [x, y] = z.polygon[0];
    const t = svg('text', { x: x * 1000 + 6, y: y * 1000 + 24, class: 'label' });
    t.textContent = z.name;
    layer.append(t);
  }
  for (const l of lines) {
    layer.append(svg('polyline', { points: pts(l.points), class: 'line' }));
    const [x, y] = l.points[0];
    const t = svg('text', { x: x * 1000 + 6, y: y * 1000 - 8, class: 'label' });
    t.textContent = l.name;
    layer.append(t);
  }
  if (pending.points.length) {
    layer.append(svg('polyline', { points: pts(pending.points), class: 'pending' }));
    for (const [x, y] of pending.points) layer.append(svg('circle', { cx: x * 1000, cy: y * 1000, r: 8, class: 'pending' }));
  }
}

function editor(stream, redraw, saved) {
  const zones = (stream.zones || []).map((z) => ({ ...z }));
  const lines = (stream.lines || []).map((l) => ({ ...l }));
  const pending = { kind: null, points: [] };
  const kind = h('select', { id: 'shape-kind' }, h('option', { value: 'line' }, 'Line (2 points)'), h('option', { value: 'zone' }, 'Zone (polygon)'));
  const name = field('shape-name', 'Name', { autocomplete: 'off' });
  const classes = field('shape-classes', 'Classes (comma-separated, empty: all)', { autocomplete: 'off' });
  const loiter = field('shape-loiter', 'Loiter seconds (zones)', { type: 'number', min: 0, step: 'any' });
  const max = field('shape-max', 'Max objects (zones)', { type: 'number', min: 1, step: 1 });
  const flip = h('input', { type: 'checkbox', id: 'shape-flip' });
  const status = h('p', { class: 'status', role: 'status' });
  const list = h('ul', { class: 'shapes' });
  const show = () => {
    list.replaceChildren(...[...zones.map((z) => ['zone', z]), ...lines.map((l) => ['line', l])].map(([k, s]) => {
      const del = h('button', { type: 'button' }, 'Delete');
      del.addEventListener('click', () => {
        const from = k === 'zone' ? zones : lines;
        from.splice(from.indexOf(s), 1);
        show();
      });
      return h('li', {}, `${k} ${s.name} `, del);
    }));
    redraw(zones, lines, pending);
  };
  const add = h('button', { type: 'button', id: 'shape-add' }, 'Add shape');
  add.addEventListener('click', () => {
    const need = kind.value === 'line' ? 2 : 3;
    if (!name.input.value.trim()) return void (status.textContent = 'Name the shape first.');
    if (pending.points.length < need) return void (status.textContent = `Click ${need} or more points on the picture.`);
    const cls = classes.input.value.split(',').map((c) => c.trim()).filter(Boolean);
    const common = { name: name.input.value.trim(), ...(cls.length ? { classes: cls } : {}) };
    if (kind.value === 'line') {
      const [[x0, y0], [x1, y1]] = pending.points;
      const line = { ...common, points: pending.points.slice(0, 2) };
      if (flip.checked) line.in_direction = [y1 - y0, -(x1 - x0)];
      lines.push(line);
    } else {
      const zone = { ...common, polygon: pending.points.slice() };
      if (loiter.input.value) zone.loiter_seconds = Number(loiter.input.value);
      if (max.input.value) zone.max_objects = Number(max.input.value);
      zones.push(zone);
    }
    pending.points = [];
    status.textContent = '';
    show();
  });
  const save = h('button', { type: 'button', id: 'shapes-save' }, 'Save');
  save.addEventListener('click', async () => {
    try {
      await api(`/api/streams/${enc(stream.name)}`, { method: 'PATCH', json: { zones, lines } });
      status.textContent = 'Saved: applied to the running stream.';
      saved();
    } catch (e) {
      status.textContent = e.message;
    }
  });
  const panel = h('section', { class: 'card editor', 'aria-label': 'Zones and lines' },
    h('h2', {}, 'Zones and lines'),
    h('p', {}, 'Click points on the picture, then describe the shape and add it.'),
    h('div', { class: 'field' }, h('label', { for: 'shape-kind' }, 'Shape'), kind), name.row, classes.row,
    h('div', { class: 'field check' }, flip, h('label', { for: 'shape-flip' }, 'Flip the line\'s "in" direction')),
    loiter.row, max.row, add, list, save, status);
  show();
  return { panel, click: (x, y) => { pending.points.push([x, y]); redraw(zones, lines, pending); } };
}

export function cameraPage(main, name) {
  const video = h('video', { class: 'live big', muted: true, autoplay: true, playsinline: true, 'aria-label': `Live view of ${name}` });
  video.muted = true;
  const layer = svg('svg', { viewBox: '0 0 1000 1000', preserveAspectRatio: 'none', class: 'overlay', id: 'overlay' });
  const stage = h('div', { class: 'stage' }, video, layer);
  // The stage takes the picture's shape, so the overlay's 0..1 coordinates are the frame's.
  video.addEventListener('loadedmetadata', () => {
    if (video.videoWidth && video.videoHeight) stage.style.aspectRatio = `${video.videoWidth} / ${video.videoHeight}`;
  });
  const info = h('p', { class: 'stats' });
  const countsLine = h('p', { class: 'counts', id: 'counts', 'aria-live': 'polite' });
  const side = h('div', { class: 'side' });
  main.append(h('h1', {}, name), h('div', { class: 'camera' }, h('div', {}, stage, info, countsLine), side));
  let stopLive = null;
  let ed = null;
  const load = async () => {
    const s = await api(`/api/streams/${enc(name)}`);
    info.textContent = `${s.state} · ${s.fps.toFixed(1)} fps · ${s.drops} drops · ${s.input}`;
    const counts = s.counts || {};
    const parts = [
      ...Object.entries(counts.zones || {}).map(([z, by]) => `${z}: ${Object.values(by).reduce((a, b) => a + b, 0)} inside`),
      ...Object.entries(counts.lines || {}).map(([l, c]) => `${l}: ${c.in} in, ${c.out} out`),
    ];
    countsLine.textContent = parts.join(' · ');
    if (!ed) {
      ed = editor(s, (z, l, p) => draw(layer, z, l, p), () => {});
      side.append(ed.panel);
      stopLive = playLive(video, name);
    }
  };
  layer.addEventListener('click', (e) => {
    const r = layer.getBoundingClientRect();
    if (ed) ed.click(Math.min(Math.max((e.clientX - r.left) / r.width, 0), 1), Math.min(Math.max((e.clientY - r.top) / r.height, 0), 1));
  });
  const stop = every(1000, load);
  return () => {
    stop();
    if (stopLive) stopLive();
  };
}
