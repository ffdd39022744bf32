import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hasExecutableMarkup } from './executable-markup.js';

/** The rule as one pattern: right on short text, quadratic on long runs of `<`. */
const ONE_PATTERN = /<\s*script|<\s*iframe|javascript\s*:|<[^>]*\son[a-z]+\s*=/i;

describe(hasExecutableMarkup.name, () => {
  it.each([
    'Hello <script>alert(1)</script>',
    '< SCRIPT src=x>',
    '<\tiframe src=//x>',
    'click javascript :alert(1)',
    'JavaScript:void(0)',
    '<img src=x onerror=alert(1)>',
    '<img src=x\nONLOAD = alert(1)>',
    '<< <a onclick=x',
    '< onload=x',
  ])('rejects %j', (text) => {
    expect(hasExecutableMarkup(text)).toBe(true);
  });

  it.each([
    'Sunset at the beach, 5 < 6 and 7 > 3',
    'a > b onclick=x',
    '<b>bold</b> onclick=x',
    'a scripted manuscript',
    'java script: a talk',
    '<a on=x>',
    '<a on1=x>',
    '<a xonclick=x>',
    'Emoji 🌅 and <3',
  ])('accepts %j', (text) => {
    expect(hasExecutableMarkup(text)).toBe(false);
  });

  it('agrees with the single-pattern rule on any text made of the characters that matter', () => {
    const pieces = ['<', '>', ' ', '\t', '\n', '=', ':', 'on', 'o', 'n', 'click', 'LOAD', 'script', 'iframe', 'javascript', 'java', 'x', '1', '"'];
    const text = fc.array(fc.constantFrom(...pieces), { maxLength: 40 }).map((p) => p.join(''));
    fc.assert(
      fc.property(fc.oneof(text, fc.string({ maxLength: 40 })), (s) => hasExecutableMarkup(s) === ONE_PATTERN.test(s)),
      { numRuns: 20_000 },
    );
  });
});
