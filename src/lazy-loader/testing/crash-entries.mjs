/** The one value ever written for (key, version): the version is inside, so a reader can rebuild it. */
export function entryFor(key, version) {
  const n = 20 + (version % 180);
  return [{ key, version }, ...Array.from({ length: n }, (_, i) => ({ i, text: `${key} v${version} item ${i} ${'✨'.repeat(i % 5)}` }))];
}
