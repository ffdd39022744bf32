// Caption studio: a form with every field of POST /stream-captions, built from the service's own
// OpenAPI document (so its options and limits are the server's, HASHTAG_LIMIT included), and the
// variations shown one card each as the NDJSON stream delivers them.
import { ApiError, getJson, ndjsonItems, needsKey, request } from './api.js';
import { h, labelOf, showMessage } from './dom.js';

const STREAM_PATH = '/stream-captions';
/** Fields in the order people fill them; any other field of the schema follows. */
const ORDER = ['content_description', 'style', 'audience', 'content_type', 'language', 'optimization_level', 'priority', 'hashtag_count', 'max_length', 'include_hashtags', 'include_emojis', 'include_cta', 'timezone', 'user_id', 'request_id', 'brand_info'];
/** The stream's count is its `variations` parameter; this body field only counts for POST /captions. */
const SKIPPED = new Set(['variation_count']);

const $ = (id) => document.getElementById(id);
let controller;
let built = false;

const idOf = (name) => `cf-${name.replace(/\./g, '-')}`;

/** The most characters a `^…{1,N}…$` pattern allows, for `maxlength`. */
function patternMax(schema) {
  const m = /\{1,(\d+)\}/.exec(schema.pattern ?? '');
  return m ? Number(m[1]) : undefined;
}

function hintOf(schema) {
  if (schema.enum) return undefined;
  if (schema.type === 'integer') return `${schema.minimum ?? ''}–${schema.maximum ?? ''}`;
  if (schema.type === 'array') return `comma-separated, up to ${schema.maxItems} of at most ${schema.items?.maxLength} characters`;
  if (schema.type === 'string') {
    const max = schema.maxLength ?? patternMax(schema);
    if (schema.minLength && max) return `${schema.minLength}–${max} characters`;
    if (max) return `up to ${max} characters`;
  }
  return undefined;
}

/** One labelled control for `name`, with its hint and a place for the server's error about it. */
function field(name, schema, required, label = labelOf(name.split('.').pop())) {
  const id = idOf(name);
  const hint = hintOf(schema);
  const described = [hint ? `${id}-hint` : undefined, `${id}-error`].filter(Boolean).join(' ');
  let control;
  if (schema.enum) {
    control = h('select', { id, name }, schema.enum.map((v) => h('option', { value: v, selected: v === schema.default }, labelOf(v))));
  } else if (schema.type === 'boolean') {
    control = h('input', { id, name, type: 'checkbox', checked: schema.default !== false });
  } else if (schema.type === 'integer') {
    control = h('input', { id, name, type: 'number', inputMode: 'numeric', step: 1, min: schema.minimum, max: schema.maximum, value: schema.default ?? '', required });
  } else if (name === 'content_description') {
    control = h('textarea', { id, name, rows: 4, minLength: schema.minLength, maxLength: schema.maxLength, required });
  } else {
    const max = schema.type === 'array' ? undefined : (schema.maxLength ?? patternMax(schema));
    control = h('input', { id, name, type: 'text', maxLength: max, value: schema.default ?? '', required, autocomplete: 'off' });
  }
  control.dataset.kind = schema.type === 'array' ? 'list' : (schema.type ?? 'string');
  control.setAttribute('aria-describedby', described);
  const box = h('div', { className: schema.type === 'boolean' ? 'field check' : 'field' });
  if (schema.type === 'boolean') box.append(control, h('label', { for: id }, label));
  else box.append(h('label', { for: id }, label, required ? h('span', { className: 'required', 'aria-hidden': 'true' }, ' *') : ''), control);
  if (hint) box.append(h('p', { id: `${id}-hint`, className: 'hint' }, hint));
  box.append(h('p', { id: `${id}-error`, className: 'field-error', hidden: true }));
  return box;
}

async function buildForm() {
  const doc = await getJson('/openapi.json');
  const schemas = doc.components.schemas;
  const body = schemas.CaptionGenerationRequest;
  const operation = Object.entries(doc.paths).find(([path]) => path.endsWith(STREAM_PATH))?.[1]?.post;
  const required = new Set(body.required ?? []);
  const names = [...ORDER.filter((n) => n in body.properties), ...Object.keys(body.properties).filter((n) => !ORDER.includes(n))].filter((n) => !SKIPPED.has(n));
  const form = $('caption-form');
  const request = h('fieldset', {}, h('legend', {}, 'Request'));
  for (const name of names) {
    const schema = body.properties[name];
    if (schema.$ref) {
      const nested = schemas[schema.$ref.split('/').pop()];
      const group = h('fieldset', { className: 'nested' }, h('legend', {}, labelOf(name)));
      for (const [sub, subSchema] of Object.entries(nested.properties)) group.append(field(`${name}.${sub}`, subSchema, false));
      request.append(group);
    } else {
      request.append(field(name, schema, required.has(name)));
    }
  }
  const stream = h('fieldset', {}, h('legend', {}, 'Stream'));
  for (const p of operation?.parameters ?? []) if (p.in === 'query') stream.append(field(p.name, p.schema, false));
  const actions = h(
    'div',
    { className: 'actions' },
    h('button', { type: 'submit', id: 'generate' }, 'Generate'),
    h('button', { type: 'button', id: 'stop', disabled: true }, 'Stop'),
  );
  $('caption-form-loading').remove();
  form.append(request, stream, actions);
  $('stop').addEventListener('click', () => controller?.abort());
  built = true;
}

