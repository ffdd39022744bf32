// Batch jobs: an NDJSON upload (a file, streamed as the body, or pasted lines) to POST /batches,
// its progress followed live from the SSE events (read through fetch, so the key header goes
// along), cancel, the results download, and the list of past batches.
import { ApiError, downloadLink, getJson, needsKey, request, sseEvents } from './api.js';
import { formatDate, h, numberFormat, showMessage } from './dom.js';

const $ = (id) => document.getElementById(id);
let following;
let listed = false;

function countsText(c) {
  const ended = c.succeeded + c.errored + c.canceled + c.expired;
  const parts = [`${numberFormat.format(ended)} of ${numberFormat.format(c.total)} ended`, `${c.succeeded} succeeded`];
  if (c.errored) parts.push(`${c.errored} errored`);
  if (c.canceled) parts.push(`${c.canceled} canceled`);
  if (c.expired) parts.push(`${c.expired} expired`);
  return parts.join(' · ');
}

function showBatch(batch) {
  const c = batch.request_counts;
  const ended = c.succeeded + c.errored + c.canceled + c.expired;
  $('batch-current').hidden = false;
  $('batch-id').textContent = batch.id;
  const progress = $('batch-progress');
  progress.max = Math.max(1, c.total);
  progress.value = ended;
  progress.setAttribute('aria-valuetext', `${ended} of ${c.total} items ended`);
  $('batch-counts').textContent = `${batch.status === 'ended' ? 'Ended' : labelStatus(batch.status)}: ${countsText(c)}`;
  $('batch-cancel').disabled = batch.status === 'ended' || batch.status === 'canceling';
  const results = $('batch-results');
  results.hidden = batch.status !== 'ended';
  if (batch.status === 'ended') downloadLink(results, `/batches/${batch.id}/results`, `${batch.id}-results.ndjson`, (err) => showMessage($('batch-error'), err.message));
}

const labelStatus = (s) => s.replace(/_/g, ' ').replace(/^./, (c) => c.toUpperCase());

/** Follows `batch` until it ends (or another batch is followed). */
async function follow(batch) {
  following?.abort();
  const controller = new AbortController();
  following = controller;
  showBatch(batch);
  if (batch.status === 'ended') return;
  try {
    const res = await request(`/batches/${batch.id}/events`, { headers: { Accept: 'text/event-stream' }, signal: controller.signal });
    for await (const { event, data } of sseEvents(res)) {
      if (event === 'error') throw new Error(data.message);
      showBatch({ ...batch, ...data });
      if (event === 'ended') break;
    }
    void refreshList();
  } catch (err) {
    if (!controller.signal.aborted) showMessage($('batch-error'), `Following the batch failed: ${err.message}`);
  } finally {
    controller.abort();
  }
}

async function submit(event) {
  event.preventDefault();
  const form = event.currentTarget;
  showMessage($('batch-error'), '');
  const file = $('batch-file').files[0];
  const pasted = $('batch-lines').value.trim();
  if (!file && !pasted) {
    showMessage($('batch-error'), 'Choose an NDJSON file or paste the lines first.');
    $('batch-file').focus();
    return;
  }
  const button = form.querySelector('button[type="submit"]');
  button.disabled = true;
  try {
    const res = await request('/batches', { method: 'POST', headers: { 'Content-Type': 'application/x-ndjson' }, body: file ?? `${pasted}\n` });
    const batch = await res.json();
    // Sent: the next batch starts from an empty form, never from this one's file.
    form.reset();
    void refreshList();
    void follow(batch);
  } catch (err) {
    const detail = err instanceof ApiError && err.details.length ? ` (${err.details.map((d) => `${d.field}: ${d.message}`).join('; ')})` : '';
    showMessage($('batch-error'), `${err.message}${detail}`);
  } finally {
    button.disabled = false;
  }
}

async function cancel() {
  const id = $('batch-id').textContent;
  try {
    const batch = await getJson(`/batches/${id}/cancel`, { method: 'POST' });
    showBatch(batch);
  } catch (err) {
    showMessage($('batch-error'), err.message);
  }
}

async function refreshList() {
  try {
    const list = await getJson('/batches?limit=20');
    listed = true;
    $('batch-rows').replaceChildren(
      ...list.data.map((b) => {
        const open = h('button', { type: 'button', className: 'link-button', 'aria-label': `Show batch ${b.id}` }, 'Show');
        open.addEventListener('click', () => void follow(b));
        return h('tr', {}, h('td', {}, h('code', {}, b.id)), h('td', {}, labelStatus(b.status)), h('td', {}, countsText(b.request_counts)), h('td', {}, formatDate(b.created_at)), h('td', {}, open));
      }),
    );
    if (list.data.length === 0) $('batch-rows').append(h('tr', {}, h('td', { colSpan: 5 }, 'No batches yet.')));
  } catch (err) {
    showMessage($('batch-error'), err.message);
  }
}

export function showBatches() {
  if (needsKey()) {
    $('batch-rows').replaceChildren(h('tr', {}, h('td', { colSpan: 5 }, 'Enter the API key to list the batches.')));
    return;
  }
  if (!listed) void refreshList();
}

export function resetBatches() {
  listed = false;
}

export function initBatches() {
  $('batch-form').addEventListener('submit', (e) => void submit(e));
  $('batch-cancel').addEventListener('click', () => void cancel());
  $('batch-refresh').addEventListener('click', () => void refreshList());
}
