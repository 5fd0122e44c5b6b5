// Review: events across cameras (filtered by camera, type, label, identity; newest first,
// updated live) and the event recordings (play with seeking, delete).
import { h, api, enc, every, time, svg } from './dom.js';

const WINDOW_MS = 10 * 60 * 1000; // the timeline's span
const EVERY_MS = 1000; // the events list's refresh: an event shows within ~1 s

// One row per camera: the last 10 minutes, a tick per event (title: what and when).
function timeline(events) {
  const now = Date.now();
  const byCamera = new Map();
  for (const e of events) {
    const t = Date.parse(e.wall_time);
    if (!e.source || now - t > WINDOW_MS) continue;
    if (!byCamera.has(e.source)) byCamera.set(e.source, []);
    byCamera.get(e.source).push([t, e]);
  }
  return [...byCamera].sort().map(([camera, list]) => {
    const ticks = svg('svg', { viewBox: '0 0 1000 20', preserveAspectRatio: 'none', class: 'ticks', role: 'img',
      'aria-label': `${list.length} events on ${camera} in the last 10 minutes` });
    for (const [t, e] of list) {
      const x = 1000 - ((now - t) / WINDOW_MS) * 1000;
      const tick = svg('line', { x1: x, x2: x, y1: 2, y2: 18, class: `tick ${e.type}` });
      const title = svg('title');
      title.textContent = `${e.type} ${e.label || ''} ${time(e.wall_time)}`;
      tick.append(title);
      ticks.append(tick);
    }
    return h('div', { class: 'timeline', 'data-camera': camera }, h('span', { class: 'cam' }, camera), ticks);
  });
}

function select(id, label, values) {
  const s = h('select', { id }, h('option', { value: '' }, 'any'), values.map((v) => h('option', { value: v }, v)));
  return [h('label', { for: id }, label), s];
}

export function eventsPage(main) {
  const [cameraLabel, camera] = select('ev-camera', 'Camera', []);
  const [typeLabel, type] = select('ev-type', 'Type', ['new', 'update', 'end', 'zone_enter', 'zone_exit', 'line_cross', 'loitering', 'crowding', 'clip_start', 'clip_end', 'alert']);
  const label = h('input', { id: 'ev-label', autocomplete: 'off' });
  const who = h('input', { id: 'ev-identity', autocomplete: 'off' });
  const list = h('ol', { class: 'events', id: 'events' });
  const lines = h('section', { class: 'timelines', id: 'timelines', 'aria-label': 'Timeline: the last 10 minutes' });
  const filters = h('form', { class: 'filters' }, cameraLabel, camera, typeLabel, type,
    h('label', { for: 'ev-label' }, 'Label'), label, h('label', { for: 'ev-identity' }, 'Identity'), who);
  filters.addEventListener('submit', (e) => e.preventDefault());
  main.append(h('h1', {}, 'Events'), lines, filters, list);
  const known = new Set();
  const refresh = async () => {
    const q = new URLSearchParams({ limit: '200' });
    if (camera.value) q.set('source', camera.value);
    if (type.value) q.set('type', type.value);
    const events = await api(`/api/events?${q}`);
    lines.replaceChildren(...timeline(events));
    const clips = await api('/api/clips?limit=200').catch(() => []);
    const rows = [];
    for (const e of events) {
      if (e.source && !known.has(e.source)) {
        known.add(e.source);
        camera.append(h('option', { value: e.source }, e.source));
      }
      if (label.value && e.label !== label.value) continue;
      const name = e.identity ? e.identity.name : '';
      if (who.value && name !== who.value && String(e.unknown_id ?? '') !== who.value) continue;
      const when = Date.parse(e.wall_time);
      const clip = clips.find((c) => c.source === e.source && Date.parse(c.start) <= when && when <= Date.parse(c.end || c.start) + 1000);
      rows.push(h('li', { class: `event ${e.type}`, 'data-event': e.event_id },
        // The event's own crop; else the clip it is in.
        e.thumbnail || clip ? h('img', { class: 'thumb', alt: '', src: e.thumbnail || `/api/clips/${enc(clip.id)}.jpg` }) : null,
        h('span', { class: 'type' }, e.type), ' ',
        h('strong', {}, e.label || e.zone || e.line || ''), ' ',
        name ? h('span', { class: 'who' }, e.unknown_id ? `unknown #${e.unknown_id}` : name) : null, ' ',
        h('span', { class: 'source' }, e.source), ' ',
        h('time', { datetime: e.wall_time }, time(e.wall_time)), ' ',
        clip ? h('a', { href: `#/clips/${enc(`${clip.id}@${Math.max((when - Date.parse(clip.start)) / 1000, 0).toFixed(1)}`)}` }, 'clip') : null));
    }
    list.replaceChildren(...rows);
  };
  for (const f of [camera, type, label, who]) f.addEventListener('change', refresh);
  return every(EVERY_MS, refresh);
}

// `open`: a clip id, or `id@seconds` to start at an event's time in it.
export function clipsPage(main, open) {
  const [openId, at] = (open || '').split('@');
  const list = h('ul', { class: 'clips', id: 'clips' });
  const player = h('video', { id: 'clip-player', controls: true, preload: 'metadata', hidden: true, 'aria-label': 'Clip' });
  main.append(h('h1', {}, 'Clips'), player, list);
  const play = (c, start = 0) => {
    player.hidden = false;
    player.src = `/api/clips/${enc(c.id)}.mp4`;
    if (start > 0) player.addEventListener('loadedmetadata', () => { player.currentTime = start; }, { once: true });
    player.play().catch(() => {});
  };
  const refresh = async () => {
    const clips = await api('/api/clips?limit=100');
    list.replaceChildren(...clips.map((c) => {
      const del = h('button', { type: 'button' }, 'Delete');
      del.addEventListener('click', async () => {
        if (!confirm(`Delete clip ${c.id}?`)) return;
        await api(`/api/clips/${enc(c.id)}`, { method: 'DELETE' });
        refresh();
      });
      const playButton = h('button', { type: 'button', class: 'play' }, 'Play');
      playButton.addEventListener('click', () => play(c));
      return h('li', { class: 'clip', 'data-id': c.id },
        h('img', { class: 'thumb', alt: '', src: `/api/clips/${enc(c.id)}.jpg` }),
        h('span', {}, `${c.source} · ${(c.triggers || []).join(', ')} · ${c.duration.toFixed(1)} s · ${time(c.start)}`),
        playButton, del);
    }));
    const wanted = openId && clips.find((c) => c.id === openId);
    if (wanted && player.hidden) play(wanted, Number(at) || 0);
  };
  refresh().catch((e) => list.replaceChildren(h('li', { class: 'error' }, e.message)));
  return () => player.pause();
}