/** The request body and the query, from the form: empty optional fields are left out. */
function readForm(form) {
  const body = {};
  const query = new URLSearchParams();
  for (const el of form.querySelectorAll('input, select, textarea')) {
    if (!el.name) continue;
    const isQuery = el.closest('fieldset')?.querySelector('legend')?.textContent === 'Stream';
    let value;
    if (el.type === 'checkbox') value = el.checked;
    else if (el.value.trim() === '') continue;
    else if (el.dataset.kind === 'integer') value = Number(el.value);
    else if (el.dataset.kind === 'list') value = el.value.split(',').map((s) => s.trim()).filter(Boolean);
    else value = el.value;
    if (isQuery) {
      query.set(el.name, String(value));
      continue;
    }
    const [top, sub] = el.name.split('.');
    if (sub) (body[top] ??= {})[sub] = value;
    else body[top] = value;
  }
  return { body, query };
}

function clearErrors(form) {
  for (const p of form.querySelectorAll('.field-error')) showMessage(p, '');
  for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
  showMessage($('form-error'), '');
}

/** Puts each of the error body's `details` next to the field it names; the rest above the cards. */
function showErrors(form, err) {
  const unplaced = [];
  let first;
  for (const d of err.details ?? []) {
    const control = document.getElementById(idOf(d.field ?? ''));
    const slot = document.getElementById(`${idOf(d.field ?? '')}-error`);
    if (control && slot) {
      showMessage(slot, d.message);
      control.setAttribute('aria-invalid', 'true');
      first ??= control;
    } else {
      unplaced.push(d.field ? `${d.field}: ${d.message}` : d.message);
    }
  }
  if (!first || unplaced.length > 0) showMessage($('form-error'), [err.message, ...unplaced].filter(Boolean).join(' — '));
  first?.focus();
}

function card(item) {
  const n = item.variation_index + 1;
  const text = item.hashtags?.length ? `${item.caption}\n\n${item.hashtags.join(' ')}` : item.caption;
  // The visible word changes ("Copied"); the hidden part keeps each button's name unique.
  const word = h('span', {}, 'Copy');
  const copy = h('button', { type: 'button', className: 'copy' }, word, h('span', { className: 'visually-hidden' }, ` variation ${n}`));
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(text);
      word.textContent = 'Copied';
    } catch {
      word.textContent = 'Copy failed';
    }
    setTimeout(() => (word.textContent = 'Copy'), 2000);
  });
  const scores = h(
    'dl',
    { className: 'scores' },
    h('dt', {}, 'Quality'), h('dd', {}, item.quality_score.toFixed(1)),
    item.engagement_prediction !== undefined ? [h('dt', {}, 'Engagement'), h('dd', {}, item.engagement_prediction.toFixed(2))] : [],
    item.readability_score !== undefined ? [h('dt', {}, 'Readability'), h('dd', {}, item.readability_score.toFixed(1))] : [],
    h('dt', {}, 'Arrived'), h('dd', {}, `${item.processing_time.toFixed(2)} s`),
  );
  return h(
    'li',
    { className: 'caption-card', 'data-index': item.variation_index },
    h('div', { className: 'card-head' }, h('h4', {}, `Variation ${n}`), copy),
    h('p', { className: 'caption-text' }, item.caption),
    item.hashtags?.length ? h('ul', { className: 'hashtags', 'aria-label': 'Hashtags' }, item.hashtags.map((t) => h('li', {}, t))) : '',
    scores,
    h('p', { className: 'engine' }, 'Written by ', h('code', {}, item.model_used ?? 'unknown engine')),
    item.fallback_reason ? h('p', { className: 'fallback' }, `Fallback: ${item.fallback_reason.code} — ${item.fallback_reason.message}`) : '',
  );
}

async function generate(event) {
  event.preventDefault();
  const form = event.currentTarget;
  clearErrors(form);
  const { body, query } = readForm(form);
  const cards = $('cards');
  const status = $('stream-status');
  cards.replaceChildren();
  controller = new AbortController();
  $('generate').disabled = true;
  $('stop').disabled = false;
  form.setAttribute('aria-busy', 'true');
  status.textContent = 'Generating…';
  const started = performance.now();
  let count = 0;
  try {
    const res = await request(`${STREAM_PATH}?${query}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/x-ndjson' },
      body: JSON.stringify(body),
      signal: controller.signal,
    });
    for await (const item of ndjsonItems(res)) {
      if ('error' in item && !('caption' in item)) {
        showMessage($('form-error'), `The stream failed: ${item.message}`);
        break;
      }
      cards.append(card(item));
      count += 1;
      status.textContent = `${count} variation${count === 1 ? '' : 's'} so far…`;
    }
    status.textContent = `${count} variation${count === 1 ? '' : 's'} in ${((performance.now() - started) / 1000).toFixed(2)} s`;
  } catch (err) {
    if (controller.signal.aborted) status.textContent = `Stopped after ${count} variation${count === 1 ? '' : 's'}`;
    else if (err instanceof ApiError) {
      status.textContent = '';
      showErrors(form, err);
    } else {
      status.textContent = '';
      showMessage($('form-error'), `The request failed: ${err.message}`);
    }
  } finally {
    $('generate').disabled = false;
    $('stop').disabled = true;
    form.removeAttribute('aria-busy');
  }
}

/** Builds the form once the document can be read (with the key, when keys are on). */
export async function showCaptions() {
  if (built) return;
  if (needsKey()) {
    $('caption-form-loading').textContent = 'Enter the API key to load the form.';
    return;
  }
  try {
    await buildForm();
  } catch (err) {
    $('caption-form-loading').textContent = err instanceof ApiError && err.status === 401 ? 'Enter the API key to load the form.' : `Could not load the form: ${err.message}`;
  }
}

export function initCaptions() {
  $('caption-form').addEventListener('submit', (e) => void generate(e));
}
