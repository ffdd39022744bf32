import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HistoryRepository } from '../src/history/history.repository.js';
import { HistoryService } from '../src/history/history.service.js';
import { appEnginesUnderTest, historyRow, openAppDatabase, type AppDatabase } from './support/history-databases.js';
import { createTestApp, type TestApp } from './support/test-app.js';

describe.each(appEnginesUnderTest('group commit specs'))(`${HistoryService.name}: group commit on %s (e2e)`, (engine) => {
  let db: AppDatabase;
  let t: TestApp;
  let sut: HistoryService;
  let repo: HistoryRepository;

  beforeAll(async () => {
    db = await openAppDatabase(engine);
    t = await createTestApp({ env: db.env });
    sut = t.app.get(HistoryService);
    repo = t.app.get(HistoryRepository);
  });
  afterAll(async () => {
    await t?.close();
    await db?.dispose();
  });

  it('writes the rows of N concurrent writers in one transaction, and answers each once its rows are stored', async () => {
    const before = repo.transactions;
    const writers = Array.from({ length: 40 }, (_, i) =>
      sut.record([historyRow(i, { user_id: `writer-${i}`, request_id: `gc-${i}` }), historyRow(i + 100, { user_id: `writer-${i}`, request_id: `gc-${i}` })]).then(async () =>
        repo.count({ userId: `writer-${i}` }),
      ),
    );
    // Each writer, once answered, finds its own two rows stored.
    expect(await Promise.all(writers)).toEqual(Array.from({ length: 40 }, () => 2));
    expect(repo.transactions - before).toBe(1);
    // A second round of writers after the first committed takes one more.
    await Promise.all(Array.from({ length: 10 }, (_, i) => sut.record([historyRow(200 + i)])));
    expect(repo.transactions - before).toBe(2);
  });

  it('fails only the writers whose rows fail; the others are stored', async () => {
    const bad = { ...historyRow(300, { user_id: 'gc-bad' }), caption: null as unknown as string };
    const results = await Promise.allSettled([
      sut.record([historyRow(301, { user_id: 'gc-good-1' })]),
      sut.record([historyRow(302, { user_id: 'gc-bad' }), bad]),
      sut.record([historyRow(303, { user_id: 'gc-good-2' })]),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(await repo.count({ userId: 'gc-good-1' })).toBe(1);
    expect(await repo.count({ userId: 'gc-good-2' })).toBe(1);
    // All or nothing per writer: the failing writer's good row is not stored either.
    expect(await repo.count({ userId: 'gc-bad' })).toBe(0);
    expect(await sut.count({ userId: 'gc-bad' })).toBe(0);
  });
});
