import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster } from './support/cluster.js';
import { TEST_DATABASE_URL, uniqueSchema } from './support/cluster-env.js';
import { deleteRedisKeys, TEST_REDIS_URL, uniqueRedisPrefix } from './support/redis-server.js';

const API = '/api/v14/lazy';

describe('The local cluster harness', () => {
  const prefix = uniqueRedisPrefix('cluster');
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await Cluster.start({
      replicas: 2,
      databaseUrl: TEST_DATABASE_URL,
      schema: uniqueSchema('cluster'),
      redisUrl: TEST_REDIS_URL,
      env: { REDIS_KEY_PREFIX: prefix, SHUTDOWN_DELAY_MS: '2000' },
      // The real server plus a test route that streams forever (GET /shutdown-test/stream).
      entry: 'test/support/shutdown-server.ts',
    });
  });
  afterAll(async () => {
    await cluster?.close();
    await deleteRedisKeys(prefix);
  });

  const servedBy = async (n: number) => {
    const seen: string[] = [];
    for (let i = 0; i < n; i++) {
      const res = await fetch(`${cluster.url}${API}/health/live`);
      expect(res.status).toBe(200);
      seen.push(res.headers.get('x-cluster-replica')!);
    }
    return seen;
  };

  it('spreads requests round robin, skips a replica killed with SIGKILL, and takes it back once restarted', async () => {
    expect(await servedBy(4)).toEqual(['0', '1', '0', '1']);

    await cluster.kill(1);
    expect(new Set(await servedBy(4))).toEqual(new Set(['0']));

    await cluster.restart(1);
    expect(new Set(await servedBy(4))).toEqual(new Set(['0', '1']));
  });

  it('shares one database: a caption drafted through one replica is in the history read through the other', async () => {
    const user = `cluster-${Date.now()}`;
    const post = await fetch(`${cluster.url}${API}/captions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ content_description: 'a red bicycle', user_id: user, variation_count: 2 }),
    });
    expect(post.status).toBe(200);
    const other = cluster.replicas[(Number(post.headers.get('x-cluster-replica')) + 1) % 2]!;
    await expect
      .poll(async () => ((await (await fetch(`${other.url}${API}/caption-history?user_id=${user}`)).json()) as { data: unknown[] }).data.length)
      .toBe(2);
  });

  it('passes a stream through as it comes: items of a response that never ends reach the client', async () => {
    const res = await fetch(`${cluster.url}${API}/shutdown-test/stream`, { headers: { accept: 'application/x-ndjson' } });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    let text = '';
    while (text.split('\n').length < 4) {
      const { value, done } = await reader.read();
      expect(done).toBe(false);
      text += new TextDecoder().decode(value);
    }
    expect(text.split('\n').slice(0, 3).map((line) => JSON.parse(line) as unknown)).toEqual([{ n: 0 }, { n: 1 }, { n: 2 }]);
    await reader.cancel();
  });

  // Last: it leaves replica 0 stopped.
  it('skips a replica whose readiness answers 503 (shutting down) while it still runs', async () => {
    const stopped = cluster.stop(0);
    await expect.poll(async () => (await fetch(`${cluster.replicas[0]!.url}${API}/health/ready`)).status).toBe(503);
    await expect.poll(async () => new Set(await servedBy(4))).toEqual(new Set(['1']));
    await stopped;
  });
});
