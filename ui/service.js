// Service: health, readiness and /stats, polled while this view is open, with a small SVG chart
// (drawn by hand) per figure over the last five minutes.
import { API, getJson, needsKey } from './api.js';
import { h, labelOf } from './dom.js';

const POLL_MS = 2000;
const WINDOW_MS = 5 * 60 * 1000;
const SVG = 'http://www.w3.org/2000/svg';
const WIDTH = 300;
const HEIGHT = 80;

const SERIES = [
  { key: 'cache_hit_rate', title: 'Cache hit rate', unit: '%', scale: (v) => v * 100, max: () => 100 },
  { key: 'memory_usage_mb', title: 'Memory', unit: 'MB', scale: (v) => v, max: (vs) => niceMax(vs) },
  { key: 'active_streams', title: 'Active streams', unit: '', scale: (v) => v, max: (vs) => niceMax(vs, 4) },
];

const $ = (id) => document.getElementById(id);
const samples = [];
let timer;
let charts;

function niceMax(values, floor = 1) {
  const top = Math.max(floor, ...values);
  const step = 10 ** Math.floor(Math.log10(top));
  return Math.ceil(top / step) * step;
}

function svg(tag, attrs = {}) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

function buildCharts() {
  charts = SERIES.map((s) => {
    const titleId = `chart-${s.key}-title`;
    const line = svg('polyline', { class: 'chart-line', fill: 'none', points: '' });
    const grid = [0, 0.5, 1].map((f) => svg('line', { class: 'chart-grid', x1: 0, x2: WIDTH, y1: HEIGHT - f * HEIGHT + (f === 0 ? -0.5 : f === 1 ? 0.5 : 0), y2: HEIGHT - f * HEIGHT + (f === 0 ? -0.5 : f === 1 ? 0.5 : 0) }));
    const root = svg('svg', { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: 'img', 'aria-labelledby': titleId, preserveAspectRatio: 'none', class: 'chart-svg' });
    root.append(...grid, line);
    const value = h('p', { className: 'chart-value' });
    $('charts').append(h('figure', { className: 'chart' }, h('figcaption', { id: titleId }, s.title), root, value));
    return { s, line, value, root };
  });
}

function draw() {
  const now = Date.now();
  while (samples.length && samples[0].at < now - WINDOW_MS) samples.shift();
  // The x axis spans what has been sampled, up to the window: a chart opened a moment ago already
  // uses its whole width.
  const span = Math.max(2 * POLL_MS, Math.min(WINDOW_MS, now - (samples[0]?.at ?? now)));
  for (const c of charts) {
    const values = samples.map((p) => c.s.scale(p.stats[c.s.key] ?? 0));
    const max = c.s.max(values);
    c.line.setAttribute('points', samples.map((p, i) => `${(WIDTH - ((now - p.at) / span) * WIDTH).toFixed(1)},${(HEIGHT - (values[i] / max) * HEIGHT).toFixed(1)}`).join(' '));
    const last = values.at(-1);
    const text = last === undefined ? 'no sample yet' : `${Number.isInteger(last) ? last : last.toFixed(1)}${c.s.unit ? ` ${c.s.unit}` : ''} now`;
    c.value.textContent = `${text} (scale 0–${max}${c.s.unit ? ` ${c.s.unit}` : ''})`;
    c.root.setAttribute('aria-label', `${c.s.title}: ${text}; ${samples.length} samples over the last ${Math.round(span / 1000)} seconds, scale up to ${max}${c.s.unit ? ` ${c.s.unit}` : ''}`);
  }
}

async function probe(path, el) {
  try {
    const res = await fetch(`${API}${path}`, { headers: { Accept: 'application/json' } });
    const body = await res.json().catch(() => ({}));
    el.textContent = `${res.status} ${body.status ?? ''}`.trim();
    el.className = res.ok ? 'ok' : 'bad';
  } catch (err) {
    el.textContent = `unreachable (${err.message})`;
    el.className = 'bad';
  }
}

async function poll() {
  await Promise.all([probe('/health', $('probe-health')), probe('/health/ready', $('probe-ready'))]);
  if (needsKey()) {
    $('stats-list').replaceChildren(h('dt', {}, 'Stats'), h('dd', {}, 'Enter the API key to read /stats.'));
    draw();
    return;
  }
  try {
    const stats = await getJson('/stats', { headers: { Accept: 'application/json' } });
    samples.push({ at: Date.now(), stats });
    const list = $('stats-list');
    list.replaceChildren(...Object.entries(stats).filter(([, v]) => typeof v !== 'object').flatMap(([k, v]) => [h('dt', {}, labelOf(k)), h('dd', {}, typeof v === 'number' && !Number.isInteger(v) ? String(Number(v.toPrecision(4))) : String(v))]));
  } catch (err) {
    $('stats-list').replaceChildren(h('dt', {}, 'Stats'), h('dd', {}, err.message));
  }
  draw();
}

export function showService() {
  if (!charts) buildCharts();
  if (timer) return;
  void poll();
  timer = setInterval(() => void poll(), POLL_MS);
}

export function hideService() {
  clearInterval(timer);
  timer = undefined;
}
