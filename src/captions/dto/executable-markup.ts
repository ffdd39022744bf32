/** `<script` or `<iframe` (white space allowed after `<`), or a `javascript:` URL (white space allowed before `:`). */
const TAG_OR_URL = /<\s*(?:script|iframe)|javascript\s*:/i;
/** An `on…=` event handler attribute: white space, `on`, letters, optional white space, `=`. */
const HANDLER = /\son[a-z]+\s*=/i;
const OPEN = '<';
const CLOSE = '>';

/**
 * True when `text` holds markup a browser could run if it were shown unescaped: a `<script` or
 * `<iframe` tag, a `javascript:` URL, or an `on…=` event handler inside a tag (after a `<` that no
 * `>` has closed yet, as in `<img src=x onerror=alert(1)>`). Letters match in any case.
 *
 * Linear in the length of `text`, whatever it holds. A single pattern for the handler rule
 * (`<[^>]*\son[a-z]+\s*=`) retries from every `<` to the next `>`, which is quadratic on a long
 * run of `<`: instead, each stretch from the first unclosed `<` to the `>` that closes it is
 * searched once for a handler, so every character is looked at a bounded number of times.
 */
export function hasExecutableMarkup(text: string): boolean {
  if (TAG_OR_URL.test(text)) return true;
  let open = text.indexOf(OPEN);
  while (open !== -1) {
    const close = text.indexOf(CLOSE, open + 1);
    // Any later `<` before `close` opens a stretch inside this one: searching this one covers it.
    if (HANDLER.test(text.slice(open + 1, close === -1 ? undefined : close))) return true;
    if (close === -1) return false;
    open = text.indexOf(OPEN, close + 1);
  }
  return false;
}

/** `text` with each ASCII letter as a class of both cases (JSON Schema patterns take no flags). */
const caseless = (text: string) => text.replace(/[a-z]/g, (c) => `[${c}${c.toUpperCase()}]`);

/**
 * {@link hasExecutableMarkup} as one JSON Schema pattern, for the document (`not: {pattern}`): a
 * client validator may take its quadratic worst case; the server keeps the linear search.
 */
export const EXECUTABLE_MARKUP_PATTERN =
  `<\\s*(?:${caseless('script')}|${caseless('iframe')})|${caseless('javascript')}\\s*:|<[^>]*\\s${caseless('on')}[a-zA-Z]+\\s*=`;
