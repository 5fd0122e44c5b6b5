// Live view of a stream in a <video>: its fragmented MP4 (`live.mp4`) fetched with the token
// and appended to a Media Source Extensions buffer, kept near the live edge; where MSE or the
// codec is missing, the MJPEG view in an <img> (sent the session cookie) instead.
import { h, api, enc, authHeaders } from './dom.js';

const BEHIND = 2.0; // seconds behind the newest frame before jumping ahead
const KEEP = 10; // seconds of played video kept in the buffer

export function playLive(video, name) {
  const ctl = new AbortController();
  let url = null;
  run(video, name, ctl, (u) => { url = u; }).catch((e) => {
    if (e.name !== 'AbortError') video.dataset.error = e.message;
  });
  return () => {
    ctl.abort();
    if (url) URL.revokeObjectURL(url);
    // An MJPEG <img> holds its connection open until its source goes.
    const img = video.mjpeg;
    if (img) img.removeAttribute('src');
  };
}

function mjpeg(video, name) {
  const img = h('img', {
    class: `${video.className} mjpeg`,
    alt: `Live view of ${name}`,
    src: `/api/streams/${enc(name)}/live.mjpeg?fps=5`,
  });
  video.mjpeg = img;
  video.replaceWith(img);
}

async function run(video, name, ctl, keepUrl) {
  const info = await api(`/api/streams/${enc(name)}/live`, { signal: ctl.signal });
  if (!window.MediaSource || !MediaSource.isTypeSupported(info.mime)) return mjpeg(video, name);
  const source = new MediaSource();
  const url = URL.createObjectURL(source);
  keepUrl(url);
  video.src = url;
  await new Promise((ok) => source.addEventListener('sourceopen', ok, { once: true }));
  const buffer = source.addSourceBuffer(info.mime);
  const queue = [];
  const pump = () => {
    if (buffer.updating || !queue.length || source.readyState !== 'open') return;
    const b = video.buffered;
    if (b.length && video.currentTime - b.start(0) > KEEP * 2) {
      buffer.remove(b.start(0), video.currentTime - KEEP);
      return;
    }
    buffer.appendBuffer(queue.shift());
  };
  buffer.addEventListener('updateend', () => {
    const b = video.buffered;
    if (b.length) {
      const end = b.end(b.length - 1);
      if (end - video.currentTime > BEHIND) video.currentTime = Math.max(end - 0.3, 0);
    }
    if (video.paused) video.play().catch(() => {});
    pump();
  });
  const r = await fetch(`/api/streams/${enc(name)}/live.mp4`, {
    headers: authHeaders(),
    signal: ctl.signal,
    credentials: 'same-origin',
  });
  if (!r.ok) throw new Error(`live.mp4: ${r.status}`);
  const reader = r.body.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    queue.push(value);
    pump();
  }
}
