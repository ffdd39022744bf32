import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API, figure, timed, until, Watcher, type Outcome } from '../support/chaos.js';
import { Cluster } from '../support/cluster.js';
import { OwnPostgresServer } from '../support/postgres-server.js';

/** How long the database stays down. */
const OUTAGE_MS = 10_000;
/** A request unanswered after this is a hang (every answer here, failure or not, should take well under a second). */
const HANG_MS = 5_000;
const USER = 'chaos-pg';
const VARIATIONS = 2;

interface Sent extends Outcome {
  requestId: string;
}

/** Sends caption requests one after another until stopped, each with a request id of its own. */
class CaptionLoad {
  readonly sent: Sent[] = [];
  private stopped = false;
  private n = 0;
  private readonly loop: Promise<void>;

  constructor(private readonly base: string, private readonly tag: string) {
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    while (!this.stopped) await this.one();
  }

  /** One request; its outcome is kept. */
  async one(): Promise<Sent> {
    const requestId = `${this.tag}-${++this.n}`;
    // A description of its own each time: an identical request could be answered from the cache.
    const body = { content_description: `a quiet beach at dawn, scene ${requestId}`, user_id: USER, request_id: requestId, variation_count: VARIATIONS };
    const outcome = { ...(await timed(`${this.base}${API}/captions`, { method: 'POST', body }, HANG_MS)), requestId };
    this.sent.push(outcome);
    return outcome;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }
}

describe('PostgreSQL down for 10 s', () => {
  const postgres = new OwnPostgresServer();
  let cluster: Cluster;
  let base: string;

  beforeAll(async () => {
    await postgres.start();
    cluster = await Cluster.start({ replicas: 1, databaseUrl: postgres.url, env: { RATE_LIMIT_MAX: '1000000' }, output: process.env.CHAOS_OUTPUT ? 'inherit' : 'ignore' });
    base = cluster.replicas[0]!.url;
  });
  afterAll(async () => {
    await cluster?.close();
    await postgres.close();
  });

  it('turns unready within 2 s, answers 503 (never 500, never a hang), stays alive, and recovers within 5 s without losing an acknowledged row', async () => {
    const child = cluster.replicas[0]!.child!;
    const readiness = new Watcher(`${base}${API}/health/ready`);
    const liveness = new Watcher(`${base}${API}/health/live`);
    const history = new Watcher(`${base}${API}/caption-history?page=1&page_size=5&user_id=${USER}`, 50, HANG_MS);
    const load = new CaptionLoad(base, 'pg');
    await until('captions acknowledged before the outage', () => load.sent.filter((s) => s.status === 200).length >= 5, 30_000);

    await postgres.stop();
    const downAt = Date.now();
    await until('an outage of 10 s', () => Date.now() - downAt >= OUTAGE_MS, OUTAGE_MS + 1_000);
    await postgres.start();
    const upAt = Date.now();
    const recovered = await until('readiness 200 again', () => readiness.outcomes.some((o) => o.sentAt >= upAt && o.status === 200), 15_000);
    // Captions acknowledged after the outage, past the first ready answer.
    const sinceReady = load.sent.length;
    await until('captions acknowledged after the outage', () => load.sent.slice(sinceReady).filter((s) => s.status === 200).length >= 5, 30_000);
    await Promise.all([load.stop(), readiness.stop(), liveness.stop(), history.stop()]);

    // Readiness: 503 within 2 s of the stop, 200 again within 5 s of the start.
    const firstUnready = readiness.firstAfter(downAt - 1, (s) => s === 503);
    expect(firstUnready, 'readiness never turned 503').toBeDefined();
    const unreadyAfterMs = firstUnready!.sentAt + firstUnready!.ms - downAt;
    const firstCaptionOk = load.sent.find((s) => s.sentAt >= upAt && s.status === 200)!;
    figure('postgres: readiness 503 after stop (ms)', unreadyAfterMs);
    figure('postgres: readiness 200 after start (ms)', recovered);
    figure('postgres: first caption 200 after start (ms)', firstCaptionOk.sentAt + firstCaptionOk.ms - upAt);
    expect(unreadyAfterMs).toBeLessThanOrEqual(2_000);
    expect(recovered).toBeLessThanOrEqual(5_000);
    expect(firstCaptionOk.sentAt + firstCaptionOk.ms - upAt).toBeLessThanOrEqual(5_000);
    const unready = readiness.outcomes.filter((o) => o.sentAt >= downAt && o.sentAt < upAt && o.status === 503);
    expect(unready[0]!.body).toMatchObject({ error: 'unhealthy', details: [{ field: 'database', message: 'database unreachable' }] });

    // Liveness never failed; the process never exited.
    figure('postgres: liveness answers (all 200)', liveness.outcomes.length);
    expect(liveness.outcomes.filter((o) => o.status !== 200)).toEqual([]);
    expect(child.exitCode).toBeNull();
    expect(cluster.replicas[0]!.child).toBe(child);

    // Every request was answered in time, 200 or 503 with the error body: never a 500, never a hang.
    const during = load.sent.filter((s) => s.sentAt >= downAt && s.sentAt < upAt);
    const reads = history.outcomes.filter((o) => o.sentAt >= downAt && o.sentAt < upAt);
    const all = [...load.sent, ...history.outcomes];
    const statuses = (list: Outcome[]) => list.reduce<Record<number, number>>((acc, o) => ({ ...acc, [o.status]: (acc[o.status] ?? 0) + 1 }), {});
    figure('postgres: caption writes during the outage by status', statuses(during));
    figure('postgres: history reads during the outage by status', statuses(reads));
    // A 200 "during" the outage can only be a request sent in its last moments, whose retried load
    // met the server already taking connections before `pg_ctl start` returned.
    figure('postgres: caption 200s of the outage window, sent this long before the start returned (ms)', during.filter((s) => s.status === 200).map((s) => upAt - s.sentAt));
    figure('postgres: slowest answer of any request (ms)', Math.max(...all.map((o) => o.ms)));
    expect(all.filter((o) => o.status !== 200 && o.status !== 503)).toEqual([]);
    expect(during.filter((s) => s.status === 503).length).toBeGreaterThan(0);
    for (const o of all.filter((x) => x.status === 503)) {
      expect(o.body).toMatchObject({ error: 'unhealthy', message: expect.any(String), request_id: expect.any(String), timestamp: expect.any(Number) });
    }

    // No acknowledged row lost; a refused request left either all its rows or none.
    const exported = await timed(`${base}${API}/caption-history/export?format=json&user_id=${USER}`);
    expect(exported.status).toBe(200);
    const rows = new Map<string, number>();
    for (const row of exported.body as Array<{ request_id: string }>) rows.set(row.request_id, (rows.get(row.request_id) ?? 0) + 1);
    const acknowledged = load.sent.filter((s) => s.status === 200);
    figure('postgres: captions acknowledged / refused', `${acknowledged.length} / ${load.sent.length - acknowledged.length}`);
    expect(acknowledged.filter((s) => rows.get(s.requestId) !== VARIATIONS).map((s) => s.requestId)).toEqual([]);
    const halfWritten = load.sent.filter((s) => s.status !== 200 && ![undefined, VARIATIONS].includes(rows.get(s.requestId)));
    expect(halfWritten.map((s) => s.requestId)).toEqual([]);
  });
});
