// Small DOM helpers: elements are built with properties and text, never from HTML strings, so
// nothing the service returns is ever parsed as markup.

/** `h('p', { className: 'x' }, 'text', child)`: an element with properties and children. */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('aria-') || key.startsWith('data-') || key === 'for' || key === 'role') el.setAttribute(key, value === true ? '' : String(value));
    else el[key] = value;
  }
  for (const child of children.flat()) if (child !== undefined && child !== null && child !== false) el.append(child);
  return el;
}

/** Shows `message` in `el` (a hidden alert paragraph), or hides it when empty. */
export function showMessage(el, message) {
  el.textContent = message ?? '';
  el.hidden = !message;
}

/** A field name as people read it: `content_description` → `Content description`. */
export function labelOf(name) {
  const text = name.replace(/_/g, ' ');
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export function formatDate(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toISOString().replace('T', ' ').slice(0, 19);
}

export const numberFormat = new Intl.NumberFormat('en');
