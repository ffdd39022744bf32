// Child process of the kill -9 spec: writes disk-tier entries as fast as it can until killed.
// argv: <compiled disk-tier.js> <cache dir> <seed>
import { pathToFileURL } from 'node:url';

const [, , tierModule, dir, seed] = process.argv;
const { DiskTier } = await import(pathToFileURL(tierModule).href);
const { packItems } = await import(new URL('../compression.js', pathToFileURL(tierModule)).href);
const { entryFor } = await import(new URL('./crash-entries.mjs', import.meta.url).href);

const tier = new DiskTier({ dir, maxBytes: 2 * 1024 * 1024, maxEntries: 40, ttlMs: 3_600_000, compression: 'gzip', compressionThreshold: 512 });
let version = Number(seed) * 1_000_000;
let announced = false;
for (;;) {
  const batch = [];
  for (let i = 0; i < 8; i++) {
    version++;
    const key = `crash:${version % 50}`;
    const packed = packItems(entryFor(key, version));
    batch.push(tier.set(key, packed, packed.length));
  }
  await Promise.all(batch);
  if (!announced) {
    announced = true;
    process.stdout.write('writing\n');
  }
}
