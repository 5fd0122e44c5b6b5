// The zone and line editor of a camera page: an SVG layer over the live picture, coordinates
// normalized to the frame (0..1, as the API takes them).
// Mouse or touch: click to add a point of the new shape; drag any point (a saved shape's or
//   the new one's) to move it.
// Keyboard: Tab to the picture, arrow keys move a cursor (Shift: 10 × farther), Enter or Space
//   adds a point there, Backspace removes the last one; Tab on to a shape's point and the arrow
//   keys move that point.
import { h, api, enc, field, svg } from './dom.js';

const STEP = 0.01; // an arrow key's move, a fraction of the picture
const FAR = 10; // Shift × STEP

const clamp = (v) => Math.min(Math.max(v, 0), 1);

// A draggable, focusable point: `shape` is `zone:I`, `line:I` or `new`, `vertex` its index.
function handle(shape, vertex, [x, y], label) {
  const c = svg('circle', { cx: x * 1000, cy: y * 1000, r: 12, class: 'handle', tabindex: 0, role: 'button', 'data-shape': shape, 'data-vertex': vertex });
  c.setAttribute('aria-label', label);
  return c;
}

// The editor of `stream`'s zones and lines, drawn on `layer` (the page's SVG overlay).
// Returns its side panel.
export function editor(layer, stream) {
  const zones = (stream.zones || []).map((z) => ({ ...z, polygon: z.polygon.map((p) => [...p]) }));
  const lines = (stream.lines || []).map((l) => ({ ...l, points: l.points.map((p) => [...p]) }));
  const pending = [];
  const cursor = { at: [0.5, 0.5], shown: false };

  const points = (shape) => {
    if (shape === 'new') return pending;
    const [kind, i] = shape.split(':');
    return kind === 'zone' ? zones[Number(i)].polygon : lines[Number(i)].points;
  };
  const draw = (focus) => {
    layer.replaceChildren();
    const pts = (p) => p.map(([x, y]) => `${x * 1000},${y * 1000}`).join(' ');
    const label = (text, [x, y], dy) => {
      const t = svg('text', { x: x * 1000 + 6, y: y * 1000 + dy, class: 'label' });
      t.textContent = text; // a user's name: text, never markup
      return t;
    };
    zones.forEach((z, i) => {
      layer.append(svg('polygon', { points: pts(z.polygon), class: 'zone' }), label(z.name, z.polygon[0], 24));
      z.polygon.forEach((p, v) => layer.append(handle(`zone:${i}`, v, p, `Point ${v + 1} of zone ${z.name}`)));
    });
    lines.forEach((l, i) => {
      layer.append(svg('polyline', { points: pts(l.points), class: 'line' }), label(l.name, l.points[0], -8));
      l.points.forEach((p, v) => layer.append(handle(`line:${i}`, v, p, `Point ${v + 1} of line ${l.name}`)));
    });
    if (pending.length) {
      layer.append(svg('polyline', { points: pts(pending), class: 'pending' }));
      pending.forEach((p, v) => layer.append(handle('new', v, p, `Point ${v + 1} of the new shape`)));
    }
    if (cursor.shown) {
      const [x, y] = cursor.at.map((v) => v * 1000);
      layer.append(svg('path', { d: `M${x - 25},${y}H${x + 25}M${x},${y - 25}V${y + 25}`, class: 'cursor', id: 'cursor' }));
    }
    // Redrawing replaced the focused point: focus its successor.
    if (focus) layer.querySelector(`[data-shape="${focus.shape}"][data-vertex="${focus.vertex}"]`)?.focus();
  };

  // Mouse and touch: a click adds a point; a drag from a point moves it.
  const at = (e) => {
    const r = layer.getBoundingClientRect();
    return [clamp((e.clientX - r.left) / r.width), clamp((e.clientY - r.top) / r.height)];
  };
  let drag = null;
  let onHandle = false;
  layer.addEventListener('pointerdown', (e) => {
    const t = e.target;
    onHandle = !!t.dataset?.shape;
    if (!onHandle) return;
    drag = { shape: t.dataset.shape, vertex: Number(t.dataset.vertex) };
    layer.setPointerCapture(e.pointerId);
    e.preventDefault();
  });
  layer.addEventListener('pointermove', (e) => {
    if (!drag) return;
    points(drag.shape)[drag.vertex] = at(e);
    draw();
  });
  const endDrag = () => { drag = null; };
  layer.addEventListener('pointerup', endDrag);
  layer.addEventListener('pointercancel', endDrag);
  layer.addEventListener('click', (e) => {
    if (onHandle) return void (onHandle = false); // a press on a point moves it, adds none
    pending.push(at(e));
    draw();
  });

  // Keyboard: the picture has a cursor; a focused point moves itself.
  layer.setAttribute('tabindex', '0');
  layer.setAttribute('role', 'application');
  layer.setAttribute('aria-label', 'Picture: arrow keys move the cursor, Enter adds a point, Backspace removes the last; Tab to a point to move it with the arrow keys');
  layer.addEventListener('focus', () => { cursor.shown = true; draw(); });
  layer.addEventListener('blur', (e) => {
    cursor.shown = false;
    // Tab into one of the picture's points: redrawing must not drop the focus it moved to.
    const t = e.relatedTarget;
    draw(t?.dataset?.shape ? { shape: t.dataset.shape, vertex: Number(t.dataset.vertex) } : undefined);
  });
  const arrows = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
  layer.addEventListener('keydown', (e) => {
    const t = e.target;
    const d = arrows[e.key];
    const step = STEP * (e.shiftKey ? FAR : 1);
    if (t.dataset?.shape && d) {
      const focus = { shape: t.dataset.shape, vertex: Number(t.dataset.vertex) };
      const p = points(focus.shape)[focus.vertex];
      points(focus.shape)[focus.vertex] = [clamp(p[0] + d[0] * step), clamp(p[1] + d[1] * step)];
      draw(focus);
    } else if (t === layer && d) {
      cursor.at = [clamp(cursor.at[0] + d[0] * step), clamp(cursor.at[1] + d[1] * step)];
      draw();
    } else if (t === layer && (e.key === 'Enter' || e.key === ' ')) {
      pending.push([...cursor.at]);
      draw();
    } else if (t === layer && e.key === 'Backspace') {
      pending.pop();
      draw();
    } else {
      return;
    }
    e.preventDefault();
  });

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
      const del = h('button', { type: 'button', 'aria-label': `Delete ${k} ${s.name}` }, 'Delete');
      del.addEventListener('click', () => {
        const from = k === 'zone' ? zones : lines;
        from.splice(from.indexOf(s), 1);
        show();
      });
      return h('li', {}, `${k} ${s.name} `, del);
    }));
    draw();
  };
  const add = h('button', { type: 'button', id: 'shape-add' }, 'Add shape');
  add.addEventListener('click', () => {
    const need = kind.value === 'line' ? 2 : 3;
    if (!name.input.value.trim()) return void (status.textContent = 'Name the shape first.');
    if (pending.length < need) return void (status.textContent = `Place ${need} or more points on the picture.`);
    const cls = classes.input.value.split(',').map((c) => c.trim()).filter(Boolean);
    const common = { name: name.input.value.trim(), ...(cls.length ? { classes: cls } : {}) };
    if (kind.value === 'line') {
      const [[x0, y0], [x1, y1]] = pending;
      const line = { ...common, points: pending.slice(0, 2) };
      if (flip.checked) line.in_direction = [y1 - y0, -(x1 - x0)];
      lines.push(line);
    } else {
      const zone = { ...common, polygon: pending.slice() };
      if (loiter.input.value) zone.loiter_seconds = Number(loiter.input.value);
      if (max.input.value) zone.max_objects = Number(max.input.value);
      zones.push(zone);
    }
    pending.length = 0;
    status.textContent = '';
    show();
  });
  const save = h('button', { type: 'button', id: 'shapes-save' }, 'Save');
  save.addEventListener('click', async () => {
    try {
      await api(`/api/streams/${enc(stream.name)}`, { method: 'PATCH', json: { zones, lines } });
      status.textContent = 'Saved: applied to the running stream.';
    } catch (e) {
      status.textContent = e.message;
    }
  });
  show();
  return h('section', { class: 'card editor', 'aria-label': 'Zones and lines' },
    h('h2', {}, 'Zones and lines'),
    h('p', {}, 'Click points on the picture (or Tab to it: arrow keys and Enter), then describe the shape and add it. Drag a point to move it.'),
    h('div', { class: 'field' }, h('label', { for: 'shape-kind' }, 'Shape'), kind), name.row, classes.row,
    h('div', { class: 'field check' }, flip, h('label', { for: 'shape-flip' }, 'Flip the line\'s "in" direction')),
    loiter.row, max.row, add, list, save, status);
}
