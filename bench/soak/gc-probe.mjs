// Preloaded into the server under soak (`node --expose-gc --import <this file> dist/main.js`), never
// part of the service: over the IPC channel the soak runner opened, `{ probe: id }` forces a full
// garbage collection and answers with the heap that survived it, so "post-GC heap" is a measured
// figure of live objects, not a guess from a sawtooth. Without `--expose-gc` it answers an error.
import { performance } from 'node:perf_hooks';

process.on('message', (msg) => {
  if (!msg || typeof msg !== 'object') return;
  // `{ peek: id }`: the memory as it is, no collection (sampled every few seconds).
  if (typeof msg.peek === 'number') {
    const m = process.memoryUsage();
    process.send?.({ peek: msg.peek, rss: m.rss, heapTotal: m.heapTotal, heapUsed: m.heapUsed, external: m.external });
    return;
  }
  if (typeof msg.probe !== 'number') return;
  if (typeof globalThis.gc !== 'function') {
    process.send?.({ probe: msg.probe, error: 'the server was not started with --expose-gc' });
    return;
  }
  const before = process.memoryUsage();
  const started = performance.now();
  globalThis.gc();
  const gcMs = performance.now() - started;
  const after = process.memoryUsage();
  process.send?.({
    probe: msg.probe,
    gcMs,
    before: { rss: before.rss, heapUsed: before.heapUsed, heapTotal: before.heapTotal, external: before.external, arrayBuffers: before.arrayBuffers },
    after: { rss: after.rss, heapUsed: after.heapUsed, heapTotal: after.heapTotal, external: after.external, arrayBuffers: after.arrayBuffers },
  });
});
// The runner went away (crashed, killed): shut the server down as SIGTERM would, not leave it behind.
process.on('disconnect', () => process.kill(process.pid, 'SIGTERM'));
// The channel must not keep the process alive by itself once the server has closed.
process.channel?.unref();
