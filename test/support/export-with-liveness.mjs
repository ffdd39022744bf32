// `node export-with-liveness.mjs <export url> <liveness url>`: a client in a process of its own that
// reads an export as fast as the socket delivers it and, from the export's first byte to its end,
// asks the liveness probe again and again, one request at a time. Prints one JSON line:
// {lines, bytes, seconds, answered, max_gap_ms}, where `answered` counts the probe answers that
// arrived while the export was still running.
import { Agent, get } from 'node:http';
import { performance } from 'node:perf_hooks';

const [exportUrl, liveUrl] = process.argv.slice(2);
const agent = new Agent({ keepAlive: true, maxSockets: 1 });

let exporting = true;
let bytes = 0;
let lines = 0;
const answers = [];

const probe = () =>
  new Promise((resolve, reject) => {
    get(liveUrl, { agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
      res.on('error', reject);
    }).on('error', reject);
  });

const started = performance.now();
let firstByte = started;
const exported = new Promise((resolve, reject) => {
  get(exportUrl, { headers: { 'accept-encoding': 'identity' } }, (res) => {
    firstByte = performance.now();
    void (async () => {
      while (exporting) {
        const status = await probe();
        if (exporting && status === 200) answers.push(performance.now());
      }
    })().catch(reject);
    res.on('data', (chunk) => {
      bytes += chunk.length;
      for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines += 1;
    });
    res.on('end', resolve);
    res.on('error', reject);
  }).on('error', reject);
});

await exported;
exporting = false;
const ended = performance.now();
const marks = [firstByte, ...answers, ended];
const maxGap = Math.max(...marks.slice(1).map((t, i) => t - marks[i]));
process.stdout.write(
  `${JSON.stringify({ lines, bytes, seconds: (ended - started) / 1000, answered: answers.length, max_gap_ms: Math.round(maxGap) })}\n`,
);
agent.destroy();
