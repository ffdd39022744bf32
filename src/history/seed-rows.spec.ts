import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openHistoryDatabase } from './history-database.js';
import { HISTORY_INDEXES } from './history.migrations.js';
import { HISTORY_STYLES } from './history.types.js';
import { KyselyHistoryRepository } from './kysely-history.repository.js';
import { seedRows } from './seed-rows.js';

describe(seedRows.name, () => {
  const dir = mkdtempSync(join(tmpdir(), 'history-seed-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const plan = { rows: 5000, users: 50, days: 10, endMs: Date.UTC(2026, 10, 24) };

  it('makes plausible rows, oldest first, spread over the days asked, deterministic for a seed', () => {
    const sut = seedRows(plan, 0, 5000);
    expect(sut).toHaveLength(5000);
    expect(seedRows(plan, 100, 3)).toEqual(seedRows(plan, 100, 3));
    const times = sut.map((r) => r.created_at!.getTime());
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    expect(times[0]).toBeGreaterThanOrEqual(plan.endMs - 10 * 86_400_000);
    expect(times.at(-1)).toBeLessThanOrEqual(plan.endMs);
    expect(new Set(sut.map((r) => r.user_id)).size).toBe(50);
    expect(new Set(sut.map((r) => r.style))).toEqual(new Set(HISTORY_STYLES));
    for (const r of sut) {
      expect(r.hashtags.length).toBeGreaterThanOrEqual(3);
      expect(new Set(r.hashtags).size).toBe(r.hashtags.length);
      expect(r.hashtags.every((h) => h.startsWith('#'))).toBe(true);
      expect(r.quality_score).toBeGreaterThanOrEqual(55);
      expect(r.quality_score).toBeLessThanOrEqual(99);
      expect(r.engagement_score).toBeGreaterThan(0);
      expect(r.engagement_score).toBeLessThanOrEqual(1);
      expect(r.caption.length).toBeGreaterThan(5);
    }
    expect(seedRows(plan, 4990, 100)).toHaveLength(10);
  });

  it('bulk loads into an empty table and leaves every index in place', async () => {
    const file = join(dir, 'h.sqlite');
    const repo = new KyselyHistoryRepository(openHistoryDatabase(`sqlite:${file}`));
    await repo.migrate();
    await repo.bulkLoad(async () => {
      for (let done = 0; done < plan.rows; done += 2000) await repo.insertMany(seedRows(plan, done, 2000));
    });
    expect(await repo.count({})).toBe(5000);
    expect(await repo.count({ userId: 'user_7', style: 'casual' })).toBeGreaterThan(0);
    await repo.close();
    const db = new Database(file, { readonly: true });
    const names = db.prepare("select name from sqlite_master where type = 'index' and tbl_name = 'caption_history'").pluck().all();
    db.close();
    expect(names).toEqual(expect.arrayContaining(HISTORY_INDEXES.map(([n]) => n)));
  });
});
