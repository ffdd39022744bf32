import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ChunkBoundaries } from '../src/history/history-chunks.js';
import type { KyselyHistoryRepository } from '../src/history/kysely-history.repository.js';
import { enginesUnderTest, historyRow } from './support/history-databases.js';

const ROWS = 1000;
const CHUNK = 10;

describe.each(enginesUnderTest('ChunkBoundaries specs'))(`${ChunkBoundaries.name} on $name`, (engine) => {
  let repo: KyselyHistoryRepository;
  let env: Awaited<ReturnType<typeof engine.open>>;
  // request ids newest first: req-999, req-998, …
  const expected = (index: number) => Array.from({ length: CHUNK }, (_, i) => `req-${ROWS - 1 - index * CHUNK - i}`);

  beforeAll(async () => {
    env = await engine.open();
    repo = env.repo;
    await repo.insertMany(Array.from({ length: ROWS }, (_, n) => historyRow(n)));
  });
  afterAll(async () => {
    await repo.close();
    await env.dispose();
  });

  it('reads any chunk by keyset, learning the boundaries on the way once', async () => {
    const sut = new ChunkBoundaries(repo, CHUNK);
    const source = sut.source('k1', {}, null);
    const seek = vi.spyOn(repo, 'seekKey');
    const chunk = await source.loadChunk(50, { chunkSize: CHUNK });
    expect(chunk.map((r) => r.request_id)).toEqual(expected(50));
    expect(seek).toHaveBeenCalledTimes(50);
    expect(sut.known('k1')).toBe(51); // the 50 hops, and the end of chunk 50 itself
    seek.mockClear();
    expect((await source.loadChunk(51, { chunkSize: CHUNK })).map((r) => r.request_id)).toEqual(expected(51));
    expect((await source.loadChunk(20, { chunkSize: CHUNK })).map((r) => r.request_id)).toEqual(expected(20));
    expect(seek).not.toHaveBeenCalled();
    seek.mockRestore();
  });

  it('finds a chunk near the end from the oldest row in one read when the total is known', async () => {
    const sut = new ChunkBoundaries(repo, CHUNK);
    const source = sut.source('k2', {}, ROWS);
    const seek = vi.spyOn(repo, 'seekKey');
    expect((await source.loadChunk(97, { chunkSize: CHUNK })).map((r) => r.request_id)).toEqual(expected(97));
    expect(seek).toHaveBeenCalledTimes(1);
    expect(await source.loadChunk(100, { chunkSize: CHUNK })).toEqual([]);
    expect(seek).toHaveBeenCalledTimes(1);
    seek.mockRestore();
  });

  it('returns an empty chunk past the end without a total', async () => {
    const sut = new ChunkBoundaries(repo, CHUNK);
    const source = sut.source('k3', { style: 'casual' }, null);
    const last = await source.loadChunk(49, { chunkSize: CHUNK });
    expect(last).toHaveLength(CHUNK);
    expect(last.at(-1)!.request_id).toBe('req-0');
    expect(await source.loadChunk(50, { chunkSize: CHUNK })).toEqual([]);
    expect(await source.loadChunk(70, { chunkSize: CHUNK })).toEqual([]);
  });
});
