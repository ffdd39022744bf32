/**
 * French typography: a narrow no-break space (U+202F) before `:`, `;`, `!` and `?`, as French
 * writers set it. Applied to every string of a bank, so its sentences can be written plainly.
 */
export function frenchSpacing<T>(value: T): T {
  if (typeof value === 'string') return value.replace(/ ([:;!?])/g, '\u202f$1') as T;
  if (Array.isArray(value)) return value.map((v: unknown) => frenchSpacing(v)) as T;
  if (value && typeof value === 'object' && !(value instanceof RegExp) && !(value instanceof Set) && typeof value !== 'function') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, frenchSpacing(v)])) as T;
  }
  return value;
}
