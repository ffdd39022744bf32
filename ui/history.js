// History: the caption history walked by cursor, page after page as the reader scrolls. The list
// is windowed: rows have one fixed height, the spacer is as tall as every row loaded, and only the
// rows in view (and a few around them) exist in the DOM, so 100,000 rows scroll as easily as 100.
import { ApiError, downloadLink, getJson, needsKey } from './api.js';
import { formatDate, h, numberFormat, showMessage } from './dom.js';

const ROW_HEIGHT = 44;
const PAGE_SIZE = 100;
/** Rows rendered above and below the visible ones. */
const OVERSCAN = 8;
/** The next page is asked for when the reader is this many rows from the end of what is loaded. */
const PREFETCH_ROWS = 60;

const $ = (id) => document.getElementById(id);
const STYLES = ['casual', 'professional', 'inspirational', 'playful', 'educational', 'promotional', 'storytelling', 'minimalist'];

const state = {
  rows: [],
  total: null,
  nextCursor: null,
  loading: false,
  /** Bumped by every new query: a page that answers for an older one is dropped. */
  generation: 0,
  filters: new URLSearchParams(),
  started: false,
};
const rendered = new Map();
let observer;
let frame = 0;

function filterParams() {
  const form = $('history-filters');
  const params = new URLSearchParams();
  for (const el of form.elements) {
    if (el.name && el.value.trim()) params.set(el.name, el.value.trim());
  }
  return params;
}

function updateExports() {
  const q = state.filters.toString();
  const onError = (err) => showMessage($('history-error'), err.message);
  downloadLink($('export-ndjson'), `/caption-history/export?format=ndjson${q ? `&${q}` : ''}`, 'caption-history.ndjson', onError);
  downloadLink($('export-csv'), `/caption-history/export?format=csv${q ? `&${q}` : ''}`, 'caption-history.csv', onError);
}

function rowElement() {
  return h('div', { className: 'history-row', role: 'listitem' },
    h('span', { className: 'c-date' }), h('span', { className: 'c-user' }), h('span', { className: 'c-style' }),
    h('span', { className: 'c-quality' }), h('span', { className: 'c-caption' }));
}

function fill(el, row, index) {
  const [date, user, style, quality, caption] = el.children;
  date.textContent = formatDate(row.created_at);
  user.textContent = row.user_id ?? '—';
  style.textContent = row.style ?? '';
  quality.textContent = row.quality_score === null || row.quality_score === undefined ? '' : row.quality_score.toFixed(1);
  caption.textContent = `${row.caption}${row.hashtags?.length ? ` ${row.hashtags.join(' ')}` : ''}`;
  el.title = row.caption;
  el.setAttribute('aria-posinset', String(index + 1));
  el.setAttribute('aria-setsize', String(state.total ?? -1));
  el.style.transform = `translateY(${index * ROW_HEIGHT}px)`;
  el.dataset.index = String(index);
}

/** Renders the rows in view (plus the overscan) and drops the others. */
function render() {
  frame = 0;
  const viewport = $('history-viewport');
  const first = Math.max(0, Math.floor(viewport.scrollTop / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(state.rows.length, Math.ceil((viewport.scrollTop + viewport.clientHeight) / ROW_HEIGHT) + OVERSCAN);
  const spare = [];
  for (const [index, el] of rendered) {
    if (index < first || index >= last) {
      rendered.delete(index);
      spare.push(el);
    }
  }
  for (let i = first; i < last; i++) {
    if (rendered.has(i)) continue;
    const el = spare.pop() ?? viewport.appendChild(rowElement());
    fill(el, state.rows[i], i);
    rendered.set(i, el);
  }
  for (const el of spare) el.remove();
}

function scheduleRender() {
  if (!frame) frame = requestAnimationFrame(render);
}

function layout() {
  $('history-spacer').style.height = `${state.rows.length * ROW_HEIGHT}px`;
  // The sentinel covers the last PREFETCH_ROWS rows loaded: a reader who arrives anywhere in them
  // (scrolling, or jumping there with the scrollbar or End) is near the end.
  const sentinelRow = Math.max(0, state.rows.length - PREFETCH_ROWS);
  const sentinel = $('history-sentinel');
  sentinel.style.transform = `translateY(${sentinelRow * ROW_HEIGHT}px)`;
  sentinel.style.height = `${(state.rows.length - sentinelRow) * ROW_HEIGHT}px`;
  const total = state.total === null ? '' : `${numberFormat.format(state.total)} caption${state.total === 1 ? '' : 's'}`;
  $('history-total').textContent = state.rows.length === 0 && state.total === 0 ? 'No captions match.' : `${total} · ${numberFormat.format(state.rows.length)} loaded`;
  scheduleRender();
  // A fresh observation reports at once: if the sentinel is still near the view after this page
  // (a short page, a tall screen), the next page is asked for without waiting for a scroll.
  observer.unobserve($('history-sentinel'));
  if (state.nextCursor) observer.observe($('history-sentinel'));
}

async function loadPage() {
  if (state.loading) return;
  if (state.started && !state.nextCursor) return;
  state.loading = true;
  const generation = state.generation;
  const params = new URLSearchParams(state.filters);
  params.set('page_size', String(PAGE_SIZE));
  if (state.nextCursor) {
    params.set('cursor', state.nextCursor);
    params.set('include_total', 'false');
  }
  $('history-viewport').setAttribute('aria-busy', 'true');
  try {
    const page = await getJson(`/caption-history?${params}`);
    if (generation !== state.generation) return;
    state.started = true;
    state.rows.push(...page.data);
    if (page.pagination.total_items !== null) state.total = page.pagination.total_items;
    state.nextCursor = page.pagination.has_next ? page.pagination.next_cursor : null;
    showMessage($('history-error'), '');
  } catch (err) {
    if (generation !== state.generation) return;
    const detail = err instanceof ApiError && err.details.length ? `: ${err.details.map((d) => `${d.field} ${d.message}`).join('; ')}` : '';
    showMessage($('history-error'), `${err.message}${detail}`);
    state.nextCursor = null;
  } finally {
    if (generation === state.generation) {
      state.loading = false;
      $('history-viewport').removeAttribute('aria-busy');
      layout();
    }
  }
}

/** Starts over with the current filters. */
function restart() {
  state.generation += 1;
  state.rows = [];
  state.total = null;
  state.nextCursor = null;
  state.loading = false;
  state.started = false;
  state.filters = filterParams();
  for (const el of rendered.values()) el.remove();
  rendered.clear();
  $('history-viewport').scrollTop = 0;
  updateExports();
  void loadPage();
}

export function showHistory() {
  if (needsKey()) {
    $('history-total').textContent = 'Enter the API key to read the history.';
    return;
  }
  if (!state.started && !state.loading) restart();
  else scheduleRender();
}

export function initHistory() {
  const style = $('hf-style');
  for (const s of STYLES) style.append(h('option', { value: s }, s.charAt(0).toUpperCase() + s.slice(1)));
  const viewport = $('history-viewport');
  observer = new IntersectionObserver(
    (entries) => {
      if (entries.some((e) => e.isIntersecting)) void loadPage();
    },
    { root: viewport, rootMargin: `0px 0px ${ROW_HEIGHT * 10}px 0px` },
  );
  viewport.addEventListener('scroll', scheduleRender, { passive: true });
  window.addEventListener('resize', scheduleRender);
  const form = $('history-filters');
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    restart();
  });
  form.addEventListener('reset', () => setTimeout(restart));
  updateExports();
}

/** Called when the key changes: the next visit reads again. */
export function resetHistory() {
  state.generation += 1;
  state.started = false;
  state.loading = false;
}
