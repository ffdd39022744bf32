// The page's entry: the API key form, the view switcher (the URL's hash names the view), and the
// first request that tells whether the service wants a key.
import { apiKey, needsKey, onKeyChange, onUnauthorized, request, setApiKey } from './api.js';
import { initBatches, resetBatches, showBatches } from './batches.js';
import { initCaptions, showCaptions } from './captions.js';
import { initHistory, resetHistory, showHistory } from './history.js';
import { hideService, showService } from './service.js';

const VIEWS = {
  captions: showCaptions,
  history: showHistory,
  batches: showBatches,
  service: showService,
};

const $ = (id) => document.getElementById(id);

function currentView() {
  const name = location.hash.slice(1);
  return name in VIEWS ? name : 'captions';
}

function route() {
  const name = currentView();
  for (const view of Object.keys(VIEWS)) $(`view-${view}`).hidden = view !== name;
  for (const a of document.querySelectorAll('.tabs a')) {
    if (a.dataset.view === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (name !== 'service') hideService();
  document.title = `${document.querySelector(`.tabs a[data-view="${name}"]`).textContent} · Instagram Captions`;
  void VIEWS[name]();
}

function keyNeeded(needed) {
  $('key-needed').hidden = !needed;
  $('key-status').textContent = needed ? (apiKey() ? 'Key refused' : 'Key needed') : apiKey() ? 'Key in use' : '';
}

/** Asks a protected route: 401 means the service wants a key (or a better one). */
async function checkAccess() {
  if (needsKey()) {
    keyNeeded(true);
    return false;
  }
  try {
    await request('/stats', { headers: { Accept: 'application/json' } });
    keyNeeded(false);
    return true;
  } catch {
    // A 401 has already shown the prompt (onUnauthorized); other failures show in the views.
    return false;
  }
}

function init() {
  const input = $('api-key');
  input.value = apiKey();
  $('key-form').addEventListener('submit', (e) => {
    e.preventDefault();
    setApiKey(input.value.trim());
  });
  $('key-forget').addEventListener('click', () => {
    input.value = '';
    setApiKey('');
  });
  onUnauthorized(() => {
    keyNeeded(true);
    if (document.activeElement !== input) input.focus();
  });
  onKeyChange(async () => {
    resetHistory();
    resetBatches();
    if (await checkAccess()) route();
  });
  initCaptions();
  initHistory();
  initBatches();
  window.addEventListener('hashchange', route);
  void checkAccess().then(() => route());
}

init();
